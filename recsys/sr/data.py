"""Prepared parquet rows as tensors in the padding layout of `recsys.sr.base`.

Histories are right-aligned and left-padded with the padding id n_items. A history longer than
`max_len` keeps its most recent `max_len` items (what the model reads anyway). Every id is
checked against items.parquet, and each candidate list must hold its target exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from recsys.errors import InputError


@dataclass(frozen=True)
class Examples:
    """One split: N rows of (history, target) and, for val/test, the K stored candidates."""

    user_ids: torch.Tensor  # [N] int64
    seq: torch.Tensor  # [N, max_len] int64 item ids, right-aligned, padded with n_items
    lengths: torch.Tensor  # [N] int64, real items per row (0..max_len)
    targets: torch.Tensor  # [N] int64
    candidates: Optional[torch.Tensor]  # [N, K] int64, or None for train
    target_col: Optional[torch.Tensor]  # [N] int64, column of the target in `candidates`

    def __len__(self) -> int:
        return self.targets.shape[0]


def count_items(path: Path) -> int:
    """Number of items in items.parquet, whose item_id must be exactly 0..n-1."""
    table = _read(path, ["item_id"])
    ids = np.sort(table.column("item_id").to_numpy(zero_copy_only=False))
    if ids.size == 0:
        raise InputError(str(path), "no items")
    if not np.array_equal(ids, np.arange(ids.size)):
        raise InputError(str(path), f"item_id must be the dense ids 0..{ids.size - 1}")
    return int(ids.size)


def load_examples(path: Path, n_items: int, max_len: int, with_candidates: bool) -> Examples:
    """Read a train/val/test parquet file into padded tensors, checking every id."""
    columns = ["user_id", "history", "target"] + (["candidates"] if with_candidates else [])
    return examples_from_table(_read(path, columns), n_items, max_len, with_candidates, Path(path))


def examples_from_table(table: pa.Table, n_items: int, max_len: int, with_candidates: bool, path: Path) -> Examples:
    """Rows with user_id, history, target (and candidates) -> padded tensors; errors name `path`."""
    if table.num_rows == 0:
        raise InputError(str(path), "no rows")
    targets = table.column("target").to_numpy(zero_copy_only=False).astype(np.int64)
    _check_ids(path, "target", targets, n_items)
    values, offsets = _list_parts(path, table, "history")
    _check_ids(path, "history", values, n_items)
    seq, lengths = _right_aligned(values, offsets, max_len, n_items)
    candidates = target_col = None
    if with_candidates:
        values, offsets = _list_parts(path, table, "candidates")
        _check_ids(path, "candidates", values, n_items)
        candidates, target_col = _candidate_matrix(path, values, offsets, targets)
    user_ids = table.column("user_id").to_numpy(zero_copy_only=False).astype(np.int64)
    return Examples(
        user_ids=torch.from_numpy(user_ids),
        seq=torch.from_numpy(seq),
        lengths=torch.from_numpy(lengths),
        targets=torch.from_numpy(targets),
        candidates=None if candidates is None else torch.from_numpy(candidates),
        target_col=None if target_col is None else torch.from_numpy(target_col),
    )


def batch_indices(
    n: int, batch_size: int, generator: Optional[torch.Generator] = None
) -> Iterator[torch.Tensor]:
    """Row indices in batches: shuffled by `generator` when given, else in file order."""
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    yield from order.split(batch_size)


def _read(path: Path, columns: list[str]) -> pa.Table:
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "file not found (run the prepare stage first)")
    present = set(pq.read_schema(path).names)
    missing = [c for c in columns if c not in present]
    if missing:
        raise InputError(str(path), f"missing column {missing[0]!r}")
    return pq.read_table(path, columns=columns)


def _list_parts(path: Path, table: pa.Table, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A list column as flat int64 values [total] and row offsets [N + 1]."""
    column = table.column(name).combine_chunks()
    if column.null_count:
        raise InputError(str(path), f"column {name!r} has null rows")
    offsets = column.offsets.to_numpy().astype(np.int64)
    values = column.values.to_numpy(zero_copy_only=False).astype(np.int64)
    return values[offsets[0] : offsets[-1]], offsets - offsets[0]


def _check_ids(path: Path, name: str, ids: np.ndarray, n_items: int) -> None:
    bad = (ids < 0) | (ids >= n_items)
    if bad.any():
        raise InputError(
            str(path), f"column {name!r} holds item id {ids[bad][0]} outside 0..{n_items - 1}"
        )


def _right_aligned(
    values: np.ndarray, offsets: np.ndarray, max_len: int, pad_id: int
) -> tuple[np.ndarray, np.ndarray]:
    """Flat histories -> seq [N, max_len] (most recent last, left-padded) and lengths [N]."""
    lengths = np.minimum(np.diff(offsets), max_len)  # [N]
    back = max_len - np.arange(max_len)  # [max_len]: distance of each column from the end
    real = back[None, :] <= lengths[:, None]  # [N, max_len]
    source = offsets[1:, None] - back[None, :]  # [N, max_len] index into values
    padded_values = np.append(values, pad_id)  # the extra last entry is the padding id
    seq = padded_values[np.where(real, source, values.size)]
    return seq.astype(np.int64), lengths.astype(np.int64)


def _candidate_matrix(
    path: Path, values: np.ndarray, offsets: np.ndarray, targets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Flat candidate lists -> [N, K] and the column of each row's target."""
    sizes = np.diff(offsets)
    if (sizes != sizes[0]).any():
        row = int(np.argmax(sizes != sizes[0]))
        raise InputError(str(path), f"row {row}: {sizes[row]} candidates, row 0 has {sizes[0]}")
    candidates = values.reshape(len(targets), sizes[0])  # [N, K]
    is_target = candidates == targets[:, None]  # [N, K]
    count = is_target.sum(axis=1)
    if (count != 1).any():
        row = int(np.argmax(count != 1))
        raise InputError(
            str(path), f"row {row}: candidates hold the target {count[row]} times, expected once"
        )
    return candidates, is_target.argmax(axis=1).astype(np.int64)
