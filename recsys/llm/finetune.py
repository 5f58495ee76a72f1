"""Curriculum prompt tuning: LoRA + projector on text-only then hybrid prompts, resumable at any step.

Every optimiser step draws its task from `schedule.draw_task(step)` and reads the micro-batches
`step * grad_accum ... + grad_accum - 1` of a seeded, length-grouped order, so the whole run is a
function of (params, seed, step): a resumed run continues exactly where a killed one stopped.
Under torchrun, process r takes micro-batches r, r + N, ... of each step and DistributedDataParallel
averages the gradients, so N processes make the same optimiser steps as one (same global batch).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from transformers import get_cosine_schedule_with_warmup

from recsys.config import LoraParams, TrainParams
from recsys.distributed import Ranks, all_sum, barrier
from recsys.embeddings import load_item_embeddings
from recsys.errors import InputError
from recsys.llm.base_model import load_base
from recsys.llm.batches import collate, length_grouped_order
from recsys.llm.behaviour import seeded_behaviour
from recsys.llm.checkpoint import load_checkpoint, save_checkpoint
from recsys.llm.model import Llara, save_llara, with_lora
from recsys.llm.schedule import draw_task
from recsys.prompts.shards import read_all
from recsys.prompts.templates import VARIANTS


class Interrupted(RuntimeError):
    """Raised by `stop_after` to simulate a crash in tests."""


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """bf16 autocast where asked, or where `auto` finds a GPU that supports it; else none (fp32)."""
    if precision == "bf16" or (precision == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported()):
        return torch.bfloat16
    return None


class AnswerLoss(nn.Module):
    """`Llara.answer_loss` as a forward, which is what DistributedDataParallel hooks into."""

    def __init__(self, model: Llara):
        super().__init__()
        self.model = model

    def forward(self, **batch) -> torch.Tensor:
        return self.model.answer_loss(**batch)


class MicroBatches:
    """Micro-batch m of the run = batch (m mod per-epoch count) of epoch (m div per-epoch count)."""

    def __init__(self, lengths: np.ndarray, batch_size: int, seed: int):
        self.lengths, self.batch_size, self.seed = lengths, batch_size, seed
        self.per_epoch = math.ceil(len(lengths) / batch_size)
        self._epoch, self._order = -1, []

    def __getitem__(self, m: int) -> np.ndarray:
        epoch = m // self.per_epoch
        if epoch != self._epoch:
            self._epoch, self._order = epoch, length_grouped_order(self.lengths, self.batch_size, self.seed, epoch)
        return self._order[m % self.per_epoch]


def total_steps(n_examples: int, params: TrainParams) -> int:
    if params.max_steps is not None:
        return params.max_steps
    return params.epochs * math.ceil(math.ceil(n_examples / params.batch_size) / params.grad_accum)


def _fingerprint(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def finetune(
    prompts: Path,
    base: Path,
    item_embeddings: Path,
    items_parquet: Path,
    lora: LoraParams,
    train: TrainParams,
    out: Path,
    checkpoints: Path,
    progress: bool = True,
    stop_after: int | None = None,
    ranks: Ranks = Ranks(),
) -> dict:
    """Train and write adapter/, projector.safetensors, finetune.json, train_log.csv to `out` (main process)."""
    if train.grad_accum % ranks.world:
        raise InputError("train.grad_accum", f"{train.grad_accum} micro-batches per step do not split over {ranks.world} processes")
    torch.manual_seed(train.seed)
    device = ranks.device()
    dtype = autocast_dtype(train.precision, device)
    n_items = pq.read_metadata(items_parquet).num_rows
    table = load_item_embeddings(item_embeddings, items_parquet)
    lm, tokenizer = load_base(base)
    if train.gradient_checkpointing:
        lm.gradient_checkpointing_enable()
        lm.enable_input_require_grads()
    model = Llara(with_lora(lm, lora), seeded_behaviour(table, lm.config.hidden_size, train.seed)).to(device)
    model.train()
    step_loss = AnswerLoss(model)
    if ranks.world > 1:
        step_loss = DistributedDataParallel(step_loss, find_unused_parameters=True, broadcast_buffers=False)
    shards = {task: read_all(prompts / "train" / task) for task in {"text", train.hard_variant}}
    if shards["text"].num_rows == 0:
        raise InputError(str(prompts / "train"), "no training prompts (run `recsys materialize`)")
    lengths = np.diff(shards["text"].column("input_ids").combine_chunks().offsets.to_numpy())
    batches = MicroBatches(lengths, train.batch_size, train.seed)
    steps = total_steps(len(lengths), train)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=train.lr, weight_decay=train.weight_decay)
    scheduler = get_cosine_schedule_with_warmup(optimizer, int(train.warmup_ratio * steps), steps)
    manifest = json.loads((prompts / "manifest.json").read_text())
    fingerprint = _fingerprint(asdict(train), asdict(lora), str(base), str(item_embeddings), manifest)
    start, log = load_checkpoint(checkpoints, fingerprint, model, optimizer, scheduler)
    pad_id = tokenizer.pad_token_id
    columns = [TextColumn("finetune"), BarColumn(), TextColumn("{task.completed}/{task.total} steps"),
               TextColumn("loss {task.fields[loss]:.3f}  {task.fields[tps]:.0f} tok/s  p {task.fields[p]:.2f}"),
               TimeRemainingColumn()]
    local = range(ranks.rank, train.grad_accum, ranks.world)  # this process's micro-batches of each step
    with Progress(*columns, disable=not progress or not ranks.main) as bar:
        task_bar = bar.add_task("finetune", total=steps, completed=start, loss=float("nan"), tps=0.0, p=0.0)
        for step in range(start, steps):
            began = time.perf_counter()
            task, p_hard = draw_task(step, steps, train)
            losses, tokens = [], 0
            for j in local:
                batch = collate(shards[task], batches[step * train.grad_accum + j], pad_id)
                batch = {k: v.to(device) for k, v in batch.items()}
                sync = j == local[-1] or ranks.world == 1
                with step_loss.no_sync() if not sync else nullcontext():
                    with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                        loss = step_loss(**batch, splice=VARIANTS[task].spliced)
                    # DDP averages over processes, so each divides by its own share of the step
                    (loss * ranks.world / train.grad_accum).backward()
                losses.append(loss.item())
                tokens += int(batch["attention_mask"].sum())
            loss_sum, count, tokens = all_sum([sum(losses), len(losses), tokens], ranks)
            torch.nn.utils.clip_grad_norm_(trainable, train.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            seconds = time.perf_counter() - began
            log.append({"step": step + 1, "loss": loss_sum / count, "lr": scheduler.get_last_lr()[0],
                        "p_hard": p_hard, "task": task, "tokens": int(tokens), "tokens_per_s": tokens / seconds})
            bar.update(task_bar, advance=1, loss=log[-1]["loss"], tps=log[-1]["tokens_per_s"], p=p_hard)
            if ranks.main and ((step + 1) % train.checkpoint_every == 0 or step + 1 == steps):
                save_checkpoint(checkpoints, step + 1, fingerprint, model, optimizer, scheduler, log)
            if stop_after is not None and step + 1 == stop_after:
                raise Interrupted(f"stopped after step {step + 1}")
    args = {"base_model": str(base), "item_embeddings": str(item_embeddings), "n_items": n_items,
            "items": str(items_parquet), "domain": manifest["domain"], "max_len": manifest["max_len"],
            "item_dim": table.shape[1], "hidden_size": lm.config.hidden_size, "lora": asdict(lora),
            "train": asdict(train), "steps": steps, "examples": len(lengths), "fingerprint": fingerprint}
    if ranks.main:
        save_llara(model.cpu(), out, args)
        _write_log(out / "train_log.csv", log)
    barrier(ranks)
    return {"steps": steps, "final_loss": log[-1]["loss"] if log else float("nan"),
            "mean_tokens_per_s": float(np.mean([r["tokens_per_s"] for r in log])) if log else 0.0}


def _write_log(path: Path, log: list[dict]) -> None:
    header = ["step", "loss", "lr", "p_hard", "task", "tokens", "tokens_per_s"]
    lines = [",".join(header)] + [",".join(str(row[h]) for h in header) for row in log]
    path.write_text("\n".join(lines) + "\n")
