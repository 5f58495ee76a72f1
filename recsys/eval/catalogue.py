"""Whole-catalogue evaluation, as a user meets the recommender: the SR model retrieves its top K of every item
outside the history the prompt shows, LLaRA re-ranks them by its one-pass read-out (`recsys recommend`'s path).

Both are scored on the same users over all items: the SR model by its own full ranking, SR -> LLaRA by the
re-ranked list, where a target that retrieval left out is a miss. recall@K, the share of targets retrieved, is
re-ranking's ceiling. Where the 20-candidate protocol asks "which of these 20", this asks "what next".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from recsys.eval.modes import ModeResult, Runner
from recsys.eval.outputs import paired_key
from recsys.eval.recommend import prompt_orders, readout_scores
from recsys.llm.card import ModelCard
from recsys.metrics import mcnemar_p, ranking_report, rate_report, target_rank
from recsys.sr.inference import catalogue_scores, load_model

CATALOGUE = "catalogue"  # the mode's name, and the prefix of its metrics
HIT_KS, NDCG_KS = (1, 5, 10), (5, 10)


def retrieval(sr_model: Path, histories: list[list[int]], targets: np.ndarray, k: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """(the SR model's top k outside each history, best first [N, k]; the target's 0-based rank among all items
    outside the history [N], ties counted above it)."""
    sr = load_model(sr_model)
    retrieved, ranks = [], []
    for history, target in zip(histories, targets):
        scores = catalogue_scores(sr, history).numpy()  # [n_items], the history at -inf
        retrieved.append(np.argsort(-scores, kind="stable")[:k])
        ranks.append(target_rank(scores[None, :], np.array([target]))[0])
    return np.array(retrieved, np.int64), np.array(ranks, np.int64)


def reranked_ranks(retrieved: np.ndarray, scores: np.ndarray, targets: np.ndarray, n_items: int) -> np.ndarray:
    """The target's 0-based rank in the re-ranked list [N] (ties above it), `n_items` where it was not retrieved.

    retrieved, scores: [N, K], the candidates and their read-out logits in the same order."""
    present = retrieved == targets[:, None]  # [N, K]
    ranks = target_rank(scores, np.argmax(present, axis=1))
    return np.where(present.any(axis=1), ranks, n_items)


def catalogue_mode(runner: Runner, card: ModelCard, titles: list[str], table: pa.Table, k: int) -> ModeResult:
    """HR@1/5/10 and NDCG@5/10 over all items of the SR model alone and of SR -> LLaRA, recall@k, McNemar p-values
    on HR@1 and HR@10; hits are SR -> LLaRA's HR@1."""
    histories = [list(h) for h in table.column("history").to_pylist()]
    targets = table.column("target").to_numpy()

    def work(indices, advance):
        mine = [histories[i] for i in indices]
        retrieved, sr_ranks = retrieval(Path(card.sr_model), mine, targets[indices], k)
        listed = prompt_orders(card, mine, retrieved.tolist(), seed=0)  # as the model's prompts list them
        scores = readout_scores(runner.model, runner.tokenizer, card, titles, mine, listed, runner.batch_size,
                                runner.device, on_batch=advance)  # [n, K]
        order = np.argsort(-scores, axis=1, kind="stable")
        reranked = np.take_along_axis(np.asarray(listed, np.int64), order, axis=1)  # [n, K], best first
        llara = reranked_ranks(np.asarray(listed), scores, targets[indices], len(titles))
        return list(zip(retrieved, reranked, sr_ranks, llara))

    rows, seconds = runner.sharded(CATALOGUE, len(histories), work)
    retrieved, reranked, sr_ranks, llara_ranks = (np.stack(column) for column in zip(*rows))
    metrics = {**rate_report(llara_ranks < len(titles), f"{CATALOGUE}.recall@{k}"),
               **ranking_report(sr_ranks, f"{CATALOGUE}.sr", HIT_KS, NDCG_KS),
               **ranking_report(llara_ranks, f"{CATALOGUE}.llara", HIT_KS, NDCG_KS)}
    for at in (1, 10):
        mode = CATALOGUE if at == 1 else f"{CATALOGUE}.hr@{at}"
        metrics[paired_key(mode, "sr")] = mcnemar_p(llara_ranks < at, sr_ranks < at)
    columns = {"catalogue_retrieved": pa.array(list(retrieved)), "catalogue_reranked": pa.array(list(reranked)),
               "catalogue_sr_rank": pa.array(sr_ranks), "catalogue_rank": pa.array(llara_ranks)}
    return ModeResult(metrics, columns, llara_ranks < 1, seconds)
