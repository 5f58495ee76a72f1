"""`recsys report` and `recsys recommend`: read what the pipeline produced; not DVC stages."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from recsys.errors import InputError
from recsys.eval.recommend import recommend
from recsys.eval.report import bar_chart, collect_rows, markdown
from stages.common import reports_bad_input


@reports_bad_input
def report_command(
    dataset: str = typer.Option("movielens", help="data set whose results to compare"),
    split: str = typer.Option("test", help="split whose metrics to compare"),
    root: Path = typer.Option(Path("."), help="project directory holding models/ and metrics/"),
    out: Path = typer.Option(Path("reports"), help="writes <out>/<dataset>-<split>.md and .png"),
) -> None:
    """Compare popularity, the SR models and every evaluated LLaRA variant: Markdown table + PNG chart."""
    rows = collect_rows(root, dataset, split)
    if not rows:
        raise InputError(str(root / "models" / "sr" / dataset), "no metrics found (run `dvc repro` first)")
    out.mkdir(parents=True, exist_ok=True)
    text = markdown(rows, dataset, split)
    (out / f"{dataset}-{split}.md").write_text(text)
    bar_chart(rows, f"{dataset} ({split}): HitRatio@1", out / f"{dataset}-{split}.png")
    typer.echo(text + f"\nwritten: {out / f'{dataset}-{split}.md'}, {out / f'{dataset}-{split}.png'}")


@reports_bad_input
def recommend_command(
    model: Path = typer.Option(..., help="fine-tuned model folder, e.g. models/llara/movielens/sasrec"),
    history: list[str] = typer.Option(..., "--history", help="a title the user chose, oldest first (repeatable)"),
    candidate: Optional[list[str]] = typer.Option(None, "--candidate", help="a candidate title (repeatable); "
                                                  "none: sample K items outside the history"),
    k: int = typer.Option(20, help="candidates to sample when none are given"),
    seed: int = typer.Option(0, help="seed for sampling candidates"),
) -> None:
    """Rank candidates for a history of titles with a fine-tuned LLaRA, printing their scores."""
    ranked = recommend(model, history, candidate, k, seed)
    table = Table("rank", "item_id", "title", "mean log-likelihood")
    for rank, (item, title, score) in enumerate(ranked, 1):
        table.add_row(str(rank), str(item), title, f"{score:.4f}")
    Console().print(table)
