"""What an evaluation leaves behind, as the code that reads it back names it: the keys of metrics.json, hits.csv
(one row per example, a 0/1 column per method) and a rate with its Wilson 95% interval as text.

`recsys report` and the benches read results through here, so a key or a column is spelt in one place.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recsys.metrics import rate_report

EXAMPLE_ID = "example_id"  # hits.csv's first column; the others are methods: the LLaRA modes, then sr, popularity
SR = "sr"  # the SR model's column of hits.csv, and the prefix of its rows copied into an evaluation's metrics
POPULARITY = "popularity"
VALID_RATIO = "generate.valid_ratio"  # generation's share of answers that name one candidate


def hr1(mode: str) -> str:
    """A mode's HR@1 in an evaluation's metrics (`rank.hr@1`)."""
    return f"{mode}.hr@1"


def sr_hr1(split: str, popularity: bool = False, copied: bool = False) -> str:
    """The SR model's (or popularity's) HR@1 on `split`: `test.hr@1` in its own metrics, `sr.test.hr@1` where an
    evaluation copied it (`copied`)."""
    key = f"{POPULARITY}.{split}.hr@1" if popularity else f"{split}.hr@1"
    return f"{SR}.{key}" if copied else key


def paired_key(mode: str, baseline: str, stat: str = "p") -> str:
    """`paired.<mode>_vs_<baseline>.<stat>`: a mode's McNemar p-value (or HR@1 difference, `diff`) against a baseline."""
    return f"paired.{mode}_vs_{baseline}.{stat}"


def interval(value: float, low: float, high: float) -> str:
    """A rate and its 95% interval as every table shows one: `0.5000 [0.400, 0.600]`."""
    return f"{value:.4f} [{low:.3f}, {high:.3f}]"


def rate_values(metrics: dict, key: str) -> tuple[float, float, float] | None:
    """`key` of flat metrics with its interval (`key.ci_low`, `key.ci_high`); None where the run has no such key."""
    if key not in metrics:
        return None
    return metrics[key], metrics[f"{key}.ci_low"], metrics[f"{key}.ci_high"]


def rate(metrics: dict, key: str) -> str:
    """`key` of flat metrics with its interval as text; "-" where the run has no such key."""
    values = rate_values(metrics, key)
    return "-" if values is None else interval(*values)


def hits_rate(hits: np.ndarray) -> str:
    """HR@1 of 0/1 hits with its Wilson interval."""
    return rate(rate_report(hits, "hr@1"), "hr@1")


def hits_text(example_ids: np.ndarray, hits: dict[str, np.ndarray]) -> str:
    """hits.csv's text: one row per example, a 0/1 column per method (what paired tests between runs read)."""
    names = list(hits)
    lines = [",".join([EXAMPLE_ID, *names])]
    lines += [",".join([str(int(e)), *(str(int(hits[m][i])) for m in names)]) for i, e in enumerate(example_ids)]
    return "\n".join(lines) + "\n"


def write_hits(path: Path, example_ids: np.ndarray, hits: dict[str, np.ndarray]) -> None:
    Path(path).write_text(hits_text(example_ids, hits))


def parse_hits(text: str) -> tuple[list[int], dict[str, list[int]]]:
    """hits.csv's text (a file, or `git show` of one) -> (example ids, {method: its hits in that order})."""
    header, *rows = [line.split(",") for line in text.strip().splitlines()]
    columns = {name: [int(row[i]) for row in rows] for i, name in enumerate(header)}
    return columns.pop(EXAMPLE_ID), columns


def read_hits(path: Path) -> tuple[list[int], dict[str, list[int]]]:
    return parse_hits(Path(path).read_text())
