"""One table (Markdown) and one chart (PNG) comparing popularity, the SR models and every evaluated
LLaRA variant on one data set and split, each HR@1 with its 95% interval."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@dataclass
class Row:
    method: str
    hr1: float
    low: float
    high: float
    valid: float | None = None  # ValidRatio (generation) where it applies
    n: int | None = None


def _rate(metrics: dict, key: str) -> tuple[float, float, float] | None:
    if key not in metrics:
        return None
    return metrics[key], metrics[f"{key}.ci_low"], metrics[f"{key}.ci_high"]


def collect_rows(root: Path, dataset: str, split: str) -> list[Row]:
    """Rows from models/sr/<dataset>/*/metrics.json and metrics/<dataset>/*/metrics.json under `root`."""
    rows: list[Row] = []
    sr_files = sorted((root / "models" / "sr" / dataset).glob("*/metrics.json"))
    for path in sr_files:
        metrics = json.loads(path.read_text())
        if not rows and (pop := _rate(metrics, f"popularity.{split}.hr@1")):
            rows.append(Row("Popularity", *pop, valid=1.0))
        if sr := _rate(metrics, f"{split}.hr@1"):
            rows.append(Row(path.parent.name, *sr, valid=1.0))
    for path in sorted((root / "metrics" / dataset).glob("*/metrics.json")):
        metrics = json.loads(path.read_text())
        backbone = path.parent.name
        if gen := _rate(metrics, "generate.hr@1"):
            rows.append(Row(f"LLaRA ({backbone}), generate", *gen, valid=metrics["generate.valid_ratio"], n=metrics["n"]))
        if score := _rate(metrics, "score.hr@1"):
            rows.append(Row(f"LLaRA ({backbone}), score", *score, valid=1.0, n=metrics["n"]))
    return rows


def markdown(rows: list[Row], dataset: str, split: str) -> str:
    lines = [f"### {dataset}, {split} split: HitRatio@1 over the stored candidates", "",
             "| method | ValidRatio | HitRatio@1 | 95% interval |", "|---|---:|---:|---|"]
    for row in rows:
        valid = "" if row.valid is None else f"{row.valid:.4f}"
        lines.append(f"| {row.method} | {valid} | {row.hr1:.4f} | [{row.low:.4f}, {row.high:.4f}] |")
    return "\n".join(lines) + "\n"


def bar_chart(rows: list[Row], title: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(rows), 4))
    x = range(len(rows))
    ax.bar(x, [r.hr1 for r in rows], yerr=[[r.hr1 - r.low for r in rows], [r.high - r.hr1 for r in rows]],
           capsize=4, color=["#999999" if not r.method.startswith("LLaRA") else "#3b75af" for r in rows])
    ax.set_xticks(list(x), [r.method.replace(", ", "\n") for r in rows], fontsize=8)
    ax.set_ylabel("HitRatio@1 (95% interval)")
    ax.set_title(title)
    ax.set_ylim(0, 1)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
