"""Tiny prepared directories (the prepare stage's output contract) built with pyarrow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from recsys.data.stats import PreparedStats


def write_items(directory: Path, n_items: int) -> None:
    ids = np.arange(n_items, dtype=np.int32)
    titles = [f"Item {i}" for i in ids]
    pq.write_table(
        pa.table(
            {
                "item_id": pa.array(ids),
                "title": titles,
                "raw_title": titles,
                "source_id": [str(i) for i in ids],
            }
        ),
        directory / "items.parquet",
    )


def write_stats(directory: Path, n_items: int, max_len: int, k: int) -> None:
    """stats.json with the settings the stages read (items, history length, candidates); counts nothing reads: 0."""
    PreparedStats(dataset="toy", source="interactions", split="user", notes=[], items=n_items, users=0, interactions=0,
                  truncated_titles=0, n_candidates=k, max_len=max_len, examples={}, mean_history_length={}).write(directory)


def write_split(directory: Path, name: str, rows: list[dict]) -> None:
    """rows: dicts with user_id, history, target and (val/test) candidates."""
    columns = {
        "user_id": pa.array([r["user_id"] for r in rows], pa.int64()),
        "history": pa.array([r["history"] for r in rows], pa.list_(pa.int32())),
        "target": pa.array([r["target"] for r in rows], pa.int32()),
    }
    if "candidates" in rows[0]:
        columns["candidates"] = pa.array([r["candidates"] for r in rows], pa.list_(pa.int32()))
    pq.write_table(pa.table(columns), directory / f"{name}.parquet")


def cyclic_prepared(
    directory: Path, n_items: int = 12, n_users: int = 24, max_len: int = 4, k: int = 5
) -> Path:
    """Each user walks the cycle 0 -> 1 -> ... -> n_items - 1 -> 0 from their own start item;
    train rows are sliding windows (the first has an empty history), val and test users hold
    the next item behind a full window, with k - 1 fixed negatives."""
    directory.mkdir(parents=True, exist_ok=True)
    write_items(directory, n_items)
    rng = np.random.default_rng(0)
    train, held_out = [], {"val": [], "test": []}
    for user in range(n_users):
        walk = [(user + step) % n_items for step in range(max_len + 3)]
        split = ("train", "train", "val", "test")[user % 4]
        if split == "train":
            for end in range(len(walk)):
                history = walk[max(0, end - max_len) : end]
                train.append({"user_id": user, "history": history, "target": walk[end]})
            continue
        target = walk[-1]
        others = [i for i in range(n_items) if i != target]
        candidates = [target, *rng.choice(others, size=k - 1, replace=False).tolist()]
        rng.shuffle(candidates)
        held_out[split].append(
            {"user_id": user, "history": walk[-1 - max_len : -1], "target": target,
             "candidates": candidates}
        )
    write_split(directory, "train", train)
    write_split(directory, "val", held_out["val"])
    write_split(directory, "test", held_out["test"])
    write_stats(directory, n_items, max_len, k)
    return directory
