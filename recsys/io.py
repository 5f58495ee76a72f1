"""Atomic output directories, small JSON files and checked Parquet columns, so a failed stage never leaves half an
output and a missing input is named."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from recsys.errors import InputError

# Kept when atomic_dir replaces a directory: DVC writes and commits one inside a stage's output folder.
KEPT = ".gitignore"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def owned_dir(parent: Path, prefix: str) -> Path:
    """A new directory `parent/<prefix><host>-<pid>-<random>`, mode from the umask as for mkdir.

    First removes the `prefix` directories this host's dead processes left: what a kill -9 leaves,
    since no cleanup runs then. Those of live processes (a concurrent run) and of other hosts stay.
    """
    parent.mkdir(parents=True, exist_ok=True)
    owner = re.compile(re.escape(prefix) + r"(?P<host>.+)-(?P<pid>\d+)-[0-9a-f]{8}")
    host = socket.gethostname()
    for old in parent.iterdir():
        match = owner.fullmatch(old.name)
        if match and match["host"] == host and not _alive(int(match["pid"])):
            shutil.rmtree(old, ignore_errors=True)
    while True:
        path = parent / f"{prefix}{host}-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


@contextlib.contextmanager
def scratch_dir(parent: Path, prefix: str) -> Iterator[Path]:
    """An owned_dir for the duration of the block, removed afterwards whatever happens."""
    path = owned_dir(Path(parent), prefix)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield a temporary sibling directory; on success it replaces `final`, on error it is removed.

    A `.gitignore` already in `final` survives the replacement unless the new contents bring one.
    """
    final = Path(final)
    tmp = owned_dir(final.parent, f".{final.name}.tmp-")
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if (final / KEPT).is_file() and not (tmp / KEPT).exists():
        shutil.copy2(final / KEPT, tmp / KEPT)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)


def write_json(path: Path, obj: object) -> None:
    """Write pretty, key-sorted JSON so identical content gives identical bytes."""
    Path(path).write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def read_column(path: Path, name: str) -> list:
    """One column of a Parquet file as a list; a missing or unreadable file or a missing column is an InputError
    naming the file and the column."""
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "file not found (run `recsys prepare`)")
    try:
        names = pq.read_schema(path).names
        if name not in names:
            raise InputError(str(path), f"missing column {name!r} (it has {', '.join(names) or 'none'}; "
                             "re-run `recsys prepare`)")
        return pq.read_table(path, columns=[name]).column(name).to_pylist()
    except (pa.ArrowException, OSError) as err:
        raise InputError(str(path), f"not a readable Parquet file ({str(err).splitlines()[0]})") from None
