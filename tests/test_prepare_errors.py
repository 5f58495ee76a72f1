"""Every bad input stops prepare with one line naming the file and row or key, exit 2, no output."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from helpers import run_cli, toy_dataset, write_params
from recsys.data.stats import PreparedStats


def fails(tmp_path: Path, data: dict, datasets: dict, *expected: str) -> None:
    params = write_params(tmp_path, data, datasets)
    result = run_cli("prepare", "--params", str(params), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert message.count("\n") == 0 and message.startswith("error: ")
    for part in expected:
        assert part in message, message
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out.tmp-*"))


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_missing_file(toy_log):
    (toy_log / "items.csv").unlink()
    fails(toy_log, {}, toy_dataset(toy_log), "items.csv", "file not found")


def test_missing_column(toy_log):
    fails(toy_log, {}, toy_dataset(toy_log, time_col="ts"), "inter.csv", "missing column 'ts'", "timestamp")


def test_non_numeric_timestamp(toy_log):
    edit(toy_log / "inter.csv", "u0,2,101", "u0,2,yesterday")
    fails(toy_log, {}, toy_dataset(toy_log), "inter.csv", "row 2", "'yesterday' is not numeric")


def test_item_with_two_titles(toy_log):
    with (toy_log / "items.csv").open("a") as handle:
        handle.write("7,Another Title\n")
    fails(toy_log, {}, toy_dataset(toy_log), "items.csv", "row 31", "item '7'", "'Another Title'", "row 7")


def test_empty_title_is_an_error_by_default(toy_log):
    edit(toy_log / "items.csv", "5,Item 5", "5,")
    fails(toy_log, {}, toy_dataset(toy_log), "items.csv", "row 5", "item '5' has an empty title")


def test_empty_title_dropped_on_request(toy_log):
    edit(toy_log / "items.csv", "5,Item 5", '5,"  "')
    params = write_params(toy_log, {"missing_title": "drop", "n_candidates": 5}, toy_dataset(toy_log))
    result = run_cli("prepare", "--params", str(params), "--out", str(toy_log / "out"))
    assert result.exit_code == 0, result.output
    stats = PreparedStats.read(toy_log / "out")
    # item 5 is the 5th item of u0 and the 2nd..5th of u1 and u2 (items (3u + j) % 30 + 1)
    assert (stats.items, stats.dropped_items, stats.dropped_interactions) == (29, 1, 2)
    assert stats.interactions == 58


def test_unknown_item(toy_log):
    edit(toy_log / "inter.csv", "u1,4,100", "u1,99,100")
    fails(toy_log, {}, toy_dataset(toy_log), "inter.csv", "row 7", "item '99' is not in the items file")


def test_undecodable_text(toy_log):
    path = toy_log / "items.csv"
    path.write_bytes(path.read_bytes().replace(b"Item 12", b"Item \xff12"))
    fails(toy_log, {}, toy_dataset(toy_log), "items.csv", "line 13", "not valid utf-8")


def test_too_few_negatives(toy_log):
    fails(toy_log, {"n_candidates": 26}, toy_dataset(toy_log), "example 0", "only 24 items", "expected at least 25")


def test_unknown_param_key(toy_log):
    fails(toy_log, {"n_candidate": 5}, toy_dataset(toy_log), "data.n_candidate", "unknown key")


def test_wrong_param_type(toy_log):
    fails(toy_log, {"max_len": "ten"}, toy_dataset(toy_log), "data.max_len", "expected int")


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("touch pwned",))


def test_pickle_with_foreign_type_is_refused(tmp_path):
    root = tmp_path / "llara"
    root.mkdir()
    (root / "id2name.txt").write_text("".join(f"{i}::Artist {i}\n" for i in range(30)))
    for name in ("train_data.df", "Val_data.df", "Test_data.df"):
        (root / name).write_bytes(pickle.dumps(_Evil()))
    fails(tmp_path, {"dataset": "x"}, {"x": {"source": "llara", "path": str(root)}},
          "Val_data.df", "refused type posix.system")
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


def test_llara_source_refuses_a_split(tmp_path):
    fails(tmp_path, {"dataset": "x"}, {"x": {"source": "llara", "path": str(tmp_path), "split": "loo"}},
          "datasets.x.split", "the llara source comes split by its authors")


def test_llara_item_out_of_range(tmp_path):
    import pandas as pd

    root = tmp_path / "llara"
    root.mkdir()
    (root / "id2name.txt").write_text("".join(f"{i}::Artist {i}\n" for i in range(30)))
    frame = pd.DataFrame({"seq": [[1, 2] + [30] * 8, [3, 77] + [30] * 8], "len_seq": [2, 2], "next": [4, 5]})
    for name in ("train_data.df", "Val_data.df", "Test_data.df"):
        frame.to_pickle(root / name)
    fails(tmp_path, {"dataset": "x"}, {"x": {"source": "llara", "path": str(root)}},
          "Val_data.df", "row 1", "item id 77", "expected 0..30")


def test_parquet_with_corrupt_pages_and_a_valid_footer(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = 60
    pq.write_table(pa.table({"user": [f"u{i % 6}" for i in range(n)], "item": [str(i % 30 + 1) for i in range(n)],
                             "timestamp": list(range(n))}), tmp_path / "inter.parquet")
    data = bytearray((tmp_path / "inter.parquet").read_bytes())
    data[8:200] = bytes((b * 7 + 13) % 256 for b in data[8:200])  # the first pages; the footer is intact
    (tmp_path / "inter.parquet").write_bytes(bytes(data))
    pq.ParquetFile(tmp_path / "inter.parquet")  # still opens: only a full read finds the damage
    (tmp_path / "items.csv").write_text("item,title\n" + "".join(f"{i},Item {i}\n" for i in range(1, 31)))
    fails(tmp_path, {}, toy_dataset(tmp_path, interactions="inter.parquet"), "inter.parquet", "not a readable file")


@pytest.mark.parametrize("ratios, expected", [
    (["0.8", "0.1", "0.1"], "data.split_ratios[0]: expected float, got '0.8'"),
    ([0.8, 0.1], "data.split_ratios: expected three non-negative numbers summing to 1 (train, val, test), got [0.8, 0.1]"),
    ([0.5, 0.3, 0.1], "data.split_ratios: expected three non-negative numbers summing to 1"),
    ([1.2, -0.1, -0.1], "data.split_ratios[0]: expected a number in [0, 1], got 1.2"),
    ([True, 0, 0], "data.split_ratios[0]: expected float, got True"),
    ([float("inf"), 0, 0], "data.split_ratios[0]: expected a finite number, got inf"),
])
def test_split_ratios_must_be_three_non_negative_numbers_summing_to_one(toy_log, ratios, expected):
    fails(toy_log, {"split_ratios": ratios}, toy_dataset(toy_log), expected)


@pytest.mark.parametrize("key, value, expected", [
    ("seed", -1, "expected an integer in [0, 4294967295], got -1"), ("max_title_chars", 3, "expected an integer >= 10"),
    ("n_candidates", 1, "expected an integer >= 2"), ("max_len", 0, "expected an integer >= 1, got 0"),
    ("val_holdout", 1, "expected a number in (0, 1), got 1.0"),
])
def test_numeric_params_outside_their_range(toy_log, key, value, expected):
    fails(toy_log, {key: value}, toy_dataset(toy_log), f"params.yaml: data.{key}: {expected}")


@pytest.mark.parametrize("encoding", ["utf-9", "base64"])
def test_unknown_encoding(toy_log, encoding):
    fails(toy_log, {}, toy_dataset(toy_log, encoding=encoding), "datasets.toy.format.encoding",
          f"{encoding!r} is not a text encoding")


def test_duplicated_header(toy_log):
    lines = (toy_log / "inter.csv").read_text().splitlines()
    lines = ["user,item,timestamp,item"] + [line.rsplit(",", 1)[0] + ",1" for line in lines[1:]]
    (toy_log / "inter.csv").write_text("\n".join(lines) + "\n")
    fails(toy_log, {}, toy_dataset(toy_log), "inter.csv", "column 'item' appears twice in the header")


def test_interactions_file_with_a_header_and_no_rows(toy_log):
    (toy_log / "inter.csv").write_text("user,item,timestamp,rating\n")
    fails(toy_log, {}, toy_dataset(toy_log), "inter.csv", "no interactions (expected at least one data row)")


def test_min_rating_that_keeps_no_interaction(toy_log):
    fails(toy_log, {}, toy_dataset(toy_log, rating_col="rating", min_rating=6),
          "inter.csv", "no interactions rated at least 6.0")


@pytest.mark.parametrize("stamp", ["inf", "nan", "-Infinity", "1e400"])
def test_non_finite_timestamp(toy_log, stamp):
    edit(toy_log / "inter.csv", "u1,6,102", f"u1,6,{stamp}")
    fails(toy_log, {}, toy_dataset(toy_log), "inter.csv", "row 9", f"timestamp {stamp!r} is not a finite number")


def test_unknown_top_level_section(toy_log):
    params = write_params(toy_log, {}, toy_dataset(toy_log))
    params.write_text(params.read_text() + "dta:\n  seed: 7\n")
    result = run_cli("prepare", "--params", str(params), "--out", str(toy_log / "out"))
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"error: {params}: dta: unknown section (expected one of data, datasets, sr, "
                                     "llm, prompts, lora, train, eval)")
    assert not (toy_log / "out").exists()


@pytest.mark.parametrize("override, expected", [
    ("dta.seed=7", "dta: unknown section"),
    ("data.sed=7", "data.sed: unknown key"),
    ("eval.batchsize=3", "eval.batchsize: unknown key"),  # a section prepare does not read
    ("datasets.toy.format.encodin=latin-1", "datasets.toy.format.encodin: unknown key"),
    ("data.seed.x=1", "'seed' holds 42, not a mapping of keys"),
    ("data=5", "data: expected a mapping of keys, got 5"),
])
def test_set_of_an_unknown_key_is_refused(toy_log, override, expected):
    params = write_params(toy_log, {"seed": 42}, toy_dataset(toy_log))
    result = run_cli("prepare", "--params", str(params), "--out", str(toy_log / "out"), "--set", override)
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert message.startswith("error: ") and "\n" not in message and expected in message, message
    assert not (toy_log / "out").exists()


def test_too_few_negatives_names_the_user_as_the_file_does(tmp_path):
    # Users 1..14 (dense 0..13); user 13 has seen 28 of the 30 items, the others 3.
    rows = ["user,item,timestamp"] + [f"{u},{(u + j) % 30 + 1},{j}" for u in range(1, 15)
                                      for j in range(28 if u == 13 else 3)]
    (tmp_path / "inter.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "items.csv").write_text("item,title\n" + "".join(f"{i},Item {i}\n" for i in range(1, 31)))
    fails(tmp_path, {"split": "loo", "n_candidates": 5}, toy_dataset(tmp_path),
          f"{tmp_path / 'inter.csv'}: user '13' (val example 12): only 2 items the user never interacted with")


def test_single_interaction_users_leave_nothing_to_train_on(tmp_path):
    (tmp_path / "inter.csv").write_text("user,item,timestamp\n" + "".join(f"u{u},{u + 1},5\n" for u in range(20)))
    (tmp_path / "items.csv").write_text("item,title\n" + "".join(f"{i},Item {i}\n" for i in range(1, 31)))
    fails(tmp_path, {"split": "loo", "n_candidates": 5}, toy_dataset(tmp_path), "inter.csv",
          "no training examples with data.split=loo and data.min_history=0 (expected users with at least 3 "
          "interactions)")


def test_pickled_numpy_scalars_load_and_code_is_still_refused(tmp_path):
    import numpy as np
    import pandas as pd

    from recsys.data.safe_pickle import read_pickled_frame
    from recsys.errors import InputError

    pairs = [[(np.int64(3), np.int64(4)), (np.int64(12), np.int64(0))]]
    pd.DataFrame({"seq": pairs, "next": [(np.int64(5), np.float64(3.5))]}).to_pickle(tmp_path / "ok.df")
    frame = read_pickled_frame(tmp_path / "ok.df")
    assert frame["seq"][0] == [(3, 4), (12, 0)] and type(frame["next"][0][1]) is np.float64
    pd.DataFrame({"seq": pairs, "next": [_Evil()]}).to_pickle(tmp_path / "evil.df")
    with pytest.raises(InputError, match="evil.df: refused type posix.system"):
        read_pickled_frame(tmp_path / "evil.df")
    assert not Path("pwned").exists()


# prepare as its stage entry runs it, stuck once its temporary output and scratch folders exist.
STUCK_PREPARE = (
    "import sys, time, typer\n"
    "import recsys.data.prepare\n"
    "marker = sys.argv.pop()\n"
    "recsys.data.prepare._prepare_into = lambda *args: (open(marker, 'w').close(), time.sleep(120))\n"
    "from stages.prepare import command\n"
    "sys.argv[:] = ['prepare', '--params', sys.argv[1], '--out', sys.argv[2]]\n"
    "typer.run(command)\n"
)


def stuck_prepare(root: Path):
    """A prepare subprocess, once it has made its `.out.tmp-*` and `.prepare-scratch-*` folders and sleeps in the
    stubbed preparation (so the signal lands in Python, not in a DuckDB query)."""
    import subprocess
    import sys
    import time

    from helpers import REPO

    params = write_params(root, {}, toy_dataset(root))
    marker = root / "preparing"
    process = subprocess.Popen([sys.executable, "-c", STUCK_PREPARE, str(params), str(root / "out"), str(marker)],
                               cwd=REPO, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (marker.exists() and list(root.glob(".prepare-scratch-*"))):
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return process


def test_sigterm_leaves_no_temporary_folder(toy_log):
    import signal

    process = stuck_prepare(toy_log)
    assert list(toy_log.glob(".out.tmp-*"))
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 128 + signal.SIGTERM, process.stderr.read()
    assert not list(toy_log.glob(".out.tmp-*")) and not list(toy_log.glob(".prepare-scratch-*"))
    assert not (toy_log / "out").exists()


def test_the_next_run_removes_what_a_kill_9_left(toy_log):
    import signal

    process = stuck_prepare(toy_log)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    left = list(toy_log.glob(".out.tmp-*")) + list(toy_log.glob(".prepare-scratch-*"))
    assert len(left) == 2  # no cleanup runs on SIGKILL
    params = write_params(toy_log, {"n_candidates": 5}, toy_dataset(toy_log))
    result = run_cli("prepare", "--params", str(params), "--out", str(toy_log / "out"))
    assert result.exit_code == 0, result.output
    assert not any(path.exists() for path in left)
    assert (toy_log / "out" / "stats.json").is_file()
