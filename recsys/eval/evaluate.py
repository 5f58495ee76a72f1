"""The evaluate stage's work: a fine-tuned LLaRA (or the base model zero-shot) on the stored candidates,
beside its SR model and popularity, with paired tests on the same examples.

The model and every batch sit on the device of `Ranks`; results come back to the CPU. Under
torchrun each process takes its share of the examples and the main process writes the outputs,
so N processes give the same files as one.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from recsys.config import EvalParams
from recsys.distributed import Ranks
from recsys.errors import InputError
from recsys.eval.catalogue import CATALOGUE, catalogue_mode
from recsys.eval.modes import EvalSet, Runner, generate_mode, rank_mode, score_mode
from recsys.eval.outputs import POPULARITY, SR, write_hits
from recsys.eval.paired import paired_tests
from recsys.eval.zero_shot import zero_shot_model
from recsys.io import read_column, write_json
from recsys.llm.card import ModelCard
from recsys.llm.model import load_llara
from recsys.llm.precision import autocast_dtype, weights_dtype
from recsys.llm.readout import Readout
from recsys.llm.sr_signals import with_user_states
from recsys.prompts.manifest import PromptManifest
from recsys.prompts.shards import read_all
from recsys.prompts.templates import VARIANTS, index_letters, item_names

def _check_compatible(card: ModelCard, tokenizer, manifest: PromptManifest, n_items: int, where: str, prompts: Path,
                      modes: list[str], catalogue_k: int) -> None:
    """Stop when the model, the prompts and the prepared data do not belong together (eval.modes' names are
    checked as params.yaml is read)."""
    if card.n_items != n_items:
        raise InputError(where, f"trained on {card.n_items} items, the data has {n_items}")
    manifest.check_tokenizer(tokenizer, prompts)
    if VARIANTS[card.variant].behavioural:
        manifest.check_order(Path(card.sr_model), prompts)
    if manifest.candidate_order != card.candidate_order:
        raise InputError(str(prompts / "manifest.json"), f"candidates in {manifest.candidate_order} order, the model "
                         f"was trained on {card.candidate_order} order (re-run materialize and finetune with the same "
                         "prompts.candidate_order)")
    if manifest.index_letters != card.index_letters:
        raise InputError(str(prompts / "manifest.json"), "the prompts' index letters differ from the ones the model "
                         "was trained with (re-run materialize and finetune with the same prompts.index_letters)")
    if manifest.user_token != bool(card.user_dim) and VARIANTS[card.variant].user_slot:
        raise InputError(str(prompts / "manifest.json"), f"prompts {'with' if manifest.user_token else 'without'}"
                         f" user slots, the model was trained {'with' if card.user_dim else 'without'} a user token "
                         "(re-run materialize and finetune with the same prompts.user_token)")
    if CATALOGUE in modes and card.index_letters and catalogue_k > len(card.index_letters):
        raise InputError("eval.catalogue_k", f"this model's index letters name at most {len(card.index_letters)} "
                         f"candidates, got {catalogue_k}")
    for mode in ("rank", CATALOGUE):
        if mode in modes and not card.readout_ids:
            raise InputError("eval.modes", f"{mode}: this model has no one-pass read-out (trained with the answer "
                             "loss alone on prompts without index letters); evaluate it with generate and score")


def evaluate(model_dir: Path | None, prompts: Path, prepared: Path, sr_model: Path | None, params: EvalParams,
             out: Path, progress: bool = True, ranks: Ranks = Ranks(), llm_dtype: str = "auto",
             base: Path | None = None) -> dict:
    """Write metrics.json (flat), predictions.parquet, hits.csv and comparison.csv to `out`; returns the metrics.

    `model_dir` None evaluates the base model at `base` zero-shot: no adapter, no projector, text prompts.
    """
    device = ranks.device()
    dtype = weights_dtype(llm_dtype, device)
    manifest = PromptManifest.read(prompts)
    if model_dir is None:
        model, tokenizer, card = zero_shot_model(base, sr_model, prepared / "items.parquet", manifest, device, dtype)
        where = str(base)
    else:
        model, tokenizer, card = load_llara(model_dir, device, dtype)
        where = str(model_dir / "finetune.json")
    titles = read_column(prepared / "items.parquet", "title")
    catalogue_k = params.catalogue_k or manifest.n_candidates
    _check_compatible(card, tokenizer, manifest, len(titles), where, prompts, params.modes, catalogue_k)
    variant = params.variant if params.variant != "auto" else card.variant
    table = read_all(prompts / params.split / variant)
    if params.max_examples is not None:
        table = table.slice(0, params.max_examples)
    if card.user_dim and VARIANTS[variant].behavioural:
        table = with_user_states(table, Path(card.sr_model))
    data = EvalSet(table, item_names(variant, titles), VARIANTS[variant].spliced,
                   index_letters(len(table.column("candidates")[0])) if card.index_letters else "")
    runner = Runner(model, tokenizer, device, params.batch_size, ranks, progress)
    results = {}
    compute = autocast_dtype(params.precision, device)
    with torch.autocast(device.type, dtype=compute, enabled=compute is not None):
        readout = Readout(card.readout, tuple(card.readout_ids)) if "rank" in params.modes else None
        if "generate" in params.modes:
            first = card.index_letters if params.first_token == "letters" and card.index_letters else None
            results.update(generate_mode(runner, data, params.max_new_tokens, first, readout))
        elif readout is not None:
            results["rank"] = rank_mode(runner, data, readout)
        if "score" in params.modes:
            results["score"] = score_mode(runner, data, params.normalisation)
        if CATALOGUE in params.modes and model_dir is not None:
            results[CATALOGUE] = catalogue_mode(runner, card, titles, table, catalogue_k)
    metrics: dict = {"n": table.num_rows, "variant": variant}
    if ranks.main:
        _write(out, metrics, results, table, sr_model, params.split)
    return metrics


def _write(out: Path, metrics: dict, results: dict, table: pa.Table, sr_model: Path | None, split: str) -> None:
    """metrics.json (with the SR rows and paired tests), timing.json, predictions.parquet, hits.csv, comparison.csv."""
    columns: dict = {c: table.column(c) for c in ("example_id", "user_id", "candidates", "target")}
    for result in results.values():
        metrics.update(result.metrics)
        columns.update(result.columns)
    example_ids = table.column("example_id").to_numpy()
    hits = {mode: result.hits for mode, result in results.items() if mode != CATALOGUE}  # its pairs are its own
    baselines = _baseline_hits(sr_model, split, example_ids)
    metrics.update(_sr_rows(sr_model, split))
    metrics.update(paired_tests(hits, baselines))
    write_json(out / "metrics.json", metrics)
    write_json(out / "timing.json", {f"{r.timed_as or m}.seconds_per_example": round(r.seconds_per_example, 4)
                                     for m, r in results.items()})
    pq.write_table(pa.table(columns), out / "predictions.parquet")
    write_hits(out / "hits.csv", example_ids, {**hits, **baselines})
    _write_comparison(out / "comparison.csv", metrics, split)


def _baseline_hits(sr_model: Path | None, split: str, example_ids: np.ndarray) -> dict[str, np.ndarray]:
    """Per example, whether the SR model and popularity rank the target first (scores_<split>.parquet)."""
    path = None if sr_model is None else sr_model / f"scores_{split}.parquet"
    if path is None or not path.is_file():
        return {}
    if "popularity_rank" not in pq.read_schema(path).names:
        raise InputError(str(path), "no popularity_rank column (written by an older pretrain: re-run `recsys pretrain`)")
    scores = pq.read_table(path, columns=["rank", "popularity_rank"])
    return {SR: scores.column("rank").to_numpy()[example_ids] < 1,
            POPULARITY: scores.column("popularity_rank").to_numpy()[example_ids] < 1}


def _sr_rows(sr_model: Path | None, split: str) -> dict:
    """The SR model's and popularity's metrics on the same split, prefixed `sr.`, for one table."""
    path = None if sr_model is None else sr_model / "metrics.json"
    if path is None or not path.is_file():
        return {}
    rows = {}
    for key, value in json.loads(path.read_text()).items():
        base = key.split(".ci_")[0]
        if base.startswith(f"{split}.") or base.startswith(f"popularity.{split}."):
            rows[f"sr.{key}"] = value
    return rows


def _write_comparison(path: Path, metrics: dict, split: str) -> None:
    """One row per method for `dvc plots show` (bar chart of HR@1 with its interval)."""
    rows = ["method,hr@1,ci_low,ci_high"]
    for method, key in (("popularity", f"sr.popularity.{split}.hr@1"), ("sr", f"sr.{split}.hr@1"),
                        ("llara-rank", "rank.hr@1"), ("llara-generate", "generate.hr@1"), ("llara-score", "score.hr@1")):
        if key in metrics:
            rows.append(f"{method},{metrics[key]:.4f},{metrics[key + '.ci_low']:.4f},{metrics[key + '.ci_high']:.4f}")
    path.write_text("\n".join(rows) + "\n")
