"""One table (Markdown) and one chart (PNG) comparing popularity, the SR models, the zero-shot base model
and every evaluated LLaRA on one data set and split: HR@1 with its 95% interval, and for each language
model row the exact McNemar p-value against popularity and against its SR backbone on the same users."""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from pathlib import Path

import matplotlib

from recsys import layout
from recsys.eval.outputs import POPULARITY, SR, VALID_RATIO, hr1, interval, paired_key, rate, rate_values, sr_hr1

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MODE_LABELS = {"rank": "one-pass rank", "generate": "generate", "score": "likelihood score"}
BAR_INCHES = 1.1  # the chart's width per bar
LABEL_CHARS = 14  # characters of a 7-point label that fit under one bar


@dataclass
class Row:
    method: str
    hr1: float
    low: float
    high: float
    valid: float | None = None  # ValidRatio (generation) where it applies
    p_popularity: float | None = None  # paired McNemar p-value against popularity
    p_sr: float | None = None  # ... against the row's SR backbone
    group: str = ""  # the model a mode's row belongs to ("LLaRA (sasrec)"); method is then "<group>, <mode>"

    @property
    def language_model(self) -> bool:
        return self.p_popularity is not None


def collect_rows(root: Path, dataset: str, split: str) -> list[Row]:
    """Rows from models/sr/<dataset>/*/metrics.json and metrics/<dataset>/*/metrics.json under `root`."""
    rows: list[Row] = []
    for path in sorted(root.glob(str(layout.sr_model(dataset, "*") / "metrics.json"))):
        metrics = json.loads(path.read_text())
        if not rows and (pop := rate_values(metrics, sr_hr1(split, popularity=True))):
            rows.append(Row("Popularity", *pop, valid=1.0))
        if sr := rate_values(metrics, sr_hr1(split)):
            rows.append(Row(path.parent.name, *sr, valid=1.0))
    for path in sorted(root.glob(str(layout.metrics(dataset, "*") / "metrics.json"))):
        metrics = json.loads(path.read_text())
        name = "zero-shot base model" if path.parent.name == layout.ZERO_SHOT else f"LLaRA ({path.parent.name})"
        for mode, label in MODE_LABELS.items():
            if rate := rate_values(metrics, hr1(mode)):
                valid = metrics.get(VALID_RATIO) if mode == "generate" else 1.0
                rows.append(Row(f"{name}, {label}", *rate, valid=valid, group=name,
                                p_popularity=metrics.get(paired_key(mode, POPULARITY)),
                                p_sr=metrics.get(paired_key(mode, SR))))
    return rows


def _p(value: float | None) -> str:
    return "" if value is None else f"{value:.3g}"


def markdown(rows: list[Row], dataset: str, split: str) -> str:
    lines = [f"### {dataset}, {split} split: HitRatio@1 over the stored candidates", "",
             "| method | ValidRatio | HitRatio@1 [95% interval] | p vs popularity | p vs its SR model |",
             "|---|---:|---|---:|---:|"]
    for row in rows:
        valid = "" if row.valid is None else f"{row.valid:.4f}"
        lines.append(f"| {row.method} | {valid} | {interval(row.hr1, row.low, row.high)} | "
                     f"{_p(row.p_popularity)} | {_p(row.p_sr)} |")
    lines += ["", "p: exact two-sided McNemar test on the same users' hits (HR@1)."]
    return "\n".join(lines) + "\n"


CATALOGUE_COLUMNS = ("hr@1", "hr@5", "hr@10", "ndcg@5", "ndcg@10")


def catalogue_markdown(root: Path, dataset: str) -> str:
    """The whole-catalogue table of every LLaRA evaluated with eval.modes' `catalogue`: its SR model alone and
    SR -> LLaRA over all items, the retrieval's recall, McNemar p-values on HR@1 and HR@10; "" where none was."""
    lines = []
    for path in sorted(root.glob(str(layout.metrics(dataset, "*") / "metrics.json"))):
        metrics = json.loads(path.read_text())
        recall = next((key for key in metrics if key.startswith("catalogue.recall@") and ".ci_" not in key), None)
        if recall is None:
            continue
        k = recall.rsplit("@", 1)[1]
        for who, label in (("sr", path.parent.name), ("llara", f"{path.parent.name} top {k} -> LLaRA")):
            cells = [rate(metrics, f"catalogue.{who}.{column}") for column in CATALOGUE_COLUMNS]
            tests = [_p(metrics.get(paired_key(mode, "sr"))) if who == "llara" else ""
                     for mode in ("catalogue", "catalogue.hr@10")]
            lines.append(f"| {label} | {' | '.join(cells)} | {rate(metrics, recall)} | {' | '.join(tests)} |")
    if not lines:
        return ""
    header = " | ".join(c.replace("hr", "HR").replace("ndcg", "NDCG") for c in CATALOGUE_COLUMNS)
    return "\n".join([f"### {dataset}: the whole catalogue (every item outside the shown history)", "",
                      f"| method | {header} | retrieval recall | p HR@1 vs SR | p HR@10 vs SR |",
                      "|---|" + "---|" * (len(CATALOGUE_COLUMNS) + 3), *lines, "",
                      "LLaRA re-ranks the SR model's top K; a target not retrieved is a miss for it. "
                      "p: exact McNemar test on the same users."]) + "\n"


def chart_labels(rows: list[Row]) -> tuple[list[str], list[tuple[str, float]]]:
    """Each bar's own label (its mode, or the method of a row without one), and each run of bars of one model named
    once beneath them: (tick labels, [(model, x of the run's centre)]), wrapped to the width they stand under."""
    ticks, runs = [], []  # runs: [model, first bar, last bar]
    for i, row in enumerate(rows):
        ticks.append(textwrap.fill(row.method[len(row.group) + 2:] if row.group else row.method, LABEL_CHARS))
        if row.group and runs and runs[-1][0] == row.group and runs[-1][2] == i - 1:
            runs[-1][2] = i
        elif row.group:
            runs.append([row.group, i, i])
    return ticks, [(textwrap.fill(name, LABEL_CHARS * (last - first + 1)), (first + last) / 2)
                   for name, first, last in runs]


def chart(rows: list[Row], title: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(1.2 + BAR_INCHES * len(rows), 4.4))
    x = range(len(rows))
    ax.bar(x, [r.hr1 for r in rows], yerr=[[r.hr1 - r.low for r in rows], [r.high - r.hr1 for r in rows]],
           capsize=4, color=["#3b75af" if r.language_model else "#999999" for r in rows])
    ticks, models = chart_labels(rows)
    ax.set_xticks(list(x), ticks, fontsize=7)
    below = -(12 + 9 * max(tick.count("\n") + 1 for tick in ticks))  # points: past the tick marks and labels
    for name, centre in models:
        ax.annotate(name, xy=(centre, 0), xycoords=("data", "axes fraction"), xytext=(0, below),
                    textcoords="offset points", ha="center", va="top", fontsize=7, fontweight="bold")
    ax.set_ylabel("HitRatio@1 (95% interval)")
    ax.set_title(title)
    ax.set_ylim(0, 1)
    fig.tight_layout()
    return fig


def bar_chart(rows: list[Row], title: str, path: Path) -> None:
    fig = chart(rows, title)
    fig.savefig(path, dpi=120)
    plt.close(fig)
