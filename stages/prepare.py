"""`recsys prepare`: raw data -> data/prepared/<dataset>/ (validated Parquet splits, fixed candidates)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich import print as rprint
from rich.console import Console

from recsys import layout
from recsys.config import DUCKDB_MEMORY_LIMIT, DataParams, DatasetSpec, dataset_spec, describe
from stages.common import ParamsOption, SetOption, help_with_params, read_sections, reports_bad_input

HELP = help_with_params(
    "Read the dataset named by data.dataset and write items/train/val/test Parquet files and "
    "stats.json to data/prepared/<dataset>/.",
    describe(DataParams, "data"),
    describe(DatasetSpec, "datasets.<name>"),
)


@reports_bad_input
def command(
    params_file: Path = ParamsOption,
    overrides: list[str] = SetOption,
    out: Optional[Path] = typer.Option(None, help="output directory [default: data/prepared/<dataset>]"),
    memory_limit: str = typer.Option(
        DUCKDB_MEMORY_LIMIT, envvar="RECSYS_MEMORY_LIMIT",
        help="DuckDB's memory cap (e.g. 500MB, 4GB); beyond it, work spills to a scratch directory beside the "
        "output. A resource setting, not a param: it never changes the output",
    ),
) -> None:
    from recsys.data.prepare import prepare
    from recsys.inputs import with_data_root
    from recsys.io import atomic_dir

    data, params = read_sections(params_file, overrides, "data")
    spec = with_data_root(dataset_spec(params, data, str(params_file)))
    out = out or layout.prepared(data.dataset)
    with Console(stderr=True).status(f"prepare {data.dataset}") as status, atomic_dir(out) as tmp:
        stats = prepare(data, spec, tmp, memory_limit, step=lambda what: status.update(f"prepare {data.dataset}: {what}"))
    for note in stats.notes:
        typer.echo(f"note: {note}", err=True)
    rprint(
        f"[green]prepared[/green] {data.dataset} -> {out}: {stats.users} users, {stats.items} items, "
        f"{stats.interactions} interactions; examples {stats.examples}"
    )
