"""The split protocol: time-ordered sequences, users split 8:1:1 (or leave-one-out), sliding windows.

All of it runs in DuckDB (spilling to disk when the log outgrows memory); Python only draws the
seeded user permutation.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from recsys.config import DataParams

SPLITS = ("train", "val", "test")


def user_assignment(user_ids: np.ndarray, ratios: list[float], seed: int) -> pa.Table:
    """Seeded permutation of the sorted users, cut by `ratios` into train/val/test."""
    users = np.sort(user_ids)
    order = np.random.default_rng(seed).permutation(len(users))
    n_train = int(round(ratios[0] / sum(ratios) * len(users)))
    n_val = int(round(ratios[1] / sum(ratios) * len(users)))
    label = np.full(len(users), 2, np.int8)
    label[order[:n_train]] = 0
    label[order[n_train : n_train + n_val]] = 1
    return pa.table({"user_id": users, "split": pa.array(np.array(SPLITS)[label])})


def sequences_to_examples(
    con: duckdb.DuckDBPyConnection, source: str, assignment: pa.Table | None, params: DataParams
) -> dict[str, str]:
    """A query per split giving its examples, from per-user item sequences in table `source`.

    `source`: user_id, item_id, order (any sortable columns `ts`, `row`: oldest first, stable).
    With `assignment` (user_id -> split) users are split whole, val/test users giving their last
    item; without it (leave-one-out) every user's last item is test and second last val.
    Each example: user_id, history (list<int32>, up to max_len previous items, oldest first), target.
    """
    con.sql(
        f"""CREATE TABLE win AS
            SELECT user_id, pos, n, item_id AS target,
                   coalesce(list(item_id) OVER (PARTITION BY user_id ORDER BY pos
                            ROWS BETWEEN {int(params.max_len)} PRECEDING AND 1 PRECEDING), []::INTEGER[]) AS history
            FROM (SELECT user_id, CAST(item_id AS INTEGER) AS item_id,
                         row_number() OVER (PARTITION BY user_id ORDER BY ts, row) - 1 AS pos,
                         count(*) OVER (PARTITION BY user_id) AS n
                  FROM {source})"""
    )
    min_hist = f"len(history) >= {int(params.min_history)}"
    if assignment is not None:
        con.from_arrow(assignment).create("assignment")
        where = {
            "train": f"split = 'train' AND {min_hist}",
            "val": "split = 'val' AND pos = n - 1",
            "test": "split = 'test' AND pos = n - 1",
        }
        windows = "win JOIN assignment USING (user_id)"
    else:
        where = {"train": f"pos < n - 2 AND {min_hist}", "val": "pos = n - 2", "test": "pos = n - 1"}
        windows = "win"
    return {
        split: f"""SELECT CAST(user_id AS BIGINT) AS user_id, CAST(history AS INTEGER[]) AS history,
                          CAST(target AS INTEGER) AS target
                   FROM {windows} WHERE {condition} ORDER BY user_id, pos"""
        for split, condition in where.items()
    }


def split_log(con: duckdb.DuckDBPyConnection, params: DataParams) -> dict[str, str]:
    """A query per split for the validated log in table `log` under params.split."""
    if params.split == "loo":
        return sequences_to_examples(con, "log", None, params)
    users = con.sql("SELECT DISTINCT user_id FROM log").fetchnumpy()["user_id"]
    return sequences_to_examples(con, "log", user_assignment(users, params.split_ratios, params.seed), params)
