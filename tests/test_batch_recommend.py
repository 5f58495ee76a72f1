"""`recsys recommend --from-file`: each history ranked exactly as the single-history command ranks it, the models
loaded once, a bad row skipped with its line, a bad file refused in one line before any model loads, and the
three input formats read alike."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from helpers import finetune_inputs, run_cli
from recsys.config import LoraParams, TrainParams
from recsys.eval import batch as batch_module
from recsys.eval.batch import read_rows, write_parquet
from recsys.eval.recommend import rank_candidates, read_request
from recsys.llm.finetune import finetune

TRAIN = TrainParams(max_steps=1, batch_size=2, grad_accum=1, precision="fp32")
HISTORIES = {"u1": ["Item 1", "Item 2"], "u2": ["Item 5", "Item 9", "Item 3", "Item 12"], "u3": ["Item 20"]}
K = 4


@pytest.fixture(scope="module")
def model_dir(workspace, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("batch-model")
    finetune(finetune_inputs(workspace), LoraParams(r=2, alpha=4), TRAIN, out, out.with_name("batch-ckpt"),
             progress=False)
    return out


@pytest.fixture(params=["as trained", "given order, letters"])
def variant_dir(model_dir, tmp_path, request) -> Path:
    """The model as trained (SR-ordered candidates, slot read-out), or a copy whose card lists the candidates as
    drawn (shuffled with the seed) and reads the index letters: both ways `prompt_orders` and the read-out go."""
    if request.param == "as trained":
        return model_dir
    copy = Path(shutil.copytree(model_dir, tmp_path / "given"))
    card = json.loads((copy / "finetune.json").read_text())
    card.update(candidate_order="given", readout="letters", readout_ids=card["index_letters"])
    (copy / "finetune.json").write_text(json.dumps(card))
    return copy


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
    return path


def write_csv(path: Path, column: str, rows: dict[str, list]) -> Path:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["user_id", column])
        writer.writerows([user, "|".join(map(str, history))] for user, history in rows.items())
    return path


def recommend(workspace: Path, model_dir: Path, source: Path, out: Path, *extra: str):
    return run_cli("recommend", "--params", str(workspace / "params.yaml"), "--model", str(model_dir),
                   "--from-file", str(source), "--out", str(out), "--k", str(K), *extra)


def count_loads(monkeypatch) -> list:
    """Calls of load_llara and of the SR model's load in batch recommend, counted as they happen."""
    calls = []
    for name in ("load_llara", "load_model"):
        real = getattr(batch_module, name)
        monkeypatch.setattr(batch_module, name, lambda *a, _real=real, _name=name, **kw: calls.append(_name) or
                            _real(*a, **kw))
    return calls


def refuse_loading(monkeypatch) -> None:
    monkeypatch.setattr(batch_module, "load_llara", lambda *a, **kw: pytest.fail("loaded the model"))
    monkeypatch.setattr(batch_module, "load_model", lambda *a, **kw: pytest.fail("loaded the SR model"))


def test_each_history_ranks_as_the_single_command_ranks_it_with_one_load(workspace, variant_dir, tmp_path,
                                                                          monkeypatch):
    source = write_jsonl(tmp_path / "h.jsonl", [{"user_id": u, "titles": t} for u, t in HISTORIES.items()])
    calls = count_loads(monkeypatch)
    result = recommend(workspace, variant_dir, source, tmp_path / "out.parquet", "--batch-size", "2", "--seed", "3")
    assert result.exit_code == 0, result.stderr
    assert calls == ["load_model", "load_llara"]
    assert "3 histories, 4 candidates each" in result.stdout and "warning" not in result.stderr
    out = pq.read_table(tmp_path / "out.parquet")
    assert out.column_names == ["user_id", "rank", "item_id", "title", "score"]
    monkeypatch.undo()
    for user, titles in HISTORIES.items():
        _, single = rank_candidates(read_request(variant_dir, titles, None, K, seed=3))
        rows = out.filter(pc.equal(out.column("user_id"), user)).to_pydict()
        assert rows["rank"] == [1, 2, 3, 4]
        assert list(zip(rows["item_id"], rows["title"])) == [(item, title) for item, title, _ in single]
        assert rows["score"] == pytest.approx([score for *_, score in single], abs=1e-5)


def test_a_bad_row_is_skipped_with_its_line_and_counted(workspace, model_dir, tmp_path):
    source = write_jsonl(tmp_path / "h.jsonl", [
        {"user_id": 1, "titles": ["Item 1"]},
        {"user_id": 2, "titles": ["Item 1", "Itme 2"]},
        {"user_id": 3, "titles": []},
        "",
        {"titles": ["Item 4"]},
        "{not json",
        {"user_id": 7, "titles": ["Item 7", "Item 8"]}])
    result = recommend(workspace, model_dir, source, tmp_path / "out.parquet")
    assert result.exit_code == 0, result.stderr
    assert [line for line in result.stderr.splitlines() if "warning" in line] == [
        f"warning: {source} line 2: title 'Itme 2': no item has this title; close matches: 'Item 2', 'Item 29', "
        "'Item 28' (row skipped)",
        f"warning: {source} line 3: empty history (no titles) (row skipped)",
        f"warning: {source} line 5: no user_id (row skipped)",
        f"warning: {source} line 6: not a JSON object (row skipped)",
        f"warning: skipped 4 of 6 rows of {source}"]
    assert pq.read_table(tmp_path / "out.parquet").column("user_id").unique().to_pylist() == ["1", "7"]


def test_item_ids_outside_the_catalogue_and_a_file_of_bad_rows_write_nothing(workspace, model_dir, tmp_path,
                                                                             monkeypatch):
    refuse_loading(monkeypatch)
    source = write_csv(tmp_path / "h.csv", "item_ids", {"a": [30], "b": [], "c": [1, "x"], "d": [-1]})
    result = recommend(workspace, model_dir, source, tmp_path / "out.parquet")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"warning: {source} line 2: item id 30: outside the catalogue (0..29) (row skipped)",
        f"warning: {source} line 3: empty history (no item_ids) (row skipped)",
        f"warning: {source} line 4: item id 'x': not an integer (row skipped)",
        f"warning: {source} line 5: item id -1: outside the catalogue (0..29) (row skipped)",
        f"warning: skipped 4 of 4 rows of {source}",
        f"error: {source}: no row to recommend for (4 rows, all skipped); nothing written"]
    assert list(tmp_path.iterdir()) == [source]


@pytest.mark.parametrize("name, content, problem", [
    ("h.csv", "user_id,name\nu1,Item 1\n", "missing column 'titles' or 'item_ids' (it has name, user_id)"),
    ("h.jsonl", '{"user": 1, "titles": ["Item 1"]}\n', "missing column 'user_id' (it has titles, user)"),
    ("h.csv", "user_id,titles,item_ids\n", "has both a 'titles' and an 'item_ids' column: give the history in one"),
    ("h.parquet", "not parquet", "not a readable Parquet file"),
    ("h.txt", "", "expected a .jsonl, .csv, .parquet file, got '.txt'"),
])
def test_a_bad_file_is_one_line_naming_it_before_any_model_loads(workspace, model_dir, tmp_path, monkeypatch, name,
                                                                 content, problem):
    refuse_loading(monkeypatch)
    source = tmp_path / name
    source.write_text(content)
    result = recommend(workspace, model_dir, source, tmp_path / "out.parquet")
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith(f"error: {source}: {problem}")
    assert list(tmp_path.iterdir()) == [source]


def test_history_and_from_file_are_exclusive_and_history_still_prints(workspace, model_dir, tmp_path):
    both = recommend(workspace, model_dir, tmp_path / "h.jsonl", tmp_path / "o.parquet", "--history", "Item 1")
    assert both.exit_code == 2 and both.stderr.startswith("error: --history/--from-file: give exactly one")
    neither = run_cli("recommend", "--params", str(workspace / "params.yaml"), "--model", str(model_dir))
    assert neither.exit_code == 2 and neither.stderr.startswith("error: --history/--from-file: give exactly one")
    single = ("recommend", "--params", str(workspace / "params.yaml"), "--model", str(model_dir), "--history", "Item 1")
    printed = run_cli(*single, "--k", "3")
    assert printed.exit_code == 0 and "candidates: the SR model's top 3 among the 29 items" in printed.stdout
    assert run_cli(*single, "--out", str(tmp_path / "o.parquet")).stderr.startswith("error: --out: writes --from-file")


@pytest.mark.parametrize("column, histories", [
    ("titles", HISTORIES),
    ("item_ids", {"u1": [0, 1], "u2": [4, 8, 2], "u3": [19]}),
])
def test_jsonl_csv_and_parquet_read_the_same_histories(tmp_path, column, histories):
    jsonl = write_jsonl(tmp_path / "h.jsonl", [{"user_id": u, column: h} for u, h in histories.items()])
    parquet = tmp_path / "h.parquet"
    pq.write_table(pa.table({"user_id": list(histories), column: list(histories.values())}), parquet)
    read = [read_rows(path) for path in (jsonl, write_csv(tmp_path / "h.csv", column, histories), parquet)]
    expected = (column, [(u, h) for u, h in histories.items()])
    assert [(c, [(row.user_id, row.history) for row in rows]) for c, rows in read] == [expected] * 3


def test_a_failed_write_leaves_no_output(tmp_path, monkeypatch):
    def half_then_fail(table, path):
        Path(path).write_bytes(b"PAR1 half")
        raise OSError("disk full")

    monkeypatch.setattr(batch_module.pq, "write_table", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        write_parquet(pa.table({"user_id": ["u1"]}), tmp_path / "out.parquet")
    assert list(tmp_path.iterdir()) == []
