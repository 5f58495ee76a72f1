"""Validate a raw log and give items and users dense ids, in DuckDB (no Python loop over interactions)."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

from recsys.data.sources import RawLog
from recsys.data.titles import clean_title, movielens_title
from recsys.data.duck import first_row
from recsys.errors import InputError


@dataclass
class Log:
    """A validated interaction log with dense ids."""

    interactions: pa.Table  # user_id int64, item_id int32, ts double, row int64
    items: pa.Table  # item_id int32, title, raw_title, source_id
    dropped_items: int
    dropped_interactions: int


def _dense_order(column: str) -> str:
    """Numeric ids sort as numbers (2 before 10), any other ids as text."""
    return f"TRY_CAST({column} AS BIGINT) NULLS LAST, {column}"


def _validate_items(con: duckdb.DuckDBPyConnection, raw: RawLog, missing_title: str) -> tuple[pa.Table, pa.Table]:
    """Dense item ids in source-id order; returns (items, ids of items dropped for lacking a title)."""
    path = raw.items_file
    con.sql(
        "CREATE TABLE items_raw AS SELECT trim(CAST(item AS VARCHAR)) AS item, "
        "CAST(raw_title AS VARCHAR) AS raw_title, row FROM items_src"
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
    rows = con.sql(
        "SELECT item, raw_title, min(row) FROM items_raw GROUP BY item, raw_title "
        f"ORDER BY {_dense_order('item')}"
    ).fetchall()
    normalise = movielens_title if raw.title_style == "movielens" else clean_title
    titles = [normalise(title) if title is not None else "" for _, title, _ in rows]
    empty = [(row, item) for (item, _, row), title in zip(rows, titles) if not title]
    if empty and missing_title == "error":
        row, item = min(empty)
        raise InputError(
            path, f"row {row}: item {item!r} has an empty title (expected text; data.missing_title=drop drops such items)"
        )
    kept = [(item, raw_title or "", title) for (item, raw_title, _), title in zip(rows, titles) if title]
    items = pa.table(
        {
            "item_id": pa.array(range(len(kept)), pa.int32()),
            "title": pa.array([t for _, _, t in kept], pa.string()),
            "raw_title": pa.array([r for _, r, _ in kept], pa.string()),
            "source_id": pa.array([i for i, _, _ in kept], pa.string()),
        }
    )
    dropped = pa.table({"item": pa.array([item for _, item in empty], pa.string())})
    return items, dropped


def validate_log(raw: RawLog, missing_title: str = "error") -> Log:
    """Check every rule on the raw log; on the first violation stop with the file and row named."""
    con = duckdb.connect()
    con.register("items_src", raw.items)
    con.register("inter_src", raw.interactions)
    items, dropped = _validate_items(con, raw, missing_title)
    con.register("items", items)
    con.register("dropped", dropped)
    path = raw.interactions_file
    con.sql(
        """CREATE TABLE inter AS SELECT trim(CAST(user AS VARCHAR)) AS user,
           trim(CAST(item AS VARCHAR)) AS item, CAST(ts AS VARCHAR) AS ts_text,
           TRY_CAST(ts AS DOUBLE) AS ts, row FROM inter_src"""
    )
    checks = [
        ("user IS NULL OR user = ''", "empty user id (expected an id in every row)"),
        ("item IS NULL OR item = ''", "empty item id (expected an id in every row)"),
        ("ts IS NULL", "timestamp {ts_text!r} is not numeric (expected a number, e.g. Unix seconds)"),
        (
            "item NOT IN (SELECT source_id FROM items) AND item NOT IN (SELECT item FROM dropped)",
            f"item {{item!r}} is not in the items file {raw.items_file}",
        ),
    ]
    for condition, problem in checks:
        bad = first_row(con, f"SELECT row, item, ts_text FROM inter WHERE {condition} ORDER BY row")
        if bad:
            raise InputError(path, f"row {bad[0]}: " + problem.format(item=bad[1], ts_text=bad[2]))
    total = first_row(con, "SELECT count(*) FROM inter")[0]
    interactions = con.sql(
        f"""WITH users AS (SELECT user, CAST(row_number() OVER (ORDER BY {_dense_order('user')}) - 1 AS BIGINT) AS user_id
                           FROM (SELECT DISTINCT user FROM inter JOIN items ON inter.item = items.source_id))
            SELECT users.user_id, items.item_id, inter.ts, inter.row
            FROM inter JOIN items ON inter.item = items.source_id JOIN users USING (user)
            ORDER BY inter.row"""
    ).to_arrow_table()
    return Log(
        interactions=interactions,
        items=items,
        dropped_items=dropped.num_rows,
        dropped_interactions=total - interactions.num_rows,
    )
