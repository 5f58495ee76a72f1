"""Fixed candidate sets: the target once plus K-1 items the user never interacted with, shuffled.

Sampling is vectorised rejection sampling over all rows at once; the few rows whose eligible pool
is too small for rejection to converge quickly are finished exactly. Everything is drawn from the
caller's generator in a fixed order, so one seed gives one candidate set.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recsys.errors import InputError

_REJECTION_ROUNDS = 8


def _sorted_keys(rows: np.ndarray, items: np.ndarray, n_items: int) -> np.ndarray:
    return np.unique(rows.astype(np.int64) * n_items + items.astype(np.int64))


def _contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    pos = np.searchsorted(sorted_keys, keys)
    pos = np.minimum(pos, len(sorted_keys) - 1) if len(sorted_keys) else pos
    return sorted_keys[pos] == keys if len(sorted_keys) else np.zeros(keys.shape, bool)


def sample_negatives(
    seen_groups: np.ndarray,
    seen_items: np.ndarray,
    row_group: np.ndarray,
    n_items: int,
    n_neg: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """[n_rows, n_neg] distinct items per row, none that the row's group (its user) has seen.

    `seen_groups[j]`, `seen_items[j]`: group seen_groups[j] interacted with seen_items[j];
    `row_group[r]` is row r's group. Raises _ShortRow when a row has fewer than n_neg eligible items.
    """
    n_rows = len(row_group)
    row_group = row_group.astype(np.int64)
    seen = _sorted_keys(seen_groups, seen_items, n_items)
    n_groups = int(max(row_group.max(initial=-1), seen_groups.max(initial=-1))) + 1
    eligible = n_items - np.bincount(seen // n_items, minlength=n_groups)[row_group]
    short = np.flatnonzero(eligible < n_neg)
    if len(short):
        raise _ShortRow(int(short[0]), int(eligible[short[0]]))
    negatives = np.full((n_rows, n_neg), -1, np.int64)  # [N, K-1]
    chosen = np.empty(0, np.int64)  # row * n_items + item already taken by that row
    filled = np.zeros(n_rows, np.int64)
    todo = np.arange(n_rows)
    for _ in range(_REJECTION_ROUNDS):
        if not len(todo):
            break
        draws = rng.integers(0, n_items, size=(len(todo), 2 * n_neg + 8))  # [R, W]
        row_keys = todo[:, None] * n_items + draws
        ok = ~_contains(seen, row_group[todo][:, None] * n_items + draws) & ~_contains(chosen, row_keys)
        first = np.zeros(row_keys.size, bool)
        first[np.unique(row_keys.ravel(), return_index=True)[1]] = True
        ok &= first.reshape(row_keys.shape)
        rank = np.cumsum(ok, axis=1) - 1  # position among this row's accepted draws
        take = ok & (rank < (n_neg - filled[todo])[:, None])
        r, c = np.nonzero(take)
        negatives[todo[r], filled[todo[r]] + rank[r, c]] = draws[r, c]
        filled[todo] += take.sum(axis=1)
        chosen = np.union1d(chosen, row_keys[take])
        todo = todo[filled[todo] < n_neg]
    for row in todo:  # dense rows: draw exactly from what is left
        group = row_group[row]
        taken = np.concatenate([seen[(seen // n_items) == group], chosen[(chosen // n_items) == row]]) % n_items
        pool = np.setdiff1d(np.arange(n_items), taken)
        negatives[row, filled[row]:] = rng.choice(pool, n_neg - filled[row], replace=False)
    return negatives


class _ShortRow(Exception):
    def __init__(self, row: int, eligible: int):
        super().__init__(row, eligible)
        self.row, self.eligible = row, eligible


def build_candidates(
    targets: np.ndarray,
    seen_groups: np.ndarray,
    seen_items: np.ndarray,
    n_items: int,
    k: int,
    rng: np.random.Generator,
    row_group: np.ndarray | None = None,
    describe_row=lambda row: f"row {row}",
) -> np.ndarray:
    """[N, k] candidate ids per row: the target at a uniformly random position among k-1 negatives.

    Rows are their own groups unless `row_group` maps several rows (one user's windows) to one.
    """
    n_rows = len(targets)
    row_group = np.arange(n_rows) if row_group is None else row_group
    try:
        negatives = sample_negatives(seen_groups, seen_items, row_group, n_items, k - 1, rng)
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


def example_item_pairs(examples: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """(row, item) for every item of each row's history and its target."""
    history = examples.column("history").combine_chunks()
    lengths = pc.list_value_length(history).to_numpy(zero_copy_only=False)
    rows = np.repeat(np.arange(examples.num_rows), lengths)
    items = history.flatten().to_numpy(zero_copy_only=False)
    targets = examples.column("target").to_numpy()
    return np.concatenate([rows, np.arange(examples.num_rows)]), np.concatenate([items, targets])
