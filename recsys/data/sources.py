"""The raw sources: packaged or local ML-100K, a user's own interactions, the authors' split files.

Raw logs come out as files to scan with columns `user`, `item`, `ts` (+ `rating`) and an items file
with `item`, `raw_title`; `recsys.data.log` validates and densifies them in DuckDB. The authors' files are
already split, so that source returns sequences directly (see `recsys.data.llara`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from recsys.config import InteractionsFormat
from recsys.data.readers import TableFile, require_file, scan_table
from recsys.errors import InputError
from recsys.packaged import packaged_movielens

@dataclass
class RawLog:
    """An interaction log and its item titles, as files to scan, before validation."""

    interactions: TableFile  # user, item, ts (text or numbers), and rating when min_rating is set
    items: TableFile  # item, raw_title
    title_style: str  # "movielens" strips years and moves articles; "plain" only trims
    min_rating: float | None = None


def load_movielens(path: str | None, scratch: Path) -> RawLog:
    """ML-100K from a directory in the official layout (u.data, u.item), or the packaged copy."""
    inter_columns = {"user": "user_id", "item": "movie_id", "ts": "timestamp"}
    item_columns = {"item": "movie_id", "raw_title": "movie_title"}
    if path is None:
        inter_file, items_file = packaged_movielens()
        interactions = scan_table(inter_file, inter_columns, scratch)
        items = scan_table(items_file, item_columns, scratch)
    else:
        inter_file, items_file = Path(path) / "u.data", Path(path) / "u.item"
        interactions = scan_table(
            inter_file, inter_columns, scratch, delimiter="\t",
            header=["user_id", "movie_id", "rating", "timestamp"],
        )
        require_file(items_file)
        items = scan_table(
            items_file, item_columns, scratch, delimiter="|", encoding="latin-1",
            header=["movie_id", "movie_title", "release_date", "video_release_date", "imdb_url"]
            + [f"genre_{i}" for i in range(19)],
        )
    return RawLog(interactions=interactions, items=items, title_style="movielens")


def load_interactions(fmt: InteractionsFormat, base: str | None, scratch: Path) -> RawLog:
    """A user's own log: any CSV/Parquet interactions file and items file, columns mapped by params."""
    if not fmt.interactions or not fmt.items:
        raise InputError("datasets.<name>.format", "the interactions source needs both `interactions` and `items` files")
    root = Path(base) if base else Path(".")
    columns = {"user": fmt.user_col, "item": fmt.item_col, "ts": fmt.time_col}
    if fmt.min_rating is not None:
        if not fmt.rating_col:
            raise InputError("datasets.<name>.format.min_rating", "needs rating_col to be set")
        columns["rating"] = fmt.rating_col
    interactions = scan_table(root / fmt.interactions, columns, scratch, encoding=fmt.encoding)
    items = scan_table(root / fmt.items, {"item": fmt.items_item_col, "raw_title": fmt.title_col}, scratch,
                       encoding=fmt.encoding)
    return RawLog(interactions=interactions, items=items, title_style="plain", min_rating=fmt.min_rating)
