"""The authors' processed split files (train_data.df, Val_data.df, Test_data.df + id2name.txt or u.item).

Each frame row is one example: `seq` (10 ids, padded with the item count), `len_seq`, `next`. The
MovieLens frames hold (item, rating) pairs instead of ids, in `seq` (padded with (1682, 0)) and
`next`; ratings are unused. Their u.item is the original 1-based file, so as the authors' loader
does, item k of u.item is id k - 1.
Training windows come with no user id; consecutive windows of one user extend each other by one
item, which is how users are recovered here (a user starts where that chain breaks).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from recsys.config import DataParams, DatasetSpec
from recsys.data.readers import read_table, read_text
from recsys.data.safe_pickle import read_pickled_frame
from recsys.data.split import sequences_to_examples, user_assignment
from recsys.data.titles import BoundedTitles, clean_title, movielens_title
from recsys.errors import InputError

SPLIT_FILES = {"train": "train_data.df", "val": "Val_data.df", "test": "Test_data.df"}


@dataclass
class SplitFiles:
    items: pa.Table
    examples: dict[str, pa.Table]  # user_id, history, target per split
    interactions: int
    notes: list[str]
    truncated_titles: int
    origins: dict[str, tuple[str, int]]  # val/test: the file and the user_id of its first row


def read_llara_items(root: Path, max_title_chars: int) -> tuple[pa.Table, int]:
    """Items from id2name.txt (`id::name` lines, ids from 0) or, failing that, a MovieLens u.item (from 1);
    -> (items, titles cut to max_title_chars)."""
    if (root / "id2name.txt").is_file():
        path = root / "id2name.txt"
        lines = read_text(path, "utf-8").splitlines()
        ids, raw = [], []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            if "::" not in line or not line.split("::", 1)[0].strip().isdigit():
                raise InputError(str(path), f"line {number}: expected `id::name`, got {line[:60]!r}")
            key, name = line.split("::", 1)
            ids.append(int(key))
            raw.append(name)
        titles, first = [clean_title(name) for name in raw], 0
    elif (root / "u.item").is_file():
        path = root / "u.item"
        table = read_table(path, ["item", "raw_title"], delimiter="|", encoding="latin-1",
                           header=["item", "raw_title"] + [f"c{i}" for i in range(22)])
        ids = []
        for row, key in zip(table.column("row").to_pylist(), table.column("item").to_pylist()):
            if not (key or "").strip().isdigit():
                raise InputError(str(path), f"row {row}: item id {key!r} is not a number")
            ids.append(int(key))
        raw = [name or "" for name in table.column("raw_title").to_pylist()]
        titles, first = [movielens_title(name) for name in raw], 1
    else:
        raise InputError(str(root), "expected id2name.txt or u.item with the item titles")
    if sorted(ids) != list(range(first, first + len(ids))):
        raise InputError(str(path), f"item ids must be exactly {first}..{first + len(ids) - 1}, one per line")
    empty = [i for i, t in zip(ids, titles) if not t]
    if empty:
        raise InputError(str(path), f"item {empty[0]} has an empty title (expected text)")
    order = np.argsort(ids)
    bound = BoundedTitles((titles[i] for i in order), max_title_chars)
    items = pa.table(
        {
            "item_id": pa.array(np.arange(len(ids)), pa.int32()),
            "title": pa.array([bound(titles[i]) for i in order], pa.string()),
            "raw_title": pa.array([raw[i] for i in order], pa.string()),
            "source_id": pa.array([str(ids[i]) for i in order], pa.string()),
        }
    )
    return items, bound.cut


def _read_frame(path: Path, n_items: int, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """-> (histories [N, max_len] right-aligned with -1 padding, targets [N])."""
    frame = read_pickled_frame(path)
    missing = [c for c in ("seq", "len_seq", "next") if c not in frame.columns]
    if missing:
        raise InputError(str(path), f"missing column {missing[0]!r} (found: {', '.join(map(str, frame.columns))})")
    expected = {"seq": "equal-length lists of item ids or (item, rating) pairs",
                "next": "item ids or (item, rating) pairs"}
    columns = {}
    for name, ndim in (("seq", 2), ("next", 1)):
        try:
            values = np.array(frame[name].tolist(), dtype=np.int64)  # [N, W] / [N], or with a last axis of 2
        except (ValueError, TypeError, OverflowError):
            values = None
        if values is not None and values.ndim == ndim + 1 and values.shape[-1] == 2:
            values = values[..., 0]  # (item, rating) -> item
        if values is None or values.ndim != ndim:
            raise InputError(str(path), f"column {name!r} must hold {expected[name]}")
        columns[name] = values
    seq, targets = columns["seq"], columns["next"]
    lengths = frame["len_seq"].to_numpy(np.int64)
    for name, values, high in (("seq", seq, n_items), ("next", targets[:, None], n_items - 1)):
        bad = (values < 0) | (values > high)  # [N, W]
        if bad.any():
            row = int(np.flatnonzero(bad.any(axis=1))[0])
            value = int(values[row][bad[row]][0])
            raise InputError(str(path), f"row {row}: column {name!r} holds item id {value}, expected 0..{high}")
    width = seq.shape[1]
    real = (np.arange(width)[None, :] < lengths[:, None]) & (seq != n_items)  # [N, W]
    # Move each row's real ids to the right end, keeping their order (stable sort on the mask).
    order = np.argsort(real, axis=1, kind="stable")
    aligned = np.where(np.take_along_axis(real, order, 1), np.take_along_axis(seq, order, 1), -1)
    if width < max_len:
        aligned = np.pad(aligned, ((0, 0), (max_len - width, 0)), constant_values=-1)
    return aligned[:, -max_len:], targets


def _chain_users(histories: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """User index per training window: a new user starts where a window does not extend the last."""
    expected = np.concatenate([histories[:-1, 1:], targets[:-1, None]], axis=1)  # [N-1, L]
    starts = np.ones(len(targets), bool)
    starts[1:] = ~(expected == histories[1:]).all(axis=1)
    return np.cumsum(starts) - 1


def _to_examples(user_ids: np.ndarray, histories: np.ndarray, targets: np.ndarray) -> pa.Table:
    lengths = (histories >= 0).sum(axis=1)
    flat = histories[histories >= 0].astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    return pa.table(
        {
            "user_id": pa.array(user_ids, pa.int64()),
            "history": pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat, pa.int32())),
            "target": pa.array(targets, pa.int32()),
        }
    )


def _as_sequences(user_ids: np.ndarray, histories: np.ndarray, targets: np.ndarray) -> pa.Table:
    """Long format (user_id, item_id, ts, row) of each row's history followed by its target."""
    full = np.concatenate([histories, targets[:, None]], axis=1)  # [N, L+1]
    real = full >= 0
    pos = np.broadcast_to(np.arange(full.shape[1]), full.shape)[real]
    return pa.table(
        {
            "user_id": pa.array(np.broadcast_to(user_ids[:, None], full.shape)[real], pa.int64()),
            "item_id": pa.array(full[real], pa.int32()),
            "ts": pa.array(pos.astype(np.float64)),
            "row": pa.array(pos.astype(np.int64)),
        }
    )


def load_split_files(spec: DatasetSpec, params: DataParams) -> SplitFiles:
    """Examples for train/val/test from the authors' files (users get dense ids across splits)."""
    if not spec.path:
        raise InputError(f"datasets.{params.dataset}.path", "the llara source needs the directory of the split files")
    root = Path(spec.path)
    items, truncated = read_llara_items(root, params.max_title_chars)
    n_items = items.num_rows
    frames = {s: _read_frame(root / f, n_items, params.max_len) for s, f in SPLIT_FILES.items() if s != "train"}
    notes: list[str] = []
    if spec.train_from == "train":
        train_hist, train_tgt = _read_frame(root / SPLIT_FILES["train"], n_items, params.max_len)
        train_users = _chain_users(train_hist, train_tgt)
        keep = (train_hist >= 0).sum(axis=1) >= params.min_history
        examples = {"train": _to_examples(train_users[keep], train_hist[keep], train_tgt[keep])}
        next_user = int(train_users.max()) + 1 if len(train_users) else 0
        interactions = len(train_tgt)
        test_offset = next_user + len(frames["val"][1])
        origins = {"val": next_user, "test": test_offset}
        for split, offset in origins.items():
            hist, tgt = frames[split]
            examples[split] = _to_examples(np.arange(len(tgt)) + offset, hist, tgt)
    else:
        val_hist, val_tgt = frames["val"]
        users = np.arange(len(val_tgt))
        assignment = user_assignment(users, [1 - params.val_holdout, params.val_holdout, 0.0], params.seed)
        con = duckdb.connect()  # the authors' files are small: an in-memory database will do
        con.register("sequences", _as_sequences(users, val_hist, val_tgt))
        queries = sequences_to_examples(con, "sequences", assignment, params)
        examples = {split: con.sql(query).to_arrow_table() for split, query in queries.items()}
        interactions = 0
        test_hist, test_tgt = frames["test"]
        examples["test"] = _to_examples(np.arange(len(test_tgt)) + len(users), test_hist, test_tgt)
        origins = {"val": 0, "test": len(users)}
        notes.append(
            f"training windows come from the {SPLIT_FILES['val']} users' sequences "
            f"(data train_from=val): {SPLIT_FILES['train']} is not available; "
            f"{params.val_holdout:.0%} of those users, seeded, are held out for validation"
        )
    for split in ("val", "test"):
        hist, _ = frames[split]
        interactions += int((hist >= 0).sum()) + len(hist)
    notes.append("interactions are counted from the split files' sequences, not a raw log")
    if not examples["train"].num_rows:
        source = SPLIT_FILES["train" if spec.train_from == "train" else "val"]
        raise InputError(str(root / source), f"no training windows with at least data.min_history="
                         f"{params.min_history} history items (expected one or more)")
    return SplitFiles(items=items, examples=examples, interactions=interactions, notes=notes,
                      truncated_titles=truncated,
                      origins={s: (str(root / SPLIT_FILES[s]), first) for s, first in origins.items()})
