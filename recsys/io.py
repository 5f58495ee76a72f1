"""Atomic output directories, small JSON files (typed records among them) and checked Parquet columns, so a failed
stage never leaves half an output and a missing input is named."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import secrets
import shutil
import socket
from pathlib import Path
from typing import Iterator, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from recsys.errors import InputError

Record = TypeVar("Record")

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


def write_record(record: object, path: Path) -> None:
    """A dataclass's fields as write_json's bytes; a field left at its default is not written, so an optional key
    appears only where it applies."""
    write_json(path, {f.name: getattr(record, f.name) for f in dataclasses.fields(record)
                      if f.default is dataclasses.MISSING or getattr(record, f.name) != f.default})


def read_record(cls: type[Record], folder: Path, file: str, what: str, stage: str) -> Record:
    """The dataclass `cls` from `folder/file`, which `recsys <stage>` writes into a `what` folder; a missing file,
    a file that is not a JSON object or a missing key is one line naming the folder, or the file and the key."""
    path = Path(folder) / file
    if not path.is_file():
        raise InputError(str(folder), f"not a {what} folder (expected {file}; run `recsys {stage}`)")
    try:
        fields = json.loads(path.read_text())
    except ValueError as err:  # not JSON, or not text
        raise InputError(str(path), f"not JSON ({err})") from None
    if not isinstance(fields, dict):
        raise InputError(str(path), f"expected a JSON object, got {type(fields).__name__} (re-run `recsys {stage}`)")
    known = dataclasses.fields(cls)
    missing = [f.name for f in known if f.default is dataclasses.MISSING and f.name not in fields]
    if missing:
        raise InputError(str(path), f"missing key {missing[0]!r} (written by an older version? re-run "
                         f"`recsys {stage}`)")
    return cls(**{f.name: fields[f.name] for f in known if f.name in fields})


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
