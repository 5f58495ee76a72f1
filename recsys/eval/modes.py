"""The three evaluation modes over one split's prompts, each -> metrics, prediction columns, per-example hits.

- `rank`: the model's one-pass read-out of all K candidates (recsys.llm.readout), one forward pass per prompt;
- `generate`: the paper's protocol, greedy decoding matched exactly against the candidates' titles (with `rank`,
  from the same prompt pass);
- `score`: the likelihood of each candidate's whole answer, the prompt encoded once.
Under torchrun each process takes the examples rank, rank + N, ...; `_sharded` gathers them back in order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import torch

from recsys.distributed import Ranks, gather_objects
from recsys.eval.generate import rank_and_generate
from recsys.eval.match import match_answer
from recsys.eval.score import answer_token_ids, score_candidates
from recsys.llm.batches import collate
from recsys.llm.model import Llara
from recsys.llm.ranking import choice_scores
from recsys.llm.readout import Readout
from recsys.metrics import mean_report, ndcg_at_k, rate_report, target_rank
from recsys.progress import Steps
from recsys.prompts.templates import render_answer, strip_letter


@dataclass
class EvalSet:
    """One split's prompts for one variant, and what every mode needs to read them."""

    table: pa.Table
    names: list[str]  # what the prompts call each item (titles, or "item <id>")
    splice: bool
    letters: str  # the candidates' index letters ("" for the paper's prompt)
    candidates: np.ndarray = field(init=False)  # [N, K]
    target_col: np.ndarray = field(init=False)  # [N]

    def __post_init__(self):
        self.candidates = np.array(self.table.column("candidates").to_pylist())
        self.target_col = np.argmax(self.candidates == self.table.column("target").to_numpy()[:, None], axis=1)


@dataclass
class ModeResult:
    metrics: dict
    columns: dict
    hits: np.ndarray  # [N] bool: the target ranked (or named) first
    seconds_per_example: float
    timed_as: str = ""  # the pass whose time this is ("rank+generate" where two modes shared one); "" = the mode's


@dataclass
class Runner:
    """The model and settings every mode shares."""

    model: Llara
    tokenizer: object
    device: torch.device
    batch_size: int
    ranks: Ranks
    progress: bool

    def sharded(self, name: str, n: int, work) -> tuple[list, float]:
        """`work(indices, advance)` on this process's examples -> (results in example order, seconds per example)."""
        mine = np.arange(self.ranks.rank, n, self.ranks.world)
        began = time.perf_counter()
        with Steps(name, len(mine), enabled=self.progress and self.ranks.main) as bar:
            results = work(mine, bar.advance)
        parts = gather_objects((results, time.perf_counter() - began), self.ranks)
        merged = [None] * n
        for rank, (part, _) in enumerate(parts):
            merged[rank::self.ranks.world] = part
        return merged, sum(s for _, s in parts) / n


def ranking_metrics(scores: np.ndarray, target_col: np.ndarray, name: str) -> tuple[dict, np.ndarray]:
    """HR@1/3/5 and NDCG@3/5 of `scores` [N, K] under `name`; -> (metrics, the target's rank [N])."""
    ranks = target_rank(scores, target_col)
    metrics: dict = {}
    for k in (1, 3, 5):
        metrics.update(rate_report(ranks < k, f"{name}.hr@{k}"))
    for k in (3, 5):
        metrics.update(mean_report(ndcg_at_k(ranks, k), f"{name}.ndcg@{k}"))
    return metrics, ranks


def ranked(scores: np.ndarray, target_col: np.ndarray, seconds: float, timed_as: str = "") -> ModeResult:
    """The rank mode's result from its read-out scores [N, K]."""
    metrics, order = ranking_metrics(scores, target_col, "rank")
    columns = {"rank_scores": pa.array([list(s) for s in scores]), "rank_rank": pa.array(order)}
    return ModeResult(metrics, columns, order < 1, seconds, timed_as)


def rank_mode(runner: Runner, data: EvalSet, readout: Readout) -> ModeResult:
    def work(indices, advance):
        return list(choice_scores(runner.model, data.table, indices, readout, data.splice,
                                  runner.tokenizer.pad_token_id, runner.batch_size, runner.device, on_batch=advance))

    scored, seconds = runner.sharded("rank", data.table.num_rows, work)
    return ranked(np.stack(scored), data.target_col, seconds)


def generation_metrics(generated: list[str], data: EvalSet) -> tuple[dict, dict, np.ndarray]:
    """The paper's protocol: ValidRatio, HR@1 (invalid = miss), HR@1 over valid answers; + prediction columns.

    With index letters the answer reads "B. Heat (1995)"; its title part is matched, as in the paper.
    """
    picks = [match_answer(strip_letter(text, data.letters), [data.names[c] for c in row])
             for text, row in zip(generated, data.candidates)]
    valid = np.array([p is not None for p in picks], dtype=float)
    hit = np.array([p is not None and p == t for p, t in zip(picks, data.target_col)])
    metrics = {**rate_report(valid, "generate.valid_ratio"), **rate_report(hit, "generate.hr@1")}
    if valid.sum():
        metrics.update(rate_report(hit[valid > 0], "generate.hr@1_valid"))
    columns = {"generated": pa.array(generated), "generate_hit": pa.array(hit),
               "parsed_item": pa.array([None if p is None else int(row[p]) for p, row in zip(picks, data.candidates)],
                                       pa.int32())}
    return metrics, columns, hit


def generate_mode(runner: Runner, data: EvalSet, max_new_tokens: int, first_tokens: list[int] | None = None,
                  readout: Readout | None = None) -> dict[str, ModeResult]:
    """{"generate": ...}, and with `readout` also "rank": both from one prompt pass per batch (their timing is
    the shared pass's, as `rank+generate`)."""
    def work(indices, advance):
        rows = []
        for start in range(0, len(indices), runner.batch_size):
            batch = indices[start:start + runner.batch_size]
            scores, texts = rank_and_generate(runner.model, runner.tokenizer, data.table, batch, readout, data.splice,
                                              max_new_tokens, runner.device, first_tokens)
            rows += [(None if scores is None else scores[i], text) for i, text in enumerate(texts)]
            advance(len(batch))
        return rows

    name = "rank+generate" if readout else "generate"
    rows, seconds = runner.sharded(name, data.table.num_rows, work)
    metrics, columns, hit = generation_metrics([text for _, text in rows], data)
    generated = ModeResult(metrics, columns, hit, seconds, name)
    if readout is None:
        return {"generate": generated}
    return {"rank": ranked(np.stack([scores for scores, _ in rows]), data.target_col, seconds, name),
            "generate": generated}


def score_mode(runner: Runner, data: EvalSet, normalisation: str) -> ModeResult:
    pad = runner.tokenizer.pad_token_id

    def work(indices, advance):
        rows = []
        for i in indices:
            answers = [render_answer(data.names[c], data.letters[j] if data.letters else None)
                       for j, c in enumerate(data.candidates[i])]
            batch = collate(data.table, np.array([i]), pad, prompt_only=True, multiple=1)  # the prompt ends at T-1
            batch = {k: v.to(runner.device) for k, v in batch.items()}
            summed, mean = score_candidates(runner.model, batch["input_ids"], batch["slot_pos"], batch["slot_items"],
                                            data.splice, answer_token_ids(runner.tokenizer, answers), pad,
                                            batch["user_pos"], batch.get("user_state"))
            rows.append((summed.numpy(), mean.numpy()))
            advance()
        return rows

    scored, seconds = runner.sharded("score", data.table.num_rows, work)
    summed, mean = np.stack([s for s, _ in scored]), np.stack([m for _, m in scored])
    default, other = (mean, summed) if normalisation == "mean" else (summed, mean)
    metrics, order = ranking_metrics(default, data.target_col, "score")
    metrics.update(ranking_metrics(other, data.target_col, "score_sum" if normalisation == "mean" else "score_mean")[0])
    columns = {"scores_mean": pa.array(list(mean.astype(np.float32))),
               "scores_sum": pa.array(list(summed.astype(np.float32))), "score_rank": pa.array(order)}
    return ModeResult(metrics, columns, order < 1, seconds)
