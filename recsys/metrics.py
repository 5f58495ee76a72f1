"""Ranking metrics from the 0-based rank of the target, with 95% confidence intervals.

Everything here takes numpy arrays and returns numpy arrays or floats, so the sequential
recommenders and the LLM evaluation report the same numbers the same way.

Ties: `target_rank` counts every other candidate scoring *equal* to the target as ranked above
it (pessimistic). A constant scorer therefore gets HR@1 = 0, not 1, and popularity, whose
counts tie often, is never flattered by the order of the candidate list.
"""

from __future__ import annotations

import math

import numpy as np

Z95 = 1.959963984540054  # two-sided 95% normal quantile


def target_rank(scores: np.ndarray, target_col: np.ndarray) -> np.ndarray:
    """0-based rank of the target in each row: candidates scoring higher, plus ties (pessimistic).

    scores: [N, K] (any real dtype); target_col: [N], the column of the target in each row.
    """
    scores = np.asarray(scores)
    rows = np.arange(scores.shape[0])
    target_scores = scores[rows, target_col][:, None]  # [N, 1]
    higher = (scores > target_scores).sum(axis=1)
    ties = (scores == target_scores).sum(axis=1) - 1  # the target itself is not a tie
    return (higher + ties).astype(np.int64)


def hit_at_k(ranks: np.ndarray, k: int) -> np.ndarray:
    """1.0 where the target ranks in the top k, else 0.0 (one value per example)."""
    return (np.asarray(ranks) < k).astype(np.float64)


def ndcg_at_k(ranks: np.ndarray, k: int) -> np.ndarray:
    """1 / log2(rank + 2) where rank < k, else 0 (one relevant item, so IDCG = 1)."""
    ranks = np.asarray(ranks, dtype=np.float64)
    return np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial rate: stays inside [0, 1] and is sane at 0 or n hits."""
    if n <= 0:
        raise ValueError("a rate over zero examples has no interval")
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if successes == 0 else centre - half  # exact ends: no rounding past the rate
    high = 1.0 if successes == n else centre + half
    return low, high


def mean_interval(values: np.ndarray, z: float = Z95) -> tuple[float, float]:
    """Normal-approximation interval for the mean of values in [0, 1], clipped to [0, 1].

    With fewer than two values the spread is unknown, so the interval is all of [0, 1].
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        raise ValueError("a mean over zero examples has no interval")
    if values.size < 2:
        return 0.0, 1.0
    mean = float(values.mean())
    half = z * float(values.std(ddof=1)) / math.sqrt(values.size)
    return max(0.0, mean - half), min(1.0, mean + half)


def rate_report(hits: np.ndarray, name: str) -> dict[str, float]:
    """`name`, `name.ci_low`, `name.ci_high` for 0/1 hits (Wilson interval)."""
    hits = np.asarray(hits)
    low, high = wilson_interval(int(hits.sum()), hits.size)
    return {name: float(hits.mean()), f"{name}.ci_low": low, f"{name}.ci_high": high}


def mean_report(values: np.ndarray, name: str) -> dict[str, float]:
    """`name`, `name.ci_low`, `name.ci_high` for graded values such as NDCG (normal interval)."""
    low, high = mean_interval(values)
    return {name: float(np.mean(values)), f"{name}.ci_low": low, f"{name}.ci_high": high}


def ranking_report(
    ranks: np.ndarray, prefix: str, hit_ks: tuple[int, ...] = (1, 5), ndcg_ks: tuple[int, ...] = (5, 10)
) -> dict[str, float | int]:
    """Flat `{prefix}.hr@k` and `{prefix}.ndcg@k` entries with CI bounds, plus `{prefix}.n`."""
    ranks = np.asarray(ranks)
    report: dict[str, float | int] = {f"{prefix}.n": int(ranks.size)}
    for k in hit_ks:
        report.update(rate_report(hit_at_k(ranks, k), f"{prefix}.hr@{k}"))
    for k in ndcg_ks:
        report.update(mean_report(ndcg_at_k(ranks, k), f"{prefix}.ndcg@{k}"))
    return report


def mcnemar_p(a: np.ndarray, b: np.ndarray) -> float:
    """Exact two-sided McNemar p-value for paired 0/1 outcomes of two methods on the same examples.

    Only the discordant pairs count: under the null hypothesis each is a fair coin, so the p-value is
    the binomial tail of the smaller discordant count, doubled (capped at 1).
    """
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"paired outcomes differ in shape: {a.shape} vs {b.shape}")
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(only_a, only_b) + 1)) / 2**n
    return min(1.0, 2 * tail)
