"""Atomic output directories: what survives a replacement, their mode, and leftovers of killed runs."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys

import pytest

from recsys.io import atomic_dir


def test_replacing_a_directory_keeps_its_gitignore(tmp_path):
    final = tmp_path / "sasrec"
    final.mkdir()
    (final / ".gitignore").write_text("/model.safetensors\n")
    (final / "old.txt").write_text("old")
    with atomic_dir(final) as tmp:
        (tmp / "model.safetensors").write_text("new")
    assert sorted(p.name for p in final.iterdir()) == [".gitignore", "model.safetensors"]
    assert (final / ".gitignore").read_text() == "/model.safetensors\n"
    with atomic_dir(final) as tmp:  # new contents that bring their own .gitignore keep theirs
        (tmp / ".gitignore").write_text("/other\n")
    assert sorted(p.name for p in final.iterdir()) == [".gitignore"]
    assert (final / ".gitignore").read_text() == "/other\n"


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_output_directory_mode_follows_the_umask(tmp_path, umask):
    previous = os.umask(umask)
    try:
        with atomic_dir(tmp_path / "out") as tmp:
            (tmp / "a").write_text("")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o777 & ~umask


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()  # reaped: no process has this id any more
    return process.pid


def test_leftovers_of_dead_processes_on_this_host_are_removed(tmp_path):
    host, dead = socket.gethostname(), dead_pid()
    names = {
        f".out.tmp-{host}-{dead}-0123abcd": False,  # a killed run of this output: removed
        f".out.tmp-{host}-{os.getpid()}-89abcdef": True,  # a live process's: kept
        f".out.tmp-elsewhere-{dead}-0123abcd": True,  # another host's: its process cannot be checked
        f".other.tmp-{host}-{dead}-0123abcd": True,  # another output's
        ".out.tmp-notes": True,  # not a name atomic_dir gives
    }
    for name in names:
        (tmp_path / name).mkdir()
        (tmp_path / name / "part.parquet").write_text("half")
    with atomic_dir(tmp_path / "out") as tmp:
        assert tmp.name.startswith(f".out.tmp-{host}-{os.getpid()}-")
    assert {name: (tmp_path / name).exists() for name in names} == names
    assert (tmp_path / "out").is_dir()
