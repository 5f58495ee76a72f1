"""Every bad input stops prepare with one line naming the file and row or key, exit 2, no output."""

from __future__ import annotations

import pickle
from pathlib import Path

from helpers import run_cli, toy_dataset, write_params


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
    import json

    edit(toy_log / "items.csv", "5,Item 5", '5,"  "')
    params = write_params(toy_log, {"missing_title": "drop", "n_candidates": 5}, toy_dataset(toy_log))
    result = run_cli("prepare", "--params", str(params), "--out", str(toy_log / "out"))
    assert result.exit_code == 0, result.output
    stats = json.loads((toy_log / "out" / "stats.json").read_text())
    # item 5 is the 5th item of u0 and the 2nd..5th of u1 and u2 (items (3u + j) % 30 + 1)
    assert (stats["items"], stats["dropped_items"], stats["dropped_interactions"]) == (29, 1, 2)
    assert stats["interactions"] == 58


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
