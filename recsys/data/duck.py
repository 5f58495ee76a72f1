"""DuckDB on disk with a memory cap, and Parquet written from a stream of record batches.

The prepare stage keeps the interaction log in DuckDB, never in Python: a database file in a
scratch directory plus `memory_limit` and `temp_directory` let joins, windows and sorts spill, so
peak memory stays near the cap however large the log is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from recsys.config import DUCKDB_MEMORY_LIMIT
from recsys.errors import InputError

# pyarrow's default row group size, so a table smaller than this is written as the one row group
# that pq.write_table gives it (streamed and whole writes are then byte-identical).
ROW_GROUP_ROWS = 1024 * 1024
BATCH_ROWS = 64 * 1024


def connect(scratch: Path, memory_limit: str = DUCKDB_MEMORY_LIMIT) -> duckdb.DuckDBPyConnection:
    """A database file under `scratch` whose operators spill to `scratch/spill` beyond `memory_limit`."""
    con = duckdb.connect(str(Path(scratch) / "work.duckdb"))
    try:
        con.execute(f"SET memory_limit = {quote(memory_limit)}")
    except duckdb.Error:
        raise InputError("--memory-limit", f"{memory_limit!r} is not a size (expected e.g. 500MB or 4GB)") from None
    con.execute(f"SET temp_directory = {quote(str(Path(scratch) / 'spill'))}")
    con.execute("SET preserve_insertion_order = false")  # every query that needs an order says so
    return con


def quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def first_row(con: duckdb.DuckDBPyConnection, query: str) -> tuple | None:
    """The first row of `query`, or None when it returns nothing."""
    rows = con.sql(query).limit(1).fetchall()
    return rows[0] if rows else None


def batches(con: duckdb.DuckDBPyConnection, query: str) -> pa.RecordBatchReader:
    """The result of `query` as a stream of record batches."""
    return con.sql(query).to_arrow_reader(BATCH_ROWS)


def write_parquet(path: Path, schema: pa.Schema, stream: Iterable[pa.RecordBatch]) -> int:
    """Write `stream` to `path` in row groups of ROW_GROUP_ROWS, holding one group at most; -> rows."""
    pending: list[pa.RecordBatch] = []
    held = total = 0
    with pq.ParquetWriter(path, schema) as writer:
        for batch in stream:
            pending.append(batch)
            held += batch.num_rows
            total += batch.num_rows
            while held >= ROW_GROUP_ROWS:
                group = pa.Table.from_batches(pending, schema).combine_chunks()
                writer.write_table(group.slice(0, ROW_GROUP_ROWS))
                rest = group.slice(ROW_GROUP_ROWS)
                pending, held = rest.to_batches(), rest.num_rows
        if held or not total:
            writer.write_table(pa.Table.from_batches(pending, schema).combine_chunks())
    return total
