from __future__ import annotations

import csv
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from safetensors.torch import load_file

from recsys.config import SRParams
from recsys.errors import InputError
from recsys.metrics import target_rank
from recsys.sr.data import load_examples
from recsys.sr.popularity import item_counts, popularity_scores
from recsys.embeddings import load_item_embeddings
from recsys.sr.inference import load_model
from recsys.sr.trainer import pretrain
from sr_fixtures import cyclic_prepared, write_items, write_split

PARAMS = SRParams(hidden_size=16, batch_size=8, epochs=4, patience=2)
MAX_LEN = 4  # cyclic_prepared's history length, which pretrain reads from its stats.json


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return cyclic_prepared(tmp_path_factory.mktemp("prepared"))


@pytest.fixture(scope="module")
def trained(prepared, tmp_path_factory):
    out = tmp_path_factory.mktemp("sasrec")
    return out, pretrain(PARAMS, prepared, out, progress=False)


def test_histories_are_right_aligned_left_padded_and_truncated(tmp_path):
    write_split(tmp_path, "train", [
        {"user_id": 1, "history": [], "target": 0},
        {"user_id": 2, "history": [3], "target": 1},
        {"user_id": 3, "history": [1, 2, 3, 4, 5], "target": 2},
    ])
    examples = load_examples(tmp_path / "train.parquet", 6, 4, with_candidates=False)
    assert examples.seq.tolist() == [[6, 6, 6, 6], [6, 6, 6, 3], [2, 3, 4, 5]]
    assert examples.lengths.tolist() == [0, 1, 4]
    assert examples.targets.tolist() == [0, 1, 2]
    assert examples.candidates is None


def test_candidates_must_hold_the_target_once(tmp_path):
    row = {"user_id": 1, "history": [1], "target": 2, "candidates": [0, 2, 3]}
    write_split(tmp_path, "val", [row, {**row, "candidates": [0, 1, 3]}])
    with pytest.raises(InputError, match=r"val\.parquet: row 1: candidates hold the target 0"):
        load_examples(tmp_path / "val.parquet", 4, 4, with_candidates=True)


def test_item_ids_outside_items_parquet_are_rejected(tmp_path):
    write_split(tmp_path, "train", [{"user_id": 1, "history": [1, 9], "target": 2}])
    with pytest.raises(InputError, match="'history' holds item id 9 outside 0..4"):
        load_examples(tmp_path / "train.parquet", 5, 4, with_candidates=False)


def test_popularity_counts_training_targets_and_ties_rank_against_the_target():
    counts = item_counts(torch.tensor([0, 0, 1, 2, 2, 2]), 4)
    assert counts.tolist() == [2.0, 1.0, 3.0, 0.0]
    candidates = torch.tensor([[3, 0, 2], [1, 3, 0]])
    scores = popularity_scores(counts, candidates)
    assert scores.tolist() == [[0.0, 2.0, 3.0], [1.0, 0.0, 2.0]]
    assert target_rank(scores, np.array([1, 1])).tolist() == [1, 2]


def test_pretrain_writes_every_output(trained, prepared):
    out, metrics = trained
    assert sorted(p.name for p in out.iterdir()) == [
        "curve.csv", "item_embeddings.safetensors", "metrics.json", "model.safetensors",
        "model_args.json", "scores_test.parquet", "scores_val.parquet", "timing.json",
    ]
    assert json.loads((out / "metrics.json").read_text()) == metrics
    timing = json.loads((out / "timing.json").read_text())
    assert list(timing) == ["train_seconds"] and timing["train_seconds"] >= 0
    assert not any("seconds" in key for key in metrics)  # wall-clock time would change dvc.lock on every rerun
    for split in ("val", "test", "popularity.val", "popularity.test"):
        for name in ("hr@1", "hr@5", "ndcg@5", "ndcg@10"):
            value = metrics[f"{split}.{name}"]
            assert metrics[f"{split}.{name}.ci_low"] <= value <= metrics[f"{split}.{name}.ci_high"]
    for split in ("val", "test"):
        assert metrics[f"{split}.n"] == 6
        assert {f"{split}.full.hr@10", f"{split}.full.ndcg@10.ci_high"} <= set(metrics)
    assert all(isinstance(v, (int, float)) for v in metrics.values())  # flat for dvc metrics


def test_scores_parquet_ranks_agree_with_scores(trained, prepared):
    out, metrics = trained
    table = pq.read_table(out / "scores_test.parquet")
    assert table.schema.names == ["user_id", "candidates", "scores", "target", "rank", "popularity_rank"]
    assert table.schema.types == [
        pa.int64(), pa.list_(pa.int32()), pa.list_(pa.float32()), pa.int32(), pa.int32(), pa.int32()
    ]
    stored = pq.read_table(prepared / "test.parquet")
    assert table.column("candidates").to_pylist() == stored.column("candidates").to_pylist()
    rows = table.to_pylist()
    for row in rows:
        target_score = row["scores"][row["candidates"].index(row["target"])]
        assert row["rank"] == sum(s >= target_score for s in row["scores"]) - 1
    assert metrics["test.hr@1"] == pytest.approx(np.mean([r["rank"] == 0 for r in rows]))


def test_curve_and_early_stopping(trained):
    out, metrics = trained
    with open(out / "curve.csv") as f:
        curve = list(csv.DictReader(f))
    assert list(curve[0]) == ["epoch", "train_loss", "val_hr@1"]
    assert len(curve) == metrics["epochs_run"]
    hr = [float(row["val_hr@1"]) for row in curve]
    assert hr[metrics["best_epoch"] - 1] == max(hr)
    assert len(curve) == min(PARAMS.epochs, metrics["best_epoch"] + PARAMS.patience)
    assert metrics["val.hr@1"] == pytest.approx(max(hr), abs=1e-6)


def test_model_and_embeddings_round_trip(trained, prepared):
    out, _ = trained
    model = load_model(out)
    # the architecture alone, max_len from the prepared data's stats.json; no training settings
    assert json.loads((out / "model_args.json").read_text()) == {
        "model": "sasrec", "n_items": 12, "max_len": MAX_LEN, "hidden_size": 16, "dropout": PARAMS.dropout,
        "num_blocks": 1, "num_heads": 1}
    assert model.max_len == MAX_LEN
    table = load_item_embeddings(out / "item_embeddings.safetensors", prepared / "items.parquet")
    assert table.dtype == torch.float32 and table.shape == (12, PARAMS.hidden_size)
    assert torch.equal(table, model.item_emb.weight[:12])
    test = load_examples(prepared / "test.parquet", 12, MAX_LEN, with_candidates=True)
    with torch.no_grad():
        scores = model.score_candidates(model(test.seq, test.lengths), test.candidates)
    stored = pq.read_table(out / "scores_test.parquet").column("scores").to_pylist()
    assert torch.allclose(scores, torch.tensor(stored), atol=1e-6)


@pytest.mark.parametrize("change, expected", [(None, r"prepared: not a prepared data folder \(expected stats.json"),
                                              ({"max_len": None}, "stats.json: missing key 'max_len'"),
                                              ({"max_len": 0}, "stats.json: max_len: expected a positive integer, got 0")])
def test_history_length_comes_from_stats_json_or_is_an_input_error(prepared, tmp_path, change, expected):
    copy = tmp_path / "prepared"
    copy.mkdir()
    for name in ("items", "train", "val", "test"):
        (copy / f"{name}.parquet").write_bytes((prepared / f"{name}.parquet").read_bytes())
    if change is not None:  # None: a key left out
        stats = {**json.loads((prepared / "stats.json").read_text()), **change}
        (copy / "stats.json").write_text(json.dumps({key: value for key, value in stats.items() if value is not None}))
    (tmp_path / "out").mkdir()
    with pytest.raises(InputError, match=expected) as error:
        pretrain(PARAMS, copy, tmp_path / "out", progress=False)
    assert str(error.value).startswith(str(copy)) and "\n" not in str(error.value)


def test_embedding_table_that_disagrees_with_items_parquet_is_an_input_error(trained, tmp_path):
    out, _ = trained
    write_items(tmp_path, 13)
    with pytest.raises(InputError, match=r"item_embeddings\.safetensors: 12 embedding rows but .* 13 items"):
        load_item_embeddings(out / "item_embeddings.safetensors", tmp_path / "items.parquet")


@pytest.mark.parametrize("model,loss", [("sasrec", "ce"), ("gru4rec", "bce"), ("caser", "ce")])
def test_same_seed_same_weights(prepared, tmp_path, model, loss):
    params = SRParams(model=model, loss=loss, hidden_size=8, batch_size=8, epochs=2,
                      patience=2, num_negatives=2)
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    pretrain(params, prepared, first, progress=False)
    pretrain(params, prepared, second, progress=False)
    a, b = load_file(first / "model.safetensors"), load_file(second / "model.safetensors")
    assert (first / "metrics.json").read_bytes() == (second / "metrics.json").read_bytes()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    other = tmp_path / "c"
    other.mkdir()
    pretrain(SRParams(**{**params.__dict__, "seed": 7}), prepared, other, progress=False)
    c = load_file(other / "model.safetensors")
    assert not torch.equal(a["item_emb.weight"], c["item_emb.weight"])


def test_progress_off_a_terminal_is_one_line_per_epoch(prepared, tmp_path, capsys):
    import re

    metrics = pretrain(PARAMS, prepared, tmp_path, progress=True)
    lines = capsys.readouterr().err.splitlines()
    with open(tmp_path / "curve.csv") as f:
        curve = list(csv.DictReader(f))
    assert len(lines) == len(curve) == metrics["epochs_run"]
    for line, row in zip(lines, curve):
        match = re.fullmatch(r"sasrec epoch (\d+)/4 loss (\S+) val HR@1 (\S+) \[\d+s\]", line)
        assert match, line
        assert int(match[1]) == int(row["epoch"])
        assert float(match[2]) == pytest.approx(float(row["train_loss"]), abs=5e-5)
        assert float(match[3]) == pytest.approx(float(row["val_hr@1"]), abs=5e-5)


def test_retrieval_is_the_top_k_outside_the_history(trained):
    from recsys.sr.inference import retrieve

    model = load_model(trained[0])
    history = [3, 5, 3, 0, 7, 9]  # longer than max_len, with a repeat: the model reads the last 4
    with torch.no_grad():
        scores = model.score_all(model(torch.tensor([history[-MAX_LEN:]]), torch.tensor([MAX_LEN])))[0]
    ranked = [int(i) for i in torch.argsort(scores, descending=True, stable=True) if int(i) not in history]
    assert retrieve(model, history, 4) == ranked[:4]
    assert len(retrieve(model, [], 12)) == 12  # an empty history still ranks the whole catalogue
