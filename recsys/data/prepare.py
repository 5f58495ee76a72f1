"""The prepare stage's work: a source -> items.parquet, {train,val,test}.parquet, stats.json.

The log lives in an on-disk DuckDB database under a scratch directory with a memory cap, and the
training windows stream from it to Parquet; only val/test (one example per user) and the items
those users touched are held in memory, to draw their candidates.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Callable

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from recsys.config import DUCKDB_MEMORY_LIMIT, DataParams, DatasetSpec
from recsys.data.candidates import build_candidates, example_item_pairs
from recsys.data.duck import batches, connect, first_row, quote, write_parquet
from recsys.data.llara import load_split_files
from recsys.data.log import validate_log
from recsys.data.sources import load_interactions, load_movielens
from recsys.data.split import SPLITS, split_log
from recsys.data.stats import PreparedStats
from recsys.errors import InputError
from recsys.io import scratch_dir

EVAL_SPLITS = ("val", "test")
EMPTY_HISTORIES = ("every history is empty (no user has two interactions): a model can learn only which items "
                   "are popular")


def check_params(params: DataParams, spec: DatasetSpec) -> None:
    """What the keys' own checks at load (recsys.config) cannot see: how the split shares add up, the encoding."""
    where = "params.yaml: data"
    ratios = params.split_ratios
    if len(ratios) != 3 or not math.isclose(sum(ratios), 1, abs_tol=1e-6):
        raise InputError(f"{where}.split_ratios",
                         f"expected three non-negative numbers summing to 1 (train, val, test), got {ratios!r}")
    if spec.split and spec.source == "llara":
        raise InputError(f"params.yaml: datasets.{params.dataset}.split",
                         f"the llara source comes split by its authors (expected no split, got {spec.split!r})")
    try:
        "".encode(spec.format.encoding)
    except LookupError:
        raise InputError(f"params.yaml: datasets.{params.dataset}.format.encoding",
                         f"{spec.format.encoding!r} is not a text encoding (expected e.g. utf-8 or latin-1)") from None


def _seen_in_log(con: duckdb.DuckDBPyConnection, examples: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """(row, item) for every item each row's user interacted with anywhere in table `log`."""
    row_users = examples.column("user_id").to_numpy()  # sorted, one row per user in a split
    con.register("eval_users", examples.select(["user_id"]))
    pairs = con.sql("SELECT user_id, item_id FROM log WHERE user_id IN (SELECT user_id FROM eval_users)").fetchnumpy()
    con.unregister("eval_users")
    return np.searchsorted(row_users, np.asarray(pairs["user_id"])), np.asarray(pairs["item_id"])


def _with_candidates(table: pa.Table, seen: tuple[np.ndarray, np.ndarray], n_items: int, split: str,
                     params: DataParams, describe_user: Callable[[int], str]) -> pa.Table:
    """`describe_user(user_id)`: the user as the source names them (file and id), for messages."""
    rows, seen_items = seen
    users = table.column("user_id").to_numpy()
    candidates = build_candidates(  # [N, K]
        table.column("target").to_numpy(), rows, seen_items, n_items, params.n_candidates,
        np.random.default_rng([params.seed, EVAL_SPLITS.index(split)]),
        describe_row=lambda row: f"{describe_user(int(users[row]))} ({split} example {row})",
    )
    offsets = pa.array(np.arange(0, candidates.size + 1, params.n_candidates, dtype=np.int32))
    return table.append_column("candidates", pa.ListArray.from_arrays(offsets, pa.array(candidates.ravel())))


def _split_stats(con: duckdb.DuckDBPyConnection, out: Path) -> dict:
    files = {s: quote(str(out / f"{s}.parquet")) for s in SPLITS}
    counts = {s: first_row(con, f"SELECT count(*), coalesce(sum(len(history)), 0) FROM read_parquet({f})")
              for s, f in files.items()}
    every = ", ".join(files.values())
    return {
        "users": first_row(con, f"SELECT count(DISTINCT user_id) FROM read_parquet([{every}])")[0],
        "examples": {s: int(n) for s, (n, _) in counts.items()},
        "mean_history_length": {s: round(int(total) / n, 4) if n else 0.0 for s, (n, total) in counts.items()},
    }


def prepare(params: DataParams, spec: DatasetSpec, out: Path, memory_limit: str = DUCKDB_MEMORY_LIMIT,
            step: Callable[[str], None] = lambda what: None) -> PreparedStats:
    """Build every prepared file of `spec` under `out` and return the stats written to stats.json.

    DuckDB spills to a scratch directory beside `out` once it holds `memory_limit`; `step` hears
    which phase is running, for a progress display.
    """
    check_params(params, spec)
    params = replace(params, split=spec.split or params.split)
    with scratch_dir(Path(out).parent, ".prepare-scratch-") as scratch:
        con = connect(scratch, memory_limit)
        try:
            stats = _prepare_into(con, params, spec, out, scratch, step)
        except duckdb.OutOfMemoryException:
            raise InputError("--memory-limit", f"DuckDB needed more than {memory_limit} (expected a larger cap)") from None
        finally:
            con.close()
    stats.write(out)
    return stats


def _prepare_into(con: duckdb.DuckDBPyConnection, params: DataParams, spec: DatasetSpec, out: Path, scratch: Path,
                  step: Callable[[str], None]) -> PreparedStats:
    """Write the prepared files into `out` and count them."""
    step("reading and validating the data")
    if spec.source == "llara":  # small, already split: written as read
        files = load_split_files(spec, params)
        pq.write_table(files.items, out / "items.parquet")
        pq.write_table(files.examples["train"], out / "train.parquet")
        n_items = files.items.num_rows
        evaluation = {s: (files.examples[s], example_item_pairs(files.examples[s])) for s in EVAL_SPLITS}
        describe = {s: lambda user, s=s: f"{files.origins[s][0]}: row {user - files.origins[s][1]}"
                    for s in EVAL_SPLITS}
        counts = dict(interactions=files.interactions, notes=files.notes, split="authors' files",
                      truncated_titles=files.truncated_titles)
    else:
        raw = (load_movielens(spec.path, scratch) if spec.source == "movielens-100k"
               else load_interactions(spec.format, spec.path, scratch))
        log = validate_log(con, raw, out / "items.parquet", params.missing_title, params.max_title_chars)
        n_items = log.items
        step("writing the training windows")
        queries = split_log(con, params)
        train = batches(con, queries["train"])
        if not write_parquet(out / "train.parquet", train.schema, train):
            raise InputError(raw.interactions.shown, _no_training_examples(params))
        tables = {s: con.sql(queries[s]).to_arrow_table() for s in EVAL_SPLITS}
        evaluation = {s: (table, _seen_in_log(con, table)) for s, table in tables.items()}
        user = _source_user(con, raw.interactions.shown)
        describe = {s: user for s in EVAL_SPLITS}
        counts = dict(interactions=log.interactions, notes=[], split=params.split, dropped_items=log.dropped_items,
                      dropped_interactions=log.dropped_interactions, truncated_titles=log.truncated_titles)
    step("drawing val/test candidates")
    for split, (table, seen) in evaluation.items():
        pq.write_table(_with_candidates(table, seen, n_items, split, params, describe[split]), out / f"{split}.parquet")
    split = _split_stats(con, out)
    if not any(split["mean_history_length"].values()):
        counts["notes"].append(EMPTY_HISTORIES)
    return PreparedStats(dataset=params.dataset, source=spec.source, items=n_items, n_candidates=params.n_candidates,
                         max_len=params.max_len, **counts, **split)


def _source_user(con: duckdb.DuckDBPyConnection, path: str) -> Callable[[int], str]:
    """user_id -> the file and the id it gives that user (table `users`)."""
    def describe(user_id: int) -> str:
        (user,) = con.execute("SELECT user FROM users WHERE user_id = ?", [user_id]).fetchone()
        return f"{path}: user {user!r}"

    return describe


def _no_training_examples(params: DataParams) -> str:
    """Why the training split came out empty, and what each training user would need."""
    least = params.min_history + (3 if params.split == "loo" else 1)
    users = "users" if params.split == "loo" else "users in the train share (data.split_ratios)"
    return (f"no training examples with data.split={params.split} and data.min_history={params.min_history} "
            f"(expected {users} with at least {least} interactions)")
