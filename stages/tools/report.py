"""`recsys report`: compare what the pipeline produced on one data set; not a DVC stage."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from recsys.errors import InputError
from stages.common import ParamsOption, SetOption, read_sections, reports_bad_input


@reports_bad_input
def command(
    params_file: Path = ParamsOption,
    overrides: list[str] = SetOption,
    dataset: Optional[str] = typer.Option(None, help="data set whose results to compare [default: data.dataset]"),
    split: Optional[str] = typer.Option(None, help="split whose metrics to compare [default: eval.split]"),
    root: Path = typer.Option(Path("."), help="project directory holding models/ and metrics/"),
    out: Path = typer.Option(Path("reports"), help="writes <out>/<dataset>-<split>.md and .png"),
) -> None:
    """Popularity, the SR models, the zero-shot base model and every evaluated LLaRA: HR@1 with 95% intervals and
    paired McNemar p-values, as a Markdown table and a PNG chart."""
    from recsys.eval.report import bar_chart, catalogue_markdown, collect_rows, markdown

    data, evaluation, _ = read_sections(params_file, overrides, "data", "eval")
    dataset, split = dataset or data.dataset, split or evaluation.split
    rows = collect_rows(root, dataset, split)
    if not rows:
        raise InputError(str(root / "models" / "sr" / dataset), "no metrics found (run `dvc repro` first)")
    out.mkdir(parents=True, exist_ok=True)
    text = markdown(rows, dataset, split)
    if catalogue := catalogue_markdown(root, dataset):
        text += "\n" + catalogue
    (out / f"{dataset}-{split}.md").write_text(text)
    bar_chart(rows, f"{dataset} ({split}): HitRatio@1", out / f"{dataset}-{split}.png")
    typer.echo(text + f"\nwritten: {out / f'{dataset}-{split}.md'}, {out / f'{dataset}-{split}.png'}")
