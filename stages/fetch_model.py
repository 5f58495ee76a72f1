"""`recsys fetch-model`: the base LM as a plain Hugging Face folder under models/base/<name>/."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich import print as rprint

from recsys import layout
from recsys.config import LLMParams, describe
from stages.common import ParamsOption, SetOption, help_with_params, read_sections, reports_bad_input

HELP = help_with_params(
    "Convert the packaged SmolLM2 GGUF (or copy a local Hugging Face folder) into "
    "models/base/<name>/, adding the [PH] and [EMB] item tokens.",
    describe(LLMParams, "llm"),
)


@reports_bad_input
def command(
    params_file: Path = ParamsOption,
    overrides: list[str] = SetOption,
    out: Optional[Path] = typer.Option(None, help="output directory [default: models/base/<name>]"),
) -> None:
    from recsys.io import atomic_dir
    from recsys.llm.base_model import fetch_model

    params, _ = read_sections(params_file, overrides, "llm")
    out = out or layout.base_model(params.name)
    with atomic_dir(out) as tmp:
        info = fetch_model(params, tmp)
    rprint(f"[green]base model[/green] {info['source']} -> {out}: {info['architecture']}, "
           f"{info['parameters']:,} parameters, vocabulary {info['vocab_size']}")
