"""Seeded malformed inputs: prepare either writes a valid data set or stops with one line, exit 2,
and no output; never a traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from helpers import run_cli, toy_dataset, write_params
from recsys.data.stats import PreparedStats

CASES = 40


def base_files() -> dict[str, list[str]]:
    inter = ["user,item,timestamp"] + [f"u{u},{(u * 2 + j) % 12 + 1},{10 * j}" for u in range(6) for j in range(5)]
    items = ["item,title"] + [f"{i},Film {i}" for i in range(1, 13)]
    return {"inter.csv": inter, "items.csv": items}


def _field(rng: np.random.Generator, lines: list[str], value: str) -> None:
    """Set one field of one data row to `value`."""
    row = int(rng.integers(1, len(lines))) if len(lines) > 1 else 0
    fields = lines[row].split(",")
    fields[int(rng.integers(len(fields)))] = value
    lines[row] = ",".join(fields)


def _random_bytes(rng: np.random.Generator) -> str:
    return bytes(rng.integers(0, 256, int(rng.integers(1, 12)), dtype=np.uint8)).decode("latin-1")


MUTATIONS = [
    lambda rng, lines: lines.__setitem__(0, ",".join(lines[0].split(",")[:-1])),  # a missing column
    lambda rng, lines: lines.__setitem__(0, lines[0] + "," + lines[0].split(",")[0]),  # a duplicated header
    lambda rng, lines: _field(rng, lines, "yesterday"),  # non-numeric (or unknown) values
    lambda rng, lines: _field(rng, lines, ""),  # empty ids, titles, timestamps
    lambda rng, lines: _field(rng, lines, str(rng.choice(["inf", "nan", "-1e999", "NA", "99", "0x1f"]))),
    lambda rng, lines: _field(rng, lines, _random_bytes(rng)),  # random bytes (maybe not utf-8, maybe a quote)
    lambda rng, lines: lines.__setitem__(int(rng.integers(len(lines))), lines[-1] + ",extra"),  # a row too wide
    lambda rng, lines: lines.__setitem__(int(rng.integers(1, len(lines))), "u1"),  # a row too narrow
    lambda rng, lines: lines.__setitem__(slice(1, None), []),  # a header and no rows
    lambda rng, lines: lines.append(lines[int(rng.integers(1, len(lines)))]),  # a duplicated row
    lambda rng, lines: lines.append(f"{rng.integers(1, 13)},Another title"),  # a second title (in items.csv)
    lambda rng, lines: lines.insert(int(rng.integers(1, len(lines) + 1)), ""),  # a blank line
    lambda rng, lines: lines.__setitem__(0, "\xef\xbb\xbf" + lines[0]),  # a UTF-8 byte-order mark
    lambda rng, lines: lines.__setitem__(slice(None), [_random_bytes(rng) for _ in lines[:3]]),  # all garbage
]


def case_files(seed: int) -> tuple[dict[str, bytes], dict]:
    """Both files after 0-2 seeded mutations, and seeded data params."""
    rng = np.random.default_rng(seed)
    files = base_files()
    for _ in range(int(rng.integers(0, 3))):
        lines = files[str(rng.choice(list(files)))]
        MUTATIONS[int(rng.integers(len(MUTATIONS)))](rng, lines)
    data = {"split": str(rng.choice(["user", "loo"])), "n_candidates": int(rng.integers(2, 8)),
            "min_history": int(rng.integers(0, 3)), "missing_title": str(rng.choice(["error", "drop"]))}
    return {name: ("\n".join(lines) + "\n").encode("latin-1") for name, lines in files.items()}, data


def check_prepared(out: Path, data: dict) -> None:
    stats = PreparedStats.read(out)
    n_items = pq.read_table(out / "items.parquet").num_rows
    assert stats.items == n_items and stats.examples["train"] > 0
    for split in ("val", "test"):
        for row in pq.read_table(out / f"{split}.parquet").to_pylist():
            assert len(set(row["candidates"])) == data["n_candidates"] and row["target"] in row["candidates"]
            assert all(0 <= item < n_items for item in row["candidates"] + row["history"])


def outcome(root: Path, seed: int) -> int:
    """Run case `seed` in `root`, check the contract, -> the exit status."""
    files, data = case_files(seed)
    for name, content in files.items():
        (root / name).write_bytes(content)
    params = write_params(root, data, toy_dataset(root))
    result = run_cli("prepare", "--params", str(params), "--out", str(root / "out"))
    assert result.exit_code in (0, 2), (seed, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), (seed, result.exception)
    assert not list(root.glob(".out.tmp-*")) and not list(root.glob(".prepare-scratch-*")), seed
    if result.exit_code == 0:
        check_prepared(root / "out", data)
    else:
        message = result.stderr.strip()
        assert message.startswith("error: ") and "\n" not in message, (seed, message)
        assert not (root / "out").exists(), seed
    return result.exit_code


def test_malformed_input_keeps_the_contract(tmp_path):
    outcomes = []
    for seed in range(CASES):
        (tmp_path / str(seed)).mkdir()
        outcomes.append(outcome(tmp_path / str(seed), seed))
    # Both branches of the contract are exercised (a generator too harsh or too mild would test one).
    assert 5 <= outcomes.count(0) <= CASES - 5, outcomes
