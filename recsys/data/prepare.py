"""The prepare stage's work: a source -> items.parquet, {train,val,test}.parquet, stats.json."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from recsys.config import DataParams, DatasetSpec
from recsys.data.candidates import build_candidates, example_item_pairs
from recsys.data.llara import load_split_files
from recsys.data.log import validate_log
from recsys.data.sources import load_interactions, load_movielens
from recsys.data.split import SPLITS, split_log
from recsys.errors import InputError
from recsys.io import write_json

EVAL_SPLITS = ("val", "test")


def check_params(params: DataParams) -> None:
    where = "params.yaml: data"
    if len(params.split_ratios) != 3 or min(params.split_ratios) < 0 or sum(params.split_ratios) <= 0:
        raise InputError(f"{where}.split_ratios", f"expected three non-negative shares, got {params.split_ratios}")
    for key, low in (("max_len", 1), ("n_candidates", 2), ("min_history", 0)):
        if getattr(params, key) < low:
            raise InputError(f"{where}.{key}", f"expected at least {low}, got {getattr(params, key)}")
    if not 0 < params.val_holdout < 1:
        raise InputError(f"{where}.val_holdout", f"expected a share between 0 and 1, got {params.val_holdout}")


def _user_pairs(examples: pa.Table, interactions: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """(row, item) for every item each row's user interacted with anywhere in the data set."""
    row_users = examples.column("user_id").to_numpy()  # sorted, one row per user in a split
    users = interactions.column("user_id").to_numpy()
    items = interactions.column("item_id").to_numpy()
    pos = np.minimum(np.searchsorted(row_users, users), len(row_users) - 1)
    mine = row_users[pos] == users
    return pos[mine], items[mine]


def prepare(params: DataParams, spec: DatasetSpec, out: Path) -> dict:
    """Build every prepared file of `spec` under `out` and return the stats written to stats.json."""
    check_params(params)
    stats: dict = {"dataset": params.dataset, "source": spec.source, "split": params.split, "notes": []}
    if spec.source == "llara":
        files = load_split_files(spec, params)
        items, examples = files.items, files.examples
        seen = {s: example_item_pairs(examples[s]) for s in EVAL_SPLITS}
        stats.update(interactions=files.interactions, notes=files.notes)
        stats["split"] = "authors' files"
    else:
        raw = load_movielens(spec.path) if spec.source == "movielens-100k" else load_interactions(spec.format, spec.path)
        log = validate_log(raw, params.missing_title)
        items = log.items
        examples = split_log(log.interactions, params)
        seen = {s: _user_pairs(examples[s], log.interactions) for s in EVAL_SPLITS}
        stats.update(
            interactions=log.interactions.num_rows,
            dropped_items=log.dropped_items,
            dropped_interactions=log.dropped_interactions,
        )
    for index, split in enumerate(EVAL_SPLITS):
        table = examples[split]
        rows, seen_items = seen[split]
        users = table.column("user_id").to_numpy()
        candidates = build_candidates(
            table.column("target").to_numpy(), rows, seen_items, items.num_rows, params.n_candidates,
            np.random.default_rng([params.seed, index]),
            describe_row=lambda row: f"{split} example {row} (user_id {users[row]})",
        )
        offsets = pa.array(np.arange(0, candidates.size + 1, params.n_candidates, dtype=np.int32))
        examples[split] = table.append_column(
            "candidates", pa.ListArray.from_arrays(offsets, pa.array(candidates.ravel()))
        )
    pq.write_table(items, out / "items.parquet")
    for split in SPLITS:
        pq.write_table(examples[split], out / f"{split}.parquet")
    users = np.unique(np.concatenate([examples[s].column("user_id").to_numpy() for s in SPLITS]))
    stats.update(
        users=len(users),
        items=items.num_rows,
        n_candidates=params.n_candidates,
        max_len=params.max_len,
        examples={s: examples[s].num_rows for s in SPLITS},
        mean_history_length={
            s: round(float(pc.mean(pc.list_value_length(examples[s].column("history"))).as_py() or 0.0), 4)
            for s in SPLITS
        },
    )
    write_json(out / "stats.json", stats)
    return stats
