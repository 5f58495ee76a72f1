"""Arrow IPC shards of tokenised prompts: bounded rows per file, read back one shard at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pyarrow as pa

SCHEMA = pa.schema(
    [
        ("example_id", pa.int64()),  # row of the split's Parquet file
        ("user_id", pa.int64()),
        ("text", pa.string()),  # rendered prompt + answer, for reading and debugging
        ("input_ids", pa.list_(pa.int32())),  # prompt tokens then answer tokens (ending in EOS)
        ("answer_start", pa.int32()),  # first answer token; labels cover input_ids[answer_start:]
        ("slot_positions", pa.list_(pa.int32())),  # where the item tokens sit in input_ids
        ("slot_items", pa.list_(pa.int32())),  # the item each item token stands for
        ("user_position", pa.int32()),  # where the user's slot sits in input_ids; -1: no user slot
        ("history", pa.list_(pa.int32())),  # the user's items in the prompt, oldest first (the teacher reads it)
        ("candidates", pa.list_(pa.int32())),
        ("target", pa.int32()),
    ]
)


def shard_path(directory: Path, index: int) -> Path:
    return Path(directory) / f"shard-{index:05d}.arrow"


def write_shard(directory: Path, index: int, table: pa.Table) -> Path:
    path = shard_path(directory, index)
    path.parent.mkdir(parents=True, exist_ok=True)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, SCHEMA) as writer:
        writer.write_table(table.cast(SCHEMA))
    return path


def shard_files(directory: Path) -> list[Path]:
    return sorted(Path(directory).glob("shard-*.arrow"))


def iter_shards(directory: Path) -> Iterator[pa.Table]:
    """Each shard as a memory-mapped table, in order."""
    for path in shard_files(directory):
        with pa.memory_map(str(path)) as source:
            yield pa.ipc.open_file(source).read_all()


def read_all(directory: Path) -> pa.Table:
    tables = list(iter_shards(directory))
    return pa.concat_tables(tables) if tables else SCHEMA.empty_table()
