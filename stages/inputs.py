"""`recsys inputs`: link the files from outside the repository that prepare, pretrain and fetch-model read into
inputs/."""

from __future__ import annotations

from pathlib import Path

from rich import print as rprint

from recsys import layout
from recsys.config import DatasetSpec, LLMParams, dataset_spec, describe
from stages.common import ParamsOption, SetOption, help_with_params, read_sections, reports_bad_input

HELP = help_with_params(
    "Link every file the chosen data set, language model and SR model are read from (the packaged ML-100K, GGUF "
    "or MoRec text encoder, the authors' split files, a local folder) into inputs/<dataset>/, inputs/llm/<name>/ "
    "and inputs/sr/<model>/, one link a file, so that DVC sees when one of them changes.",
    describe(DatasetSpec, "datasets.<name>"),
    describe(LLMParams, "llm"),
)


@reports_bad_input
def command(params_file: Path = ParamsOption, overrides: list[str] = SetOption) -> None:
    from recsys.inputs import dataset_files, link_files, llm_files, sr_files, with_data_root

    data, llm, sr, params = read_sections(params_file, overrides, "data", "llm", "sr")
    spec = with_data_root(dataset_spec(params, data, str(params_file)))
    for files, folder, what in ((dataset_files(spec, data.dataset), layout.raw_inputs(data.dataset),
                                 f"datasets.{data.dataset}"),
                                (llm_files(llm), layout.llm_inputs(llm.name), "llm"),
                                (sr_files(sr.model), layout.sr_inputs(sr.model), "sr.model")):
        link_files(files, folder, what)
        rprint(f"[green]linked[/green] {len(files)} files -> {folder}")
