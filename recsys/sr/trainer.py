"""Stage 1: pretrain one sequential recommender, select it on validation, score and export it.

Selection: after every epoch the model scores the stored validation candidates; the state with
the best validation HR@1 is kept (ties broken by NDCG over all K candidates, a smoother signal
on ~100 users), and training stops after `patience` epochs without a better one.

Wall-clock time goes to timing.json, not metrics.json: DVC hashes metrics.json into dvc.lock, so a
rerun with the same results must write the same bytes.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from recsys.config import TEXT_BACKBONES, SRParams
from recsys.data.stats import FILE, PreparedStats
from recsys.embeddings import save_item_embeddings
from recsys.errors import InputError
from recsys.io import write_json
from recsys.metrics import hit_at_k, mean_report, ndcg_at_k, ranking_report, rate_report, target_rank
from recsys.progress import Steps
from recsys.sr.base import SequentialRecommender
from recsys.sr.data import Examples, batch_indices, count_items, load_examples
from recsys.sr.inference import save_model, score_examples
from recsys.sr.loss import next_item_loss
from recsys.sr.popularity import item_counts, popularity_scores
from recsys.sr.registry import architecture, build_model
from recsys.sr.text import title_features



@dataclass
class FitResult:
    best_state: dict[str, torch.Tensor]
    best_epoch: int
    curve: list[tuple[int, float, float]]  # (epoch, mean train loss, val HR@1)
    seconds: float


def pretrain(params: SRParams, prepared: Path, out: Path, progress: bool = True) -> dict:
    """Train `params.model` on `prepared`, write the model, embeddings, scores and metrics to
    the existing directory `out`, and return the flat metrics dict written to metrics.json."""
    prepared, out = Path(prepared), Path(out)
    if not out.is_dir():
        raise InputError(str(out), "output directory does not exist")
    arch = architecture(params, count_items(prepared / "items.parquet"), history_length(prepared))
    train = load_examples(prepared / "train.parquet", arch.n_items, arch.max_len, with_candidates=False)
    val = load_examples(prepared / "val.parquet", arch.n_items, arch.max_len, with_candidates=True)
    test = load_examples(prepared / "test.parquet", arch.n_items, arch.max_len, with_candidates=True)

    text = title_features(prepared / "items.parquet") if params.model in TEXT_BACKBONES else None
    torch.manual_seed(params.seed)
    model = build_model(arch, text)
    fit = fit_model(model, train, val, params, progress)
    model.load_state_dict(fit.best_state)

    metrics: dict = {"best_epoch": fit.best_epoch, "epochs_run": len(fit.curve)}
    counts = item_counts(train.targets, arch.n_items)
    for split, examples in (("val", val), ("test", test)):
        scores, full_ranks = score_examples(model, examples)
        ranks = target_rank(scores, examples.target_col.numpy())
        metrics.update(ranking_report(ranks, split))
        metrics.update(rate_report(hit_at_k(full_ranks, 10), f"{split}.full.hr@10"))
        metrics.update(mean_report(ndcg_at_k(full_ranks, 10), f"{split}.full.ndcg@10"))
        popular = popularity_scores(counts, examples.candidates)
        popular_ranks = target_rank(popular, examples.target_col.numpy())
        metrics.update(ranking_report(popular_ranks, f"popularity.{split}"))
        write_scores(out / f"scores_{split}.parquet", examples, scores, ranks, popular_ranks)

    save_model(model, out)
    save_item_embeddings(model.item_embeddings(), out / "item_embeddings.safetensors")
    write_curve(out / "curve.csv", fit.curve)
    write_json(out / "metrics.json", metrics)
    write_json(out / "timing.json", {"train_seconds": round(fit.seconds, 2)})
    return metrics


def history_length(prepared: Path) -> int:
    """The prepared data's data.max_len, from its stats.json: the SR model reads histories that long."""
    value = PreparedStats.read(prepared).max_len
    if not isinstance(value, int) or value < 1:
        raise InputError(f"{prepared / FILE}: max_len", f"expected a positive integer, got {value!r}")
    return value


def fit_model(
    model: SequentialRecommender,
    train: Examples,
    val: Examples,
    params: SRParams,
    progress: bool,
) -> FitResult:
    """Adam over shuffled epochs with early stopping on validation HR@1 (see module docstring).

    Progress: a bar over the epochs on a terminal, else a line per epoch (loss, val HR@1) on stderr.
    """
    generator = torch.Generator().manual_seed(params.seed)  # batch order and negatives
    optimizer = torch.optim.Adam(model.parameters(), lr=params.lr, weight_decay=params.weight_decay)
    best_key, best_state, best_epoch, stale = None, None, 0, 0
    curve = []
    start = time.perf_counter()
    with Steps(f"{params.model} epoch", params.epochs, enabled=progress, lines=params.epochs) as steps:
        for epoch in range(1, params.epochs + 1):
            loss = train_epoch(model, optimizer, train, params, generator)
            scores, _ = score_examples(model, val)
            ranks = target_rank(scores, val.target_col.numpy())
            key = (hit_at_k(ranks, 1).mean(), ndcg_at_k(ranks, scores.shape[1]).mean())
            curve.append((epoch, loss, float(key[0])))
            steps.advance(status=f"loss {loss:.4f} val HR@1 {key[0]:.4f}")
            if best_key is None or key > best_key:
                best_key, best_epoch, stale = key, epoch, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                stale += 1
                if stale >= params.patience:
                    break
    return FitResult(best_state, best_epoch, curve, time.perf_counter() - start)


def train_epoch(
    model: SequentialRecommender,
    optimizer: torch.optim.Optimizer,
    train: Examples,
    params: SRParams,
    generator: torch.Generator,
) -> float:
    """One shuffled pass over the training rows; returns the mean loss per row."""
    model.train()
    total = 0.0
    for rows in batch_indices(len(train), params.batch_size, generator):
        rep = model(train.seq[rows], train.lengths[rows])  # [B, d]
        loss = next_item_loss(
            model, rep, train.targets[rows], params.loss, params.num_negatives, generator
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * rows.shape[0]
    return total / len(train)


def write_scores(path: Path, examples: Examples, scores: np.ndarray, ranks: np.ndarray, popular_ranks: np.ndarray) -> None:
    """One row per example: the stored candidates, their scores and the rank of the target (by the model
    and by popularity), so later stages compare other models with both on the same examples."""
    n, k = scores.shape
    offsets = pa.array(np.arange(0, n * k + 1, k, dtype=np.int32))
    table = pa.table(
        {
            "user_id": pa.array(examples.user_ids.numpy(), pa.int64()),
            "candidates": pa.ListArray.from_arrays(
                offsets, pa.array(examples.candidates.numpy().ravel().astype(np.int32))
            ),
            "scores": pa.ListArray.from_arrays(offsets, pa.array(scores.ravel(), pa.float32())),
            "target": pa.array(examples.targets.numpy().astype(np.int32)),
            "rank": pa.array(ranks.astype(np.int32)),
            "popularity_rank": pa.array(popular_ranks.astype(np.int32)),
        }
    )
    pq.write_table(table, path)


def write_curve(path: Path, curve: list[tuple[int, float, float]]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "train_loss", "val_hr@1"])
        writer.writerows((epoch, f"{loss:.6f}", f"{hr:.6f}") for epoch, loss, hr in curve)
