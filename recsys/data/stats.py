"""The prepared data's statistics (stats.json): what prepare read, kept and dropped, and the split's settings.

Written by prepare and read by pretrain and materialize (the history length) and the benches, in this one module,
so the keys are a typed record, not a dict whose keys each reader spells again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from recsys.io import read_record, write_record

FILE = "stats.json"


@dataclass(frozen=True)
class PreparedStats:
    dataset: str
    source: str  # the dataset's source kind (interactions, movielens-100k, llara)
    split: str  # data.split, or "authors' files" where the source came split
    notes: list[str]  # what a reader should know about the data (also printed by the stage)
    items: int
    users: int
    interactions: int
    truncated_titles: int  # titles cut to data.max_title_chars
    n_candidates: int  # candidates of a val/test example
    max_len: int  # most recent items kept in a history (data.max_len); the SR model and the prompts read as many
    examples: dict[str, int]  # per split
    mean_history_length: dict[str, float]  # per split
    dropped_items: int | None = None  # items without a title; None: the authors' files, written as read
    dropped_interactions: int | None = None  # their interactions

    def write(self, folder: Path) -> None:
        write_record(self, Path(folder) / FILE)

    @classmethod
    def read(cls, folder: Path) -> PreparedStats:
        return read_record(cls, folder, FILE, "prepared data", "prepare")
