"""`recsys recommend`: the SR model retrieves, a fine-tuned LLaRA re-ranks; not a DVC stage."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from recsys import layout
from recsys.errors import InputError
from stages.common import ParamsOption, SetOption, read_sections, reports_bad_input


HELP = (
    "Recommend for a history of titles: the SR model's top K from the whole catalogue, re-ranked by LLaRA; prints "
    "the titles matched, how the candidates were chosen and their scores.\n\n"
    "With --from-file PATH --out OUT.parquet: every history of a file, the models loaded once. Each row has a "
    "user_id and either titles (a list; in CSV a |-separated string) or item_ids (a list of 0-based item ids; in "
    "CSV |-separated). Each history gets the SR model's top K outside it, re-ranked by the one-pass read-out; OUT "
    "gets one row per (user, candidate): user_id (as text), rank (1..K), item_id, title, score.\n\n"
    "A missing or unreadable file or a missing column is refused before any model loads. A bad row (an unknown "
    "title, an item id outside the catalogue, an empty history, no user_id) is skipped with a warning naming the "
    "file and its 1-based line (in a Parquet file, its row), then a count; when every row is bad, nothing is "
    "written and the exit status is 2."
)


@reports_bad_input
def command(
    params_file: Path = ParamsOption,
    overrides: list[str] = SetOption,
    model: Optional[Path] = typer.Option(None, help="fine-tuned model folder [default: models/llara/<dataset>/<sr-model>]"),
    history: Optional[list[str]] = typer.Option(None, "--history", help="a title the user chose, oldest first "
                                                "(repeatable)"),
    from_file: Optional[Path] = typer.Option(None, "--from-file", help="histories to recommend for, one a row: "
                                             ".jsonl, .csv or .parquet (see above)"),
    out: Optional[Path] = typer.Option(None, "--out", help="with --from-file: the ranking's Parquet file"),
    candidate: Optional[list[str]] = typer.Option(None, "--candidate", help="a candidate title (repeatable); "
                                                  "none: the SR model's top K among the items outside the history"),
    k: Optional[int] = typer.Option(None, help="candidates to retrieve (or sample) when none are given "
                                    "[default: data.n_candidates]"),
    sample: bool = typer.Option(False, "--sample", help="draw the K candidates at random outside the history, as "
                                "evaluation does, instead of retrieving them"),
    seed: int = typer.Option(0, help="seed for the candidates' order (and the draw with --sample)"),
    batch_size: int = typer.Option(16, "--batch-size", help="with --from-file: prompts scored per forward pass"),
) -> None:
    """Recommend for one typed history, or for every history of a file (HELP: the command's help text)."""
    data, sr, _ = read_sections(params_file, overrides, "data", "sr")
    model_dir = model or layout.llara(data.dataset, sr.model)
    if bool(history) == (from_file is not None):
        raise InputError("--history/--from-file", "give exactly one: titles typed, or a file of histories")
    if from_file is None:
        if out is not None:
            raise InputError("--out", "writes --from-file's ranking; with --history it is printed")
        _recommend_one(model_dir, history, candidate, k or data.n_candidates, seed, sample)
        return
    if out is None or candidate or sample:
        raise InputError("--from-file", "needs --out OUT.parquet and takes no --candidate or --sample (each "
                         "history's candidates are the SR model's top K)")
    _recommend_file(model_dir, from_file, out, k or data.n_candidates, seed, batch_size)


command.__doc__ = HELP  # stages/cli.py registers this command with its docstring as the help


def _recommend_one(model_dir: Path, history: list[str], candidate: Optional[list[str]], k: int, seed: int,
                   sample: bool) -> None:
    """One typed history: the titles matched, the candidates' origin, then the ranking as a table."""
    from recsys.eval.recommend import rank_candidates, read_request

    request = read_request(model_dir, history, candidate, k, seed, sample)
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


def _recommend_file(model_dir: Path, path: Path, out: Path, k: int, seed: int, batch_size: int) -> None:
    """A file of histories: the bad rows reported (and skipped) before any model loads, then one ranking file."""
    from recsys.eval.batch import read_batch, recommend_batch, write_parquet

    if batch_size < 1:
        raise InputError("--batch-size", f"expected at least 1, got {batch_size}")
    batch = read_batch(model_dir, path, k)
    for line in batch.skipped:
        typer.echo(f"warning: {line} (row skipped)", err=True)
    if batch.skipped:
        typer.echo(f"warning: skipped {len(batch.skipped)} of {batch.rows} rows of {path}", err=True)
    if not batch.histories:
        raise InputError(str(path), f"no row to recommend for ({batch.rows} rows, all skipped); nothing written")
    write_parquet(recommend_batch(batch, seed, batch_size), out)
    typer.echo(f"{len(batch.histories)} histories, {k} candidates each -> {out}")
