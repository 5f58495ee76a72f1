"""`recsys recommend`: the SR model retrieves, a fine-tuned LLaRA re-ranks; not a DVC stage."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from recsys import layout
from stages.common import ParamsOption, SetOption, read_sections, reports_bad_input


@reports_bad_input
def command(
    params_file: Path = ParamsOption,
    overrides: list[str] = SetOption,
    model: Optional[Path] = typer.Option(None, help="fine-tuned model folder [default: models/llara/<dataset>/<sr-model>]"),
    history: list[str] = typer.Option(..., "--history", help="a title the user chose, oldest first (repeatable)"),
    candidate: Optional[list[str]] = typer.Option(None, "--candidate", help="a candidate title (repeatable); "
                                                  "none: the SR model's top K among the items outside the history"),
    k: Optional[int] = typer.Option(None, help="candidates to retrieve (or sample) when none are given "
                                    "[default: data.n_candidates]"),
    sample: bool = typer.Option(False, "--sample", help="draw the K candidates at random outside the history, as "
                                "evaluation does, instead of retrieving them"),
    seed: int = typer.Option(0, help="seed for the candidates' order (and the draw with --sample)"),
) -> None:
    """Recommend for a history of titles: the SR model's top K from the whole catalogue, re-ranked by LLaRA; prints
    the titles matched, how the candidates were chosen and their scores."""
    from recsys.eval.recommend import rank_candidates, read_request

    data, sr, _ = read_sections(params_file, overrides, "data", "sr")
    request = read_request(model or layout.llara(data.dataset, sr.model), history, candidate, k or data.n_candidates,
                           seed, sample)
    for line in request.matches():
        typer.echo(line)
    typer.echo(f"candidates: {request.chosen}")
    for warning in request.warnings():
        typer.echo(f"warning: {warning}", err=True)
    what, ranked = rank_candidates(request)
    table = Table("rank", "item_id", "title", what)
    for rank, (item, title, score) in enumerate(ranked, 1):
        table.add_row(str(rank), str(item), title, f"{score:.4f}")
    Console().print(table)
