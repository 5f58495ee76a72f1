"""Validate a raw log and give items and users dense ids, in DuckDB (no Python loop over interactions).

The validated log stays in the database as table `log` (user_id, item_id, ts, row), with table
`users` (user_id, user: the id in the file) for messages; the items are streamed to items.parquet
as they are numbered and scanned back as view `items`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import duckdb
import pyarrow as pa

from recsys.data.duck import batches, first_row, quote, write_parquet
from recsys.data.sources import RawLog
from recsys.data.titles import BoundedTitles, clean_title, movielens_title
from recsys.errors import InputError

ITEMS_SCHEMA = pa.schema(
    [("item_id", pa.int32()), ("title", pa.string()), ("raw_title", pa.string()), ("source_id", pa.string())]
)


@dataclass
class Log:
    """Counts of a validated log; the log itself is table `log` and view `items` of the connection."""

    interactions: int
    items: int
    dropped_items: int
    dropped_interactions: int
    truncated_titles: int


def _dense_order(column: str) -> str:
    """Numeric ids sort as numbers (2 before 10), any other ids as text."""
    return f"TRY_CAST({column} AS BIGINT) NULLS LAST, {column}"


def _number_items(
    con: duckdb.DuckDBPyConnection, normalise, bound: BoundedTitles, dropped: list[tuple[int, str]]
) -> Iterator[pa.RecordBatch]:
    """Distinct (item, title) in source-id order with clean, bounded titles and dense ids; empty titles go
    to `dropped`."""
    next_id = 0
    stream = batches(
        con,
        f"SELECT item, raw_title, min(row) AS row FROM items_raw GROUP BY item, raw_title ORDER BY {_dense_order('item')}",
    )
    for batch in stream:
        kept: dict[str, list] = {"title": [], "raw_title": [], "source_id": []}
        for item, raw, row in zip(*(batch.column(c).to_pylist() for c in ("item", "raw_title", "row"))):
            title = normalise(raw) if raw is not None else ""
            if not title:
                dropped.append((row, item))
                continue
            kept["title"].append(bound(title))
            kept["raw_title"].append(raw or "")
            kept["source_id"].append(item)
        ids = pa.array(range(next_id, next_id + len(kept["title"])), pa.int32())
        next_id += len(ids)
        yield pa.RecordBatch.from_arrays([ids, *(pa.array(kept[c], pa.string()) for c in kept)], schema=ITEMS_SCHEMA)


def _bounded_titles(con: duckdb.DuckDBPyConnection, normalise, limit: int) -> BoundedTitles:
    """The cut of every over-long title, from the titles that may reach `limit` characters (only those
    are held: a clean title is never longer than its raw text's bytes)."""
    raw = con.sql(f"SELECT raw_title FROM items_raw WHERE strlen(raw_title) >= {int(limit)} "
                  f"ORDER BY {_dense_order('item')}, row").fetchall()
    return BoundedTitles((normalise(title) for (title,) in raw), limit)


def _validate_items(
    con: duckdb.DuckDBPyConnection, raw: RawLog, missing_title: str, max_title_chars: int, items_out: Path
) -> tuple[int, int]:
    """Write items_out (dense ids in source-id order) and table `dropped` (items without a title);
    -> (items kept, titles cut to max_title_chars)."""
    path = raw.items.shown
    with raw.items.scanning():
        con.sql(
            "CREATE TABLE items_raw AS SELECT trim(CAST(item AS VARCHAR)) AS item, "
            f"CAST(raw_title AS VARCHAR) AS raw_title, row FROM ({raw.items.sql()})"
        )
    bad = first_row(con, "SELECT row FROM items_raw WHERE item IS NULL OR item = '' ORDER BY row")
    if bad:
        raise InputError(path, f"row {bad[0]}: empty item id (expected an id in every row)")
    clash = first_row(
        con,
        """SELECT b.row, b.item, b.raw_title, a.row, a.raw_title FROM items_raw a JOIN items_raw b
           ON a.item = b.item AND a.row < b.row AND a.raw_title IS DISTINCT FROM b.raw_title
           ORDER BY b.row"""
    )
    if clash:
        raise InputError(
            path,
            f"row {clash[0]}: item {clash[1]!r} has title {clash[2]!r} but row {clash[3]} gave "
            f"{clash[4]!r} (expected one title per item)",
        )
    dropped: list[tuple[int, str]] = []
    normalise = movielens_title if raw.title_style == "movielens" else clean_title
    bound = _bounded_titles(con, normalise, max_title_chars)
    kept = write_parquet(items_out, ITEMS_SCHEMA, _number_items(con, normalise, bound, dropped))
    if dropped and missing_title == "error":
        row, item = min(dropped)
        raise InputError(
            path, f"row {row}: item {item!r} has an empty title (expected text; data.missing_title=drop drops such items)"
        )
    con.sql(f"CREATE VIEW items AS SELECT * FROM read_parquet({quote(str(items_out))})")
    con.from_arrow(pa.table({"item": pa.array([item for _, item in dropped], pa.string())})).create("dropped")
    return kept, bound.cut


def _rated_interactions(con: duckdb.DuckDBPyConnection, raw: RawLog) -> str:
    """The interactions query, less those rated below min_rating (a non-numeric rating is an error)."""
    query = raw.interactions.sql()
    if raw.min_rating is None:
        return query
    with raw.interactions.scanning():
        bad = first_row(con, f"SELECT row, rating FROM ({query}) WHERE TRY_CAST(rating AS DOUBLE) IS NULL ORDER BY row")
    if bad:
        column = raw.interactions.columns["rating"]
        raise InputError(raw.interactions.shown, f"row {bad[0]}: column {column!r} is {bad[1]!r}, expected a number")
    return f"SELECT * FROM ({query}) WHERE CAST(rating AS DOUBLE) >= {float(raw.min_rating)}"


def validate_log(con: duckdb.DuckDBPyConnection, raw: RawLog, items_out: Path, missing_title: str = "error",
                 max_title_chars: int = 200) -> Log:
    """Check every rule on the raw log; on the first violation stop with the file and row named.

    Leaves table `log` (user_id BIGINT, item_id INTEGER, ts DOUBLE, row BIGINT), table `users` and view
    `items` in `con`.
    """
    n_items, cut = _validate_items(con, raw, missing_title, max_title_chars, items_out)
    path = raw.interactions.shown
    rated = _rated_interactions(con, raw)
    with raw.interactions.scanning():
        con.sql(
            f"""CREATE TABLE inter AS SELECT trim(CAST(user AS VARCHAR)) AS user,
                trim(CAST(item AS VARCHAR)) AS item, CAST(ts AS VARCHAR) AS ts_text,
                TRY_CAST(ts AS DOUBLE) AS ts, row FROM ({rated})"""
        )
    total = first_row(con, "SELECT count(*) FROM inter")[0]
    if not total:
        rule = f" rated at least {raw.min_rating}" if raw.min_rating is not None else ""
        raise InputError(path, f"no interactions{rule} (expected at least one data row)")
    checks = [
        ("user IS NULL OR user = ''", "empty user id (expected an id in every row)"),
        ("item IS NULL OR item = ''", "empty item id (expected an id in every row)"),
        ("ts IS NULL", "timestamp {ts_text!r} is not numeric (expected a number, e.g. Unix seconds)"),
        ("NOT isfinite(ts)", "timestamp {ts_text!r} is not a finite number (expected e.g. Unix seconds)"),
        (
            "item NOT IN (SELECT source_id FROM items) AND item NOT IN (SELECT item FROM dropped)",
            f"item {{item!r}} is not in the items file {raw.items.shown}",
        ),
    ]
    for condition, problem in checks:
        bad = first_row(con, f"SELECT row, item, ts_text FROM inter WHERE {condition} ORDER BY row")
        if bad:
            raise InputError(path, f"row {bad[0]}: " + problem.format(item=bad[1], ts_text=bad[2]))
    con.sql(
        f"""CREATE TABLE users AS
            SELECT user, CAST(row_number() OVER (ORDER BY {_dense_order('user')}) - 1 AS BIGINT) AS user_id
            FROM (SELECT DISTINCT user FROM inter JOIN items ON inter.item = items.source_id)"""
    )
    con.sql(
        """CREATE TABLE log AS SELECT users.user_id, items.item_id, inter.ts, inter.row
           FROM inter JOIN items ON inter.item = items.source_id JOIN users USING (user)"""
    )
    con.sql("DROP TABLE inter")
    kept = first_row(con, "SELECT count(*) FROM log")[0]
    return Log(interactions=kept, items=n_items, dropped_items=first_row(con, "SELECT count(*) FROM dropped")[0],
               dropped_interactions=total - kept, truncated_titles=cut)
