"""Whole-catalogue evaluation: the SR model's own full ranking, its top K re-ranked by LLaRA exactly as
`recsys recommend --from-file` re-ranks a history, a target retrieval leaves out a miss for the re-ranker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from helpers import finetune_inputs
from recsys.config import EvalParams, LoraParams, TrainParams
from recsys.errors import InputError
from recsys.eval.batch import Batch, recommend_batch
from recsys.eval.catalogue import reranked_ranks, retrieval
from recsys.eval.evaluate import evaluate
from recsys.io import read_column
from recsys.llm.card import ModelCard
from recsys.llm.finetune import finetune
from recsys.sr.inference import load_model

K = 4


def test_the_reranked_rank_counts_higher_and_tied_scores_and_a_target_left_out_is_past_the_catalogue():
    retrieved = np.array([[3, 1, 2], [4, 5, 6], [7, 8, 9]])
    scores = np.array([[0.1, 0.9, 0.5], [1.0, 2.0, 3.0], [0.2, 0.2, 0.1]])
    assert reranked_ranks(retrieved, scores, np.array([2, 9, 8]), 10).tolist() == [1, 10, 1]


def test_retrieval_is_the_top_k_outside_the_history_and_the_rank_is_over_every_other_item(workspace):
    histories, targets = [[1, 2, 3], [5], []], np.array([4, 5, 0])
    retrieved, ranks = retrieval(workspace / "sr", histories, targets, K)
    sr = load_model(workspace / "sr")
    for history, items, target, rank in zip(histories, retrieved, targets, ranks):
        recent = history[-sr.max_len:] or [sr.pad_id]
        with torch.no_grad():
            scores = sr.score_all(sr(torch.tensor([recent]), torch.tensor([len(history)])))[0].numpy()
        outside = [i for i in range(len(scores)) if i not in history]
        assert items.tolist() == sorted(outside, key=lambda i: -scores[i])[:K]
        if target in history:  # a target already held can never be recommended
            assert rank == len(outside)
        else:
            assert rank == sum(scores[i] >= scores[target] for i in outside if i != target)


def test_retrieval_under_the_language_models_bf16_autocast_is_the_fp32_retrieval(workspace):
    histories, targets = [[1, 2, 3], [5]], np.array([4, 6])
    expected = retrieval(workspace / "sr", histories, targets, K)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # as `evaluate` runs every mode at precision bf16
        retrieved, ranks = retrieval(workspace / "sr", histories, targets, K)
    assert retrieved.tolist() == expected[0].tolist() and ranks.tolist() == expected[1].tolist()


@pytest.fixture(scope="module")
def model_dir(workspace, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("catalogue-model")
    finetune(finetune_inputs(workspace), LoraParams(r=2, alpha=4),
             TrainParams(max_steps=1, batch_size=2, grad_accum=1, precision="fp32"), out,
             out.with_name("catalogue-ckpt"), progress=False)
    return out


def test_catalogue_mode_reranks_what_batch_recommend_ranks_and_pairs_with_the_sr_model(workspace, model_dir,
                                                                                      tmp_path):
    params = EvalParams(modes=["catalogue"], catalogue_k=K, precision="fp32")
    metrics = evaluate(model_dir, workspace / "prompts", workspace / "prepared", workspace / "sr", params, tmp_path,
                       progress=False)
    test = pq.read_table(workspace / "prepared" / "test.parquet")
    predictions = pq.read_table(tmp_path / "predictions.parquet")
    retrieved, _ = retrieval(workspace / "sr", test.column("history").to_pylist(), test.column("target").to_numpy(), K)
    assert predictions.column("catalogue_retrieved").to_pylist() == retrieved.tolist()
    card = ModelCard.read(model_dir)
    assert card.compute == "fp32"  # train.precision fp32, whatever the CPU
    batch = Batch(model_dir, card, read_column(card.items, "title"), K, [str(u) for u in range(test.num_rows)],
                  test.column("history").to_pylist(), [], test.num_rows)
    ranked = recommend_batch(batch, seed=0, progress=False).column("item_id").to_numpy().reshape(-1, K)
    assert predictions.column("catalogue_reranked").to_pylist() == ranked.tolist()
    sr_ranks = predictions.column("catalogue_sr_rank").to_numpy()
    llara_ranks = predictions.column("catalogue_rank").to_numpy()
    retrieved_target = (retrieved == test.column("target").to_numpy()[:, None]).any(axis=1)
    assert metrics[f"catalogue.recall@{K}"] == retrieved_target.mean()
    assert np.all((llara_ranks < K) == retrieved_target) and np.all((sr_ranks < K) == retrieved_target)
    assert metrics["catalogue.llara.hr@1"] == (llara_ranks < 1).mean()
    assert metrics["catalogue.sr.hr@10"] == (sr_ranks < 10).mean()
    assert metrics["catalogue.llara.hr@10"] <= metrics[f"catalogue.recall@{K}"]
    assert 0 <= metrics["paired.catalogue_vs_sr.p"] <= 1 and "paired.catalogue.hr@10_vs_sr.p" in metrics
    assert not any(key.startswith("paired.catalogue") for key in metrics if key.endswith("_vs_popularity.p"))


def test_catalogue_k_beyond_the_index_letters_is_refused_before_any_scoring(workspace, model_dir, tmp_path):
    letters = len(ModelCard.read(model_dir).index_letters)
    with pytest.raises(InputError, match=f"eval.catalogue_k: this model's index letters name at most {letters}"):
        evaluate(model_dir, workspace / "prompts", workspace / "prepared", workspace / "sr",
                 EvalParams(modes=["catalogue"], catalogue_k=letters + 1), tmp_path, progress=False)
