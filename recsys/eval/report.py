"""One table (Markdown) and one chart (PNG) comparing popularity, the SR models, the zero-shot base model
and every evaluated LLaRA on one data set and split: HR@1 with its 95% interval, and for each language
model row the exact McNemar p-value against popularity and against its SR backbone on the same users."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib

from recsys import layout

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MODE_LABELS = {"rank": "one-pass rank", "generate": "generate", "score": "likelihood score"}


@dataclass
class Row:
    method: str
    hr1: float
    low: float
    high: float
    valid: float | None = None  # ValidRatio (generation) where it applies
    p_popularity: float | None = None  # paired McNemar p-value against popularity
    p_sr: float | None = None  # ... against the row's SR backbone

    @property
    def language_model(self) -> bool:
        return self.p_popularity is not None


def _rate(metrics: dict, key: str) -> tuple[float, float, float] | None:
    if key not in metrics:
        return None
    return metrics[key], metrics[f"{key}.ci_low"], metrics[f"{key}.ci_high"]


def collect_rows(root: Path, dataset: str, split: str) -> list[Row]:
    """Rows from models/sr/<dataset>/*/metrics.json and metrics/<dataset>/*/metrics.json under `root`."""
    rows: list[Row] = []
    for path in sorted(root.glob(str(layout.sr_model(dataset, "*") / "metrics.json"))):
        metrics = json.loads(path.read_text())
        if not rows and (pop := _rate(metrics, f"popularity.{split}.hr@1")):
            rows.append(Row("Popularity", *pop, valid=1.0))
        if sr := _rate(metrics, f"{split}.hr@1"):
            rows.append(Row(path.parent.name, *sr, valid=1.0))
    for path in sorted(root.glob(str(layout.metrics(dataset, "*") / "metrics.json"))):
        metrics = json.loads(path.read_text())
        name = "zero-shot base model" if path.parent.name == layout.ZERO_SHOT else f"LLaRA ({path.parent.name})"
        for mode, label in MODE_LABELS.items():
            if rate := _rate(metrics, f"{mode}.hr@1"):
                valid = metrics.get("generate.valid_ratio") if mode == "generate" else 1.0
                rows.append(Row(f"{name}, {label}", *rate, valid=valid,
                                p_popularity=metrics.get(f"paired.{mode}_vs_popularity.p"),
                                p_sr=metrics.get(f"paired.{mode}_vs_sr.p")))
    return rows


def _p(value: float | None) -> str:
    return "" if value is None else f"{value:.3g}"


def markdown(rows: list[Row], dataset: str, split: str) -> str:
    lines = [f"### {dataset}, {split} split: HitRatio@1 over the stored candidates", "",
             "| method | ValidRatio | HitRatio@1 | 95% interval | p vs popularity | p vs its SR model |",
             "|---|---:|---:|---|---:|---:|"]
    for row in rows:
        valid = "" if row.valid is None else f"{row.valid:.4f}"
        lines.append(f"| {row.method} | {valid} | {row.hr1:.4f} | [{row.low:.4f}, {row.high:.4f}] | "
                     f"{_p(row.p_popularity)} | {_p(row.p_sr)} |")
    lines += ["", "p: exact two-sided McNemar test on the same users' hits (HR@1)."]
    return "\n".join(lines) + "\n"


def bar_chart(rows: list[Row], title: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(rows), 4))
    x = range(len(rows))
    ax.bar(x, [r.hr1 for r in rows], yerr=[[r.hr1 - r.low for r in rows], [r.high - r.hr1 for r in rows]],
           capsize=4, color=["#3b75af" if r.language_model else "#999999" for r in rows])
    ax.set_xticks(list(x), [r.method.replace(", ", "\n") for r in rows], fontsize=7)
    ax.set_ylabel("HitRatio@1 (95% interval)")
    ax.set_title(title)
    ax.set_ylim(0, 1)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
