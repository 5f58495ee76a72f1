"""`recsys pretrain`: train the SR backbone, score the stored candidates, export item embeddings."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich import print as rprint

from recsys import layout
from recsys.config import SRParams, describe
from stages.common import ParamsOption, SetOption, help_with_params, read_sections, reports_bad_input

HELP = help_with_params(
    "Train SASRec, GRU4Rec, Caser or MoRec (SASRec over a learned projection of frozen MiniLM "
    "embeddings of items.parquet's titles) on data/prepared/<dataset>/train.parquet (early stopping on "
    "validation HR@1 over the stored candidates) and write the model, its item embedding table, "
    "metrics against popularity, candidate scores and the training curve to "
    "models/sr/<dataset>/<model>/.",
    describe(SRParams, "sr"),
    "data.dataset: chooses the prepared data (see `recsys prepare --help`)",
)


@reports_bad_input
def command(
    params_file: Path = ParamsOption,
    overrides: list[str] = SetOption,
    out: Optional[Path] = typer.Option(None, help="output directory [default: models/sr/<dataset>/<model>]"),
) -> None:
    from recsys.io import atomic_dir
    from recsys.sr.trainer import pretrain

    data, sr, _ = read_sections(params_file, overrides, "data", "sr")
    out = out or layout.sr_model(data.dataset, sr.model)
    with atomic_dir(out) as tmp:
        metrics = pretrain(sr, layout.prepared(data.dataset), tmp)
    shown = {k: round(v, 4) for k, v in metrics.items() if k.endswith("test.hr@1")}
    rprint(f"[green]pretrained[/green] {sr.model} -> {out}: {shown}")
