"""The evaluate stage's work: a fine-tuned LLaRA on the stored candidates, beside its SR model.

Under torchrun each process takes the examples rank, rank + N, ...; the main process gathers
them back into example order and writes the outputs, so N processes give the same files as one.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rich.progress import Progress

from recsys.config import EvalParams
from recsys.distributed import Ranks, gather_objects
from recsys.errors import InputError
from recsys.eval.generate import generate_answers
from recsys.eval.match import match_answer
from recsys.eval.score import answer_token_ids, score_candidates
from recsys.io import write_json
from recsys.llm.base_model import ITEM_TOKENS
from recsys.llm.batches import collate
from recsys.llm.model import Llara, load_llara
from recsys.metrics import mean_report, ndcg_at_k, rate_report, target_rank
from recsys.prompts.shards import read_all
from recsys.prompts.templates import VARIANTS, item_names, trained_variant


def _check_compatible(args: dict, tokenizer, manifest: dict, n_items: int, model_dir: Path, prompts: Path) -> None:
    """Stop when the model, the prompts and the prepared data do not belong together."""
    if args["n_items"] != n_items:
        raise InputError(str(model_dir / "finetune.json"), f"trained on {args['n_items']} items, the data has {n_items}")
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in ITEM_TOKENS}
    if ids != manifest["item_tokens"]:
        raise InputError(str(prompts / "manifest.json"),
                         f"prompts were tokenised for item tokens {manifest['item_tokens']}, the model's base has {ids}")


def _sharded(work, n: int, ranks: Ranks) -> tuple[list, float]:
    """Run `work(indices)` on this process's examples; -> (per-example results in order, seconds per example)."""
    began = time.perf_counter()
    mine = work(np.arange(ranks.rank, n, ranks.world))
    seconds = time.perf_counter() - began
    parts = gather_objects((mine, seconds), ranks)
    merged = [None] * n
    for rank, (part, _) in enumerate(parts):
        merged[rank::ranks.world] = part
    return merged, sum(s for _, s in parts) / n


def generation_metrics(generated: list[str], names: list[str], candidates: np.ndarray, target_col: np.ndarray
                       ) -> tuple[dict, dict]:
    """The paper's protocol: ValidRatio, HR@1 (invalid = miss), HR@1 over valid answers; + prediction columns."""
    picks = [match_answer(text, [names[c] for c in row]) for text, row in zip(generated, candidates)]
    valid = np.array([p is not None for p in picks], dtype=float)
    hit = np.array([p is not None and p == t for p, t in zip(picks, target_col)], dtype=float)
    metrics = {**rate_report(valid, "generate.valid_ratio"), **rate_report(hit, "generate.hr@1")}
    if valid.sum():
        metrics.update(rate_report(hit[valid > 0], "generate.hr@1_valid"))
    columns = {"generated": pa.array(generated),
               "parsed_item": pa.array([None if p is None else int(row[p]) for p, row in zip(picks, candidates)], pa.int32()),
               "generate_hit": pa.array(hit.astype(bool))}
    return metrics, columns


def scoring_metrics(summed: np.ndarray, mean: np.ndarray, target_col: np.ndarray, normalisation: str) -> tuple[dict, dict]:
    """HR@1/3/5 and NDCG@3/5 of the default score (`score.*`) and of the other normalisation."""
    default, other = (mean, summed) if normalisation == "mean" else (summed, mean)
    metrics: dict = {}
    for name, scores in (("score", default), ("score_sum" if normalisation == "mean" else "score_mean", other)):
        ranks = target_rank(scores, target_col)
        for k in (1, 3, 5):
            metrics.update(rate_report(ranks < k, f"{name}.hr@{k}"))
        for k in (3, 5):
            metrics.update(mean_report(ndcg_at_k(ranks, k), f"{name}.ndcg@{k}"))
    columns = {"scores_mean": pa.array(list(mean.astype(np.float32))),
               "scores_sum": pa.array(list(summed.astype(np.float32))),
               "score_rank": pa.array(target_rank(default, target_col))}
    return metrics, columns


def evaluate(model_dir: Path, prompts: Path, prepared: Path, sr_metrics: Path | None, params: EvalParams,
             out: Path, progress: bool = True, ranks: Ranks = Ranks()) -> dict:
    """Write metrics.json (flat), predictions.parquet and comparison.csv to `out`; returns the metrics."""
    model, tokenizer, args = load_llara(model_dir)
    titles = pq.read_table(prepared / "items.parquet", columns=["title"]).column("title").to_pylist()
    manifest = json.loads((prompts / "manifest.json").read_text())
    _check_compatible(args, tokenizer, manifest, len(titles), model_dir, prompts)
    variant = params.variant if params.variant != "auto" else trained_variant(args["train"])
    names, splice = item_names(variant, titles), VARIANTS[variant].spliced
    table = read_all(prompts / params.split / variant)
    if params.max_examples is not None:
        table = table.slice(0, params.max_examples)
    n = table.num_rows
    candidates = np.array(table.column("candidates").to_pylist())  # [N, K]
    target_col = np.argmax(candidates == table.column("target").to_numpy()[:, None], axis=1)  # [N]
    metrics: dict = {"n": n, "variant": variant}
    columns: dict = {c: table.column(c) for c in ("example_id", "user_id", "candidates", "target")}
    with Progress(disable=not progress or not ranks.main) as bar:
        if "generate" in params.modes:
            task = bar.add_task("generate", total=len(range(ranks.rank, n, ranks.world)))

            def generate(indices: np.ndarray) -> list[str]:
                texts = []
                for start in range(0, len(indices), params.batch_size):
                    texts += generate_answers(model, tokenizer, table, indices[start:start + params.batch_size],
                                              splice, params.max_new_tokens)
                    bar.update(task, completed=len(texts))
                return texts

            generated, metrics["generate.seconds_per_example"] = _sharded(generate, n, ranks)
            found, cols = generation_metrics(generated, names, candidates, target_col)
            metrics.update(found)
            columns.update(cols)
        if "score" in params.modes:
            task = bar.add_task("score", total=len(range(ranks.rank, n, ranks.world)))
            answers = answer_token_ids(tokenizer, names)

            def score(indices: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
                return [_score_one(model, tokenizer, table, i, candidates[i], answers, splice, bar, task) for i in indices]

            scored, metrics["score.seconds_per_example"] = _sharded(score, n, ranks)
            found, cols = scoring_metrics(np.stack([s for s, _ in scored]), np.stack([m for _, m in scored]),
                                          target_col, params.normalisation)
            metrics.update(found)
            columns.update(cols)
    if ranks.main:
        metrics.update(_sr_rows(sr_metrics, params.split))
        write_json(out / "metrics.json", metrics)
        pq.write_table(pa.table(columns), out / "predictions.parquet")
        _write_comparison(out / "comparison.csv", metrics, params.split)
    return metrics


def _score_one(model: Llara, tokenizer, table: pa.Table, i: int, candidates: np.ndarray, answers: list[list[int]],
               splice: bool, bar: Progress, task) -> tuple[np.ndarray, np.ndarray]:
    batch = collate(table, np.array([i]), tokenizer.pad_token_id, prompt_only=True)
    summed, mean = score_candidates(model, batch["input_ids"], batch["slot_pos"], batch["slot_items"], splice,
                                    [answers[c] for c in candidates], tokenizer.pad_token_id)
    bar.advance(task)
    return summed.numpy(), mean.numpy()


def _sr_rows(sr_metrics: Path | None, split: str) -> dict:
    """The SR model's and popularity's metrics on the same split, prefixed `sr.`, for one table."""
    if sr_metrics is None or not sr_metrics.is_file():
        return {}
    rows = {}
    for key, value in json.loads(sr_metrics.read_text()).items():
        base = key.split(".ci_")[0]
        if base.startswith(f"{split}.") or base.startswith(f"popularity.{split}."):
            rows[f"sr.{key}"] = value
    return rows


def _write_comparison(path: Path, metrics: dict, split: str) -> None:
    """One row per method for `dvc plots show` (bar chart of HR@1 with its interval)."""
    rows = ["method,hr@1,ci_low,ci_high"]
    for method, key in (("popularity", f"sr.popularity.{split}.hr@1"), ("sr", f"sr.{split}.hr@1"),
                        ("llara-generate", "generate.hr@1"), ("llara-score", "score.hr@1")):
        if key in metrics:
            rows.append(f"{method},{metrics[key]:.4f},{metrics[key + '.ci_low']:.4f},{metrics[key + '.ci_high']:.4f}")
    path.write_text("\n".join(rows) + "\n")
