"""The data stages at scale: streamed writes, spilling under a memory cap, batch-independent sampling.

Row-group and batch sizes are shrunk here so the streaming paths run many times on small data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from recsys.config import PromptParams
from recsys.data import duck
from recsys.prompts import materialize as materialize_module
from helpers import run_cli, toy_dataset, write_params


def synthetic_csv(root: Path, n_users: int = 300, per_user: int = 40, n_items: int = 500) -> Path:
    """A CSV log with string user ids; item i has title 'Item i'."""
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(n_users), per_user)
    items = rng.integers(1, n_items + 1, len(users))
    stamps = rng.integers(0, 10**6, len(users))
    lines = ["user,item,timestamp"] + [f"u{u},{i},{t}" for u, i, t in zip(users, items, stamps)]
    (root / "inter.csv").write_text("\n".join(lines) + "\n")
    (root / "items.csv").write_text("item,title\n" + "".join(f"{i},Item {i}\n" for i in range(1, n_items + 1)))
    return root


def prepare(root: Path, out: str, *extra: str) -> Path:
    params = write_params(root, {"n_candidates": 10}, toy_dataset(root))
    result = run_cli("prepare", "--params", str(params), "--out", str(root / out), *extra)
    assert result.exit_code == 0, result.output
    return root / out


def test_streamed_parquet_matches_a_whole_table_write(tmp_path, monkeypatch):
    table = pa.table({"user_id": np.arange(1000), "history": [[i, i + 1] for i in range(1000)]})
    pq.write_table(table, tmp_path / "whole.parquet")
    duck.write_parquet(tmp_path / "streamed.parquet", table.schema, table.to_batches(max_chunksize=37))
    assert (tmp_path / "whole.parquet").read_bytes() == (tmp_path / "streamed.parquet").read_bytes()
    monkeypatch.setattr(duck, "ROW_GROUP_ROWS", 300)
    rows = duck.write_parquet(tmp_path / "groups.parquet", table.schema, table.to_batches(max_chunksize=37))
    groups = pq.ParquetFile(tmp_path / "groups.parquet")
    assert rows == 1000 and groups.num_row_groups == 4
    assert [groups.metadata.row_group(i).num_rows for i in range(4)] == [300, 300, 300, 100]
    assert groups.read().equals(table)


def test_prepare_under_a_tiny_memory_cap_and_small_row_groups_gives_the_same_files(tmp_path, monkeypatch):
    synthetic_csv(tmp_path)
    roomy = prepare(tmp_path, "roomy")
    monkeypatch.setattr(duck, "ROW_GROUP_ROWS", 1000)  # staged CSV and train.parquet in many row groups
    monkeypatch.setattr(duck, "BATCH_ROWS", 128)
    tight = prepare(tmp_path, "tight", "--memory-limit", "16MB")
    for name in ("items", "train", "val", "test"):
        assert pq.read_table(roomy / f"{name}.parquet").equals(pq.read_table(tight / f"{name}.parquet")), name
    assert (roomy / "stats.json").read_text() == (tight / "stats.json").read_text()
    assert pq.ParquetFile(tight / "train.parquet").num_row_groups > 1
    assert not list(tmp_path.glob(".prepare-scratch-*"))  # the scratch database and spill files are gone


def test_row_numbers_survive_staging_in_many_row_groups(tmp_path, monkeypatch):
    synthetic_csv(tmp_path)
    lines = (tmp_path / "inter.csv").read_text().splitlines()
    lines[5000] = lines[5000].rsplit(",", 1)[0] + ",soon"  # data row 5000 (line 0 is the header)
    (tmp_path / "inter.csv").write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(duck, "ROW_GROUP_ROWS", 700)
    params = write_params(tmp_path, {}, toy_dataset(tmp_path))
    result = run_cli("prepare", "--params", str(params), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "inter.csv: row 5000: timestamp 'soon' is not numeric" in result.stderr


def test_training_sample_does_not_depend_on_read_batches(tmp_path, monkeypatch):
    prepared = prepare(synthetic_csv(tmp_path), "prepared")
    params = PromptParams(train_examples=200, seed=3)
    whole = materialize_module.training_rows(prepared / "train.parquet", 500, 10, params)
    monkeypatch.setattr(materialize_module, "_BATCH_ROWS", 97)
    batched = materialize_module.training_rows(prepared / "train.parquet", 500, 10, params)
    assert whole.equals(batched) and whole.num_rows == 200 and batched.column("target").num_chunks == 1
    train = pq.read_table(prepared / "train.parquet").to_pylist()
    seen: dict[int, set[int]] = {}
    for window in train:
        seen.setdefault(window["user_id"], set()).update(window["history"] + [window["target"]])
    for row in whole.to_pylist():
        assert train[row["example_id"]]["target"] == row["target"]
        negatives = set(row["candidates"]) - {row["target"]}
        assert len(negatives) == 9 and not negatives & seen[row["user_id"]]


def test_a_memory_limit_that_is_not_a_size_is_one_line(toy_log):
    params = write_params(toy_log, {}, toy_dataset(toy_log))
    result = run_cli("prepare", "--params", str(params), "--out", str(toy_log / "out"), "--memory-limit", "lots")
    assert result.exit_code == 2 and not (toy_log / "out").exists()
    assert result.stderr.strip() == "error: --memory-limit: 'lots' is not a size (expected e.g. 500MB or 4GB)"


def test_running_out_of_memory_under_the_cap_is_one_line_and_leaves_nothing(tmp_path):
    params = write_params(synthetic_csv(tmp_path), {"n_candidates": 10}, toy_dataset(tmp_path))
    result = run_cli("prepare", "--params", str(params), "--out", str(tmp_path / "out"), "--memory-limit", "1MB")
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: --memory-limit: DuckDB needed more than 1MB (expected a larger cap)"
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".*"))
