"""`recsys materialize`: prepared splits -> data/prompts/<dataset>/<llm>/<split>/<variant>/shard-*.arrow."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich import print as rprint

from recsys import layout
from recsys.config import PromptParams, dataset_spec, describe
from stages.common import ParamsOption, SetOption, help_with_params, read_sections, reports_bad_input

HELP = help_with_params(
    "Render the prompt variants (text, hybrid, behaviour, id, text-user) for train/val/test, tokenise them with the base "
    "model's tokenizer and write Arrow shards to data/prompts/<dataset>/<llm>/.",
    describe(PromptParams, "prompts"),
    "data.dataset, datasets.<name>.domain, llm.name, sr.model: as in `recsys prepare --help`, `recsys fetch-model "
    "--help` and `recsys pretrain --help` (candidate_order sr reads models/sr/<dataset>/<sr-model>)",
)


@reports_bad_input
def command(
    params_file: Path = ParamsOption,
    overrides: list[str] = SetOption,
    out: Optional[Path] = typer.Option(None, help="output directory [default: data/prompts/<dataset>/<llm>]"),
) -> None:
    from recsys.io import atomic_dir
    from recsys.prompts.materialize import materialize

    data, llm, prompts, sr, params = read_sections(params_file, overrides, "data", "llm", "prompts", "sr")
    domain = dataset_spec(params, data, str(params_file)).domain
    out = out or layout.prompts(data.dataset, llm.name)
    with atomic_dir(out) as tmp:
        manifest = materialize(layout.prepared(data.dataset), layout.base_model(llm.name), domain, prompts, tmp,
                               layout.sr_model(data.dataset, sr.model) if prompts.candidate_order == "sr" else None)
    rprint(f"[green]materialized[/green] -> {out}: " + ", ".join(
        f"{s} {m['examples']} examples ({m['variants']['hybrid']['mean_tokens']} tokens per hybrid prompt on average)"
        for s, m in manifest.splits.items()))
