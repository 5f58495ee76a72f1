"""Small DuckDB helpers shared by the data modules."""

from __future__ import annotations

import duckdb


def first_row(con: duckdb.DuckDBPyConnection, query: str) -> tuple | None:
    """The first row of `query`, or None when it returns nothing."""
    rows = con.sql(query).limit(1).fetchall()
    return rows[0] if rows else None
