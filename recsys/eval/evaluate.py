"""The evaluate stage's work: a fine-tuned LLaRA on the stored candidates, beside its SR model."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rich.progress import Progress

from recsys.config import EvalParams
from recsys.errors import InputError
from recsys.eval.generate import generate_answers
from recsys.eval.match import match_answer
from recsys.eval.score import answer_token_ids, score_candidates
from recsys.io import write_json
from recsys.llm.base_model import ITEM_TOKENS
from recsys.llm.batches import collate
from recsys.llm.model import load_llara
from recsys.metrics import mean_report, ndcg_at_k, rate_report, target_rank
from recsys.prompts.shards import read_all

SR_KEYS = ("hr@1", "hr@5", "ndcg@5")


def _check_compatible(args: dict, tokenizer, manifest: dict, n_items: int, model_dir: Path, prompts: Path) -> None:
    """Stop when the model, the prompts and the prepared data do not belong together."""
    if args["n_items"] != n_items:
        raise InputError(str(model_dir / "finetune.json"), f"trained on {args['n_items']} items, the data has {n_items}")
    ids = dict(zip(("text", "hybrid"), (tokenizer.convert_tokens_to_ids(t) for t in ITEM_TOKENS)))
    if ids != manifest["item_tokens"]:
        raise InputError(str(prompts / "manifest.json"),
                         f"prompts were tokenised for item tokens {manifest['item_tokens']}, the model's base has {ids}")


def evaluate(model_dir: Path, prompts: Path, prepared: Path, sr_metrics: Path | None, params: EvalParams,
             out: Path, progress: bool = True) -> dict:
    """Write metrics.json (flat), predictions.parquet and comparison.csv to `out`; returns the metrics."""
    model, tokenizer, args = load_llara(model_dir)
    titles = pq.read_table(prepared / "items.parquet", columns=["title"]).column("title").to_pylist()
    manifest = json.loads((prompts / "manifest.json").read_text())
    _check_compatible(args, tokenizer, manifest, len(titles), model_dir, prompts)
    variant = params.variant if params.variant != "auto" else (
        "text" if args["train"]["schedule"] == "text-only" else "hybrid")
    table = read_all(prompts / params.split / variant)
    if params.max_examples is not None:
        table = table.slice(0, params.max_examples)
    hybrid, n = variant == "hybrid", table.num_rows
    candidates = np.array(table.column("candidates").to_pylist())  # [N, K]
    target_col = np.argmax(candidates == table.column("target").to_numpy()[:, None], axis=1)
    metrics: dict = {"n": n, "variant": variant}
    columns: dict = {c: table.column(c) for c in ("example_id", "user_id", "candidates", "target")}
    with Progress(disable=not progress) as bar:
        if "generate" in params.modes:
            task = bar.add_task("generate", total=n)
            began, generated = time.perf_counter(), []
            for start in range(0, n, params.batch_size):
                generated += generate_answers(model, tokenizer, table, np.arange(start, min(start + params.batch_size, n)),
                                              hybrid, params.max_new_tokens)
                bar.update(task, completed=len(generated))
            picks = [match_answer(text, [titles[c] for c in row]) for text, row in zip(generated, candidates)]
            valid = np.array([p is not None for p in picks], dtype=float)
            hit = np.array([p is not None and p == t for p, t in zip(picks, target_col)], dtype=float)
            metrics.update(rate_report(valid, "generate.valid_ratio"))
            metrics.update(rate_report(hit, "generate.hr@1"))
            if valid.sum():
                metrics.update(rate_report(hit[valid > 0], "generate.hr@1_valid"))
            metrics["generate.seconds_per_example"] = (time.perf_counter() - began) / n
            columns.update(generated=pa.array(generated),
                           parsed_item=pa.array([None if p is None else int(row[p]) for p, row in zip(picks, candidates)], pa.int32()),
                           generate_hit=pa.array(hit.astype(bool)))
        if "score" in params.modes:
            task = bar.add_task("score", total=n)
            began, answers = time.perf_counter(), answer_token_ids(tokenizer, titles)
            summed, mean = np.zeros(candidates.shape), np.zeros(candidates.shape)
            for i in range(n):
                batch = collate(table, np.array([i]), tokenizer.pad_token_id, prompt_only=True)
                s, m = score_candidates(model, batch["input_ids"], batch["slot_pos"], batch["slot_items"], hybrid,
                                        [answers[c] for c in candidates[i]], tokenizer.pad_token_id)
                summed[i], mean[i] = s.numpy(), m.numpy()
                bar.advance(task)
            metrics["score.seconds_per_example"] = (time.perf_counter() - began) / n
            for name, scores in (("score", mean if params.normalisation == "mean" else summed),
                                 ("score_sum" if params.normalisation == "mean" else "score_mean",
                                  summed if params.normalisation == "mean" else mean)):
                ranks = target_rank(scores, target_col)
                for k in (1, 3, 5):
                    metrics.update(rate_report(ranks < k, f"{name}.hr@{k}"))
                for k in (3, 5):
                    metrics.update(mean_report(ndcg_at_k(ranks, k), f"{name}.ndcg@{k}"))
            columns.update(scores_mean=pa.array(list(mean.astype(np.float32))),
                           scores_sum=pa.array(list(summed.astype(np.float32))),
                           score_rank=pa.array(target_rank(mean if params.normalisation == "mean" else summed, target_col)))
    if sr_metrics is not None and sr_metrics.is_file():
        sr = json.loads(sr_metrics.read_text())
        for key, value in sr.items():
            base = key.split(".ci_")[0]
            if base.startswith(f"{params.split}.") or base.startswith(f"popularity.{params.split}."):
                metrics[f"sr.{key}"] = value
    write_json(out / "metrics.json", metrics)
    pq.write_table(pa.table(columns), out / "predictions.parquet")
    _write_comparison(out / "comparison.csv", metrics, params.split)
    return metrics


def _write_comparison(path: Path, metrics: dict, split: str) -> None:
    """One row per method for `dvc plots show` (bar chart of HR@1 with its interval)."""
    rows = ["method,hr@1,ci_low,ci_high"]
    for method, key in (("popularity", f"sr.popularity.{split}.hr@1"), ("sr", f"sr.{split}.hr@1"),
                        ("llara-generate", "generate.hr@1"), ("llara-score", "score.hr@1")):
        if key in metrics:
            rows.append(f"{method},{metrics[key]:.4f},{metrics[key + '.ci_low']:.4f},{metrics[key + '.ci_high']:.4f}")
    path.write_text("\n".join(rows) + "\n")
