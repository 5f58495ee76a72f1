"""Curriculum prompt tuning: LoRA + projector on text-only then hybrid prompts, resumable at any step.

Every optimiser step draws its task from `schedule.draw_task(step)` and reads the micro-batches
`step * grad_accum ... + grad_accum - 1` of a seeded, length-grouped order, so the whole run is a
function of (params, seed, step): a resumed run continues exactly where a killed one stopped.
Under torchrun, process r takes micro-batches r, r + N, ... of each step and DistributedDataParallel
averages the gradients, so N processes make the same optimiser steps as one (same global batch).

The recipe has torchtune's seams: `Trainer(...)` sets up, `.step(s)` makes one optimiser step,
`.checkpoint(s)` and `.save(out)` write; `finetune` drives them with progress and the validation curve.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch.nn.parallel import DistributedDataParallel
from transformers import get_cosine_schedule_with_warmup

from recsys.config import LoraParams, TrainParams
from recsys.distributed import Ranks, all_sum, barrier
from recsys.errors import InputError
from recsys.llm.batches import collate, length_grouped_order
from recsys.llm.card import ModelCard
from recsys.llm.checkpoint import StepLog, load_checkpoint, save_checkpoint
from recsys.llm.model import build_llara, save_llara
from recsys.llm.objective import Objective, TrainingLoss
from recsys.llm.precision import autocast_dtype, weights_dtype
from recsys.llm.ranking import choice_scores
from recsys.llm.readout import Readout, missing_readout
from recsys.llm.schedule import draw_task
from recsys.llm.sr_signals import prompt_table, teacher_logits
from recsys.metrics import ndcg_at_k, target_rank
from recsys.progress import Steps
from recsys.prompts.manifest import PromptManifest
from recsys.prompts.templates import VARIANTS, trained_variant

LOG_FIELDS = ["step", "loss", "answer", "listwise", "distill", "letters", "lr", "p_hard", "task", "prompts", "tokens", "seconds"]


@dataclass(frozen=True)
class FinetuneInputs:
    """What fine-tuning reads: the prompt shards, the base model, the SR model folder, the items."""

    prompts: Path  # data/prompts/<dataset>/<llm>
    base: Path  # models/base/<llm>
    sr_model: Path  # models/sr/<dataset>/<sr-model>: item_embeddings.safetensors, and the teacher
    items: Path  # data/prepared/<dataset>/items.parquet

    @property
    def item_embeddings(self) -> Path:
        return self.sr_model / "item_embeddings.safetensors"


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


class Trainer:
    """Everything one run needs, set up once; `step` is one optimiser step of the global schedule."""

    def __init__(self, inputs: FinetuneInputs, lora: LoraParams, train: TrainParams, checkpoints: Path,
                 ranks: Ranks = Ranks(), llm_dtype: str = "auto"):
        if train.grad_accum % ranks.world:
            raise InputError("train.grad_accum", f"{train.grad_accum} micro-batches per step do not split over "
                             f"{ranks.world} processes")
        self.inputs, self.lora, self.train, self.ranks = inputs, lora, train, ranks
        self.manifest = PromptManifest.read(inputs.prompts)
        self.manifest.check_order(inputs.sr_model, inputs.prompts)
        self.objective = Objective.from_params(train)
        self.readout = trained_readout(self.objective, train.readout, self.manifest)
        self.letters = Readout.from_manifest("letters", self.manifest)
        if self.objective.letter_weight and self.letters is None:
            raise InputError("train.letter_weight", "the letter term needs prompts with index letters "
                             "(prompts.index_letters: true), or set it to 0")
        self.variant = trained_variant(train.schedule, train.hard_variant)
        self.shards = training_tables(inputs.prompts / train.examples_from, inputs.sr_model, self.variant,
                                      self.manifest)
        user_dim = _user_dim(self.shards[self.variant])
        spec = VARIANTS[self.variant]
        if spec.user_slot and not spec.spliced and not user_dim:
            raise InputError("train.hard_variant", f"{self.variant} is the text prompt with the user token, which "
                             "these prompts lack: set prompts.user_token: true")
        if train.item_scores and not user_dim and spec.spliced:
            raise InputError("train.item_scores", "the SR scores come with the user states of prompts with user "
                             "slots (prompts.user_token: true), or set it to false")
        if train.sr_prior and not user_dim and spec.behavioural:
            raise InputError("train.sr_prior", "the SR scores come with the user states of prompts with user slots "
                             "(prompts.user_token: true), or set it to false")
        self.device = ranks.device()
        self.dtype = autocast_dtype(train.precision, self.device)
        self.model, self.tokenizer = build_llara(inputs.base, inputs.item_embeddings, inputs.items, lora, train.seed,
                                                 train.gradient_checkpointing, self.device,
                                                 weights_dtype(llm_dtype, self.device), user_dim,
                                                 train.item_scores and bool(user_dim) and spec.spliced,
                                                 train.sr_prior and bool(user_dim))
        self.model.train()
        self.manifest.check_tokenizer(self.tokenizer, inputs.prompts)
        self.loss = TrainingLoss(self.model, self.objective, self.readout, self.letters).to(self.device)
        if ranks.world > 1:
            self.loss = DistributedDataParallel(self.loss, find_unused_parameters=True, broadcast_buffers=False)
        self.teacher = ({task: teacher_logits(inputs.sr_model, table) for task, table in self.shards.items()}
                        if self.objective.distill_weight else None)  # per task: the candidates' order may differ
        self.lengths = np.diff(self.shards["text"].column("input_ids").combine_chunks().offsets.to_numpy())
        self.batches = MicroBatches(self.lengths, train.batch_size, train.seed)
        self.steps = total_steps(len(self.lengths), train)
        self.trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.trainable, lr=train.lr, weight_decay=train.weight_decay)
        self.scheduler = get_cosine_schedule_with_warmup(self.optimizer, int(train.warmup_ratio * self.steps),
                                                         self.steps)
        self.fingerprint = _fingerprint(asdict(train), asdict(lora), str(inputs.base), str(inputs.sr_model),
                                        asdict(self.manifest), llm_dtype, str(self.dtype))  # auto resolves per machine
        self.local = range(ranks.rank, train.grad_accum, ranks.world)  # this process's micro-batches of a step
        # one folder per run: a run with other params never overwrites (or truncates the log of) another's
        self.checkpoints = Path(checkpoints) / self.fingerprint
        self.start = load_checkpoint(self.checkpoints, self.fingerprint, self.model, self.optimizer, self.scheduler)
        self.log = StepLog(self.checkpoints, LOG_FIELDS, self.start, enabled=ranks.main)
        self._val = None

    def step(self, step: int) -> dict:
        """One optimiser step: its task, its micro-batches, clipped AdamW; -> its log row."""
        began = time.perf_counter()
        task, p_hard = draw_task(step, self.steps, self.train)
        totals: dict[str, float] = {}
        prompts = tokens = 0
        for j in self.local:
            rows = self.batches[step * self.train.grad_accum + j]
            batch = collate(self.shards[task], rows, self.tokenizer.pad_token_id)
            if self.teacher is not None:
                batch["teacher"] = self.teacher[task][rows]
            batch = {k: v.to(self.device) for k, v in batch.items()}
            sync = j == self.local[-1] or self.ranks.world == 1
            with self.loss.no_sync() if not sync else nullcontext():
                with torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype is not None):
                    loss, parts = self.loss(**batch, splice=VARIANTS[task].spliced)
                # DDP averages over processes, so each divides by its own share of the step
                (loss * self.ranks.world / self.train.grad_accum).backward()
            for name, value in {"loss": float(loss.detach()), **parts}.items():
                totals[name] = totals.get(name, 0.0) + value
            prompts += len(rows)
            tokens += int(batch["attention_mask"].sum())
        names = list(totals)
        summed = all_sum([totals[n] for n in names] + [len(self.local), prompts, tokens], self.ranks)
        count, prompts, tokens = summed[-3:]
        _check_finite(step + 1, {n: v / count for n, v in zip(names, summed)})
        torch.nn.utils.clip_grad_norm_(self.trainable, self.train.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        row = {"step": step + 1, **{n: v / count for n, v in zip(names, summed)}, "lr": self.scheduler.get_last_lr()[0],
               "p_hard": p_hard, "task": task, "prompts": int(prompts), "tokens": int(tokens),
               "seconds": round(time.perf_counter() - began, 3)}
        self.log.append(row)
        return row

    def checkpoint(self, step: int) -> None:
        if self.ranks.main:
            save_checkpoint(self.checkpoints, step, self.fingerprint, self.model, self.optimizer, self.scheduler)

    def validate(self) -> dict:
        """Validation HR@1 and NDCG@5 of the model as it is, by its one-pass read-out (the learning curve)."""
        if self._val is None:
            self._val = prompt_table(self.inputs.prompts / "val" / self.variant, self.inputs.sr_model, self.manifest)
        table = self._val
        self.model.eval()
        with torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype is not None):
            scores = choice_scores(self.model, table, np.arange(table.num_rows), self.readout,
                                   VARIANTS[self.variant].spliced, self.tokenizer.pad_token_id,
                                   self.train.batch_size, self.device)
        self.model.train()
        candidates = np.array(table.column("candidates").to_pylist())  # [N, K]
        ranks = target_rank(scores, np.argmax(candidates == table.column("target").to_numpy()[:, None], axis=1))
        return {"val_hr@1": float(np.mean(ranks < 1)), "val_ndcg@5": float(np.mean(ndcg_at_k(ranks, 5)))}

    def card(self) -> ModelCard:
        table_shape = self.model.behaviour.item_table.shape
        return ModelCard(base_model=str(self.inputs.base), sr_model=str(self.inputs.sr_model),
                         items=str(self.inputs.items), n_items=pq.read_metadata(self.inputs.items).num_rows,
                         domain=self.manifest.domain, max_len=self.manifest.max_len, variant=self.variant,
                         index_letters=self.manifest.index_letters, candidate_order=self.manifest.candidate_order,
                         readout=self.readout.kind if self.readout else "",
                         readout_ids=list(self.readout.token_ids) if self.readout else [], item_dim=int(table_shape[1]),
                         user_dim=_user_dim(self.shards[self.variant]),
                         item_scores=self.model.behaviour.score_projector is not None,
                         hidden_size=self.model.lm.config.hidden_size, lora=asdict(self.lora),
                         train=asdict(self.train), steps=self.steps, examples=len(self.lengths),
                         fingerprint=self.fingerprint, compute="bf16" if self.dtype == torch.bfloat16 else "fp32",
                         sr_prior=self.model.sr_prior)

    def save(self, out: Path) -> None:
        """adapter/, projector.safetensors, finetune.json and train_log.csv (main process only)."""
        if self.ranks.main:
            save_llara(self.model, out, self.card())
            self.log.write_csv(out / "train_log.csv")


def finetune(inputs: FinetuneInputs, lora: LoraParams, train: TrainParams, out: Path, checkpoints: Path,
             progress: bool = True, ranks: Ranks = Ranks(), llm_dtype: str = "auto") -> dict:
    """Train (resuming from `checkpoints` when it holds this run) and write the model and its logs to `out`."""
    trainer = Trainer(inputs, lora, train, checkpoints, ranks, llm_dtype)
    curve = trainer.log.curve
    validate_at = _validation_steps(trainer.steps, train.eval_points) if trainer.readout else set()
    if 0 in validate_at and trainer.start == 0 and ranks.main:
        curve.append({"step": 0, "prompts": 0, **trainer.validate()})
        trainer.log.write_curve()
    seconds = tokens = 0.0
    with Steps("finetune", trainer.steps, done=trainer.start, enabled=progress and ranks.main) as bar:
        for step in range(trainer.start, trainer.steps):
            row = trainer.step(step)
            seconds, tokens = seconds + row["seconds"], tokens + row["tokens"]
            if (step + 1) % train.checkpoint_every == 0 or step + 1 == trainer.steps:
                trainer.checkpoint(step + 1)
            if step + 1 in validate_at and ranks.main:
                curve.append({"step": step + 1, "prompts": (step + 1) * train.batch_size * train.grad_accum,
                              **trainer.validate()})
                trainer.log.write_curve()
            shown = f"loss {row['loss']:.3f} p {row['p_hard']:.2f} {row['tokens'] / row['seconds']:.0f} tok/s"
            bar.advance(status=shown + (f" val HR@1 {curve[-1]['val_hr@1']:.3f}" if curve else ""))
    trainer.save(out)
    if ranks.main:
        trainer.log.write_curve(out / "val_curve.csv")
    barrier(ranks)
    return {"steps": trainer.steps, "resumed_at": trainer.start, "final_loss": trainer.log.last("loss"),
            "tokens_per_s": tokens / seconds if seconds else 0.0, "val_hr@1": curve[-1]["val_hr@1"] if curve else None}


def training_tables(folder: Path, sr_model: Path, variant: str, manifest: PromptManifest) -> dict[str, pa.Table]:
    """The text task's and the hard task's training prompts under `folder` (a split's prompts: the same examples,
    row for row; a behavioural task's candidates may be listed in another order, recsys.prompts.order)."""
    tables = {task: prompt_table(folder / task, sr_model, manifest) for task in {"text", variant}}
    if tables["text"].num_rows == 0:
        raise InputError(str(folder), "no training prompts (run `recsys materialize`)")
    return tables


def _user_dim(table: pa.Table) -> int:
    """The size of the SR states a table's user slots carry (0: none)."""
    return table.schema.field("user_state").type.list_size if "user_state" in table.column_names else 0


def _check_finite(step: int, losses: dict[str, float]) -> None:
    """Stop at a NaN or infinite loss: every later step would train on it and write a broken model."""
    if not math.isfinite(losses["loss"]):
        parts = ", ".join(f"{name} {value:.4g}" for name, value in losses.items() if name != "loss")
        raise InputError("train", f"non-finite loss ({losses['loss']}) at step {step} ({parts}): lower train.lr or "
                         "check the inputs")


def trained_readout(objective: Objective, kind: str, manifest: PromptManifest) -> Readout | None:
    """The one-pass read-out this run trains: `kind` when the objective scores candidates; with the answer loss
    alone, the index letters (the answer's first token) when the prompts have them; else none (no rank mode)."""
    if objective.reads_choices:
        readout = Readout.from_manifest(kind, manifest)
        if readout is None:
            raise InputError("train.readout", missing_readout(kind) + " (or train.listwise_weight, "
                             "train.distill_weight and train.letter_weight: 0)")
        return readout
    return Readout.from_manifest("letters", manifest)


def _validation_steps(steps: int, points: int) -> set[int]:
    """Step 0 and `points` steps spread evenly over the run, the last one included (none when points is 0); at
    most one per step."""
    points = min(points, steps)
    return {0} | {round(steps * (i + 1) / points) for i in range(points)} if points else set()
