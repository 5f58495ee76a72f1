"""Fixed candidate sets: the target once plus K-1 items the user never interacted with, shuffled.

Sampling is vectorised rejection sampling over all rows at once; the few rows whose eligible pool
is too small for rejection to converge quickly are finished exactly. Everything is drawn from the
caller's generator in a fixed order, so one seed gives one candidate set.
"""

from __future__ import annotations

import numpy as np

from recsys.errors import InputError

_REJECTION_ROUNDS = 8


def _sorted_keys(rows: np.ndarray, items: np.ndarray, n_items: int) -> np.ndarray:
    return np.unique(rows.astype(np.int64) * n_items + items.astype(np.int64))


def _contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    pos = np.searchsorted(sorted_keys, keys)
    pos = np.minimum(pos, len(sorted_keys) - 1) if len(sorted_keys) else pos
    return sorted_keys[pos] == keys if len(sorted_keys) else np.zeros(keys.shape, bool)


def sample_negatives(
    seen_rows: np.ndarray, seen_items: np.ndarray, n_rows: int, n_items: int, n_neg: int, rng: np.random.Generator
) -> np.ndarray:
    """[n_rows, n_neg] distinct items per row, none among that row's seen items.

    `seen_rows[j]`, `seen_items[j]` says row seen_rows[j] has interacted with seen_items[j].
    Raises InputError (with the row index) when a row has fewer than n_neg eligible items.
    """
    seen = _sorted_keys(seen_rows, seen_items, n_items)
    eligible = n_items - np.bincount(seen // n_items, minlength=n_rows)
    short = np.flatnonzero(eligible < n_neg)
    if len(short):
        raise _ShortRow(int(short[0]), int(eligible[short[0]]))
    negatives = np.full((n_rows, n_neg), -1, np.int64)  # [N, K-1]
    filled = np.zeros(n_rows, np.int64)
    todo = np.arange(n_rows)
    for _ in range(_REJECTION_ROUNDS):
        if not len(todo):
            break
        width = 2 * n_neg + 8
        draws = rng.integers(0, n_items, size=(len(todo), width))  # [R, W]
        keys = todo[:, None] * n_items + draws
        ok = ~_contains(seen, keys)
        first = np.zeros(keys.size, bool)
        first[np.unique(keys.ravel(), return_index=True)[1]] = True
        ok &= first.reshape(keys.shape)
        rank = np.cumsum(ok, axis=1) - 1  # position among this row's accepted draws
        take = ok & (rank < (n_neg - filled[todo])[:, None])
        r, c = np.nonzero(take)
        negatives[todo[r], filled[todo[r]] + rank[r, c]] = draws[r, c]
        filled[todo] += take.sum(axis=1)
        seen = np.union1d(seen, keys[take])
        todo = todo[filled[todo] < n_neg]
    for row in todo:  # dense rows: draw exactly from what is left
        pool = np.setdiff1d(np.arange(n_items), seen[(seen // n_items) == row] % n_items)
        negatives[row, filled[row]:] = rng.choice(pool, n_neg - filled[row], replace=False)
    return negatives


class _ShortRow(Exception):
    def __init__(self, row: int, eligible: int):
        super().__init__(row, eligible)
        self.row, self.eligible = row, eligible


def build_candidates(
    targets: np.ndarray,
    seen_rows: np.ndarray,
    seen_items: np.ndarray,
    n_items: int,
    k: int,
    rng: np.random.Generator,
    describe_row=lambda row: f"row {row}",
) -> np.ndarray:
    """[N, k] candidate ids per row: the target at a uniformly random position among k-1 negatives."""
    n_rows = len(targets)
    try:
        negatives = sample_negatives(seen_rows, seen_items, n_rows, n_items, k - 1, rng)
    except _ShortRow as err:
        raise InputError(
            describe_row(err.row),
            f"only {err.eligible} items the user never interacted with, expected at least "
            f"{k - 1} for {k} candidates (lower data.n_candidates)",
        ) from None
    slot = rng.integers(0, k, size=n_rows)
    is_target = np.arange(k)[None, :] == slot[:, None]  # [N, k]
    candidates = np.empty((n_rows, k), np.int32)
    candidates[is_target] = targets
    candidates[~is_target] = negatives.ravel()
    return candidates
