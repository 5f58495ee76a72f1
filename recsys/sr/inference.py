"""A pretrained sequential recommender as later stages use it: its saved form, loaded back, and its scores.

Kept apart from training (trainer.py) so that the language model's stages, which read the SR model's
scores and states, import no training code.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from recsys.errors import InputError
from recsys.io import read_json, write_json
from recsys.metrics import target_rank
from recsys.sr.base import Architecture, SequentialRecommender
from recsys.sr.data import Examples, batch_indices
from recsys.sr.morec import FEATURES_KEY
from recsys.sr.registry import build_model

EVAL_BATCH = 1024


def in_fp32(fn):
    """`fn` computes in fp32 whatever autocast the language model runs under: bf16 would tie close SR scores
    (changing ranks), and numpy cannot hold it. The SR model lives on the CPU."""
    @functools.wraps(fn)
    def fp32(*args, **kwargs):
        with torch.autocast("cpu", enabled=False):  # a fresh context each call, so nested calls restore correctly
            return fn(*args, **kwargs)
    return fp32


@in_fp32
@torch.no_grad()
def score_examples(model: SequentialRecommender, examples: Examples) -> tuple[np.ndarray, np.ndarray]:
    """Candidate scores [N, K] (float32) and the target's 0-based rank among all items [N]."""
    model.eval()
    scores, full_ranks = [], []
    for rows in batch_indices(len(examples), EVAL_BATCH):
        rep = model(examples.seq[rows], examples.lengths[rows])  # [B, d]
        scores.append(model.score_candidates(rep, examples.candidates[rows]).numpy())
        all_scores = model.score_all(rep).numpy()  # [B, n_items]
        full_ranks.append(target_rank(all_scores, examples.targets[rows].numpy()))
    return np.concatenate(scores).astype(np.float32), np.concatenate(full_ranks)


def save_model(model: SequentialRecommender, out: Path) -> None:
    """model.safetensors (state dict) and model_args.json (its Architecture: all `load_model` needs)."""
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / "model.safetensors"))
    write_json(out / "model_args.json", dataclasses.asdict(model.arch))


def load_model(directory: Path) -> SequentialRecommender:
    """Rebuild the model saved by `pretrain` in `directory`, in eval mode."""
    directory = Path(directory)
    for name in ("model_args.json", "model.safetensors"):
        if not (directory / name).is_file():
            raise InputError(str(directory / name), "file not found (run the pretrain stage)")
    args = read_json(directory / "model_args.json")
    missing = [field.name for field in dataclasses.fields(Architecture) if field.name not in args]
    if missing:
        raise InputError(str(directory / "model_args.json"), f"missing key {missing[0]!r}")
    arch = Architecture(**{field.name: args[field.name] for field in dataclasses.fields(Architecture)})
    state = load_file(str(directory / "model.safetensors"))
    model = build_model(arch, state.get(FEATURES_KEY))  # MoRec's text is saved inside
    model.load_state_dict(state)
    return model.eval()


@in_fp32
@torch.no_grad()
def catalogue_scores(model: SequentialRecommender, history: list[int]) -> torch.Tensor:
    """[n_items] scores of every item for `history` (item ids, oldest first), the items it holds at -inf: what
    retrieval ranks, over the whole catalogue."""
    recent = history[-model.max_len:]
    seq = torch.tensor([recent or [model.pad_id]])  # [1, L]
    scores = model.score_all(model(seq, torch.tensor([len(recent)])))[0]  # [n_items]
    scores[torch.tensor(sorted(set(history)), dtype=torch.long)] = -torch.inf
    return scores


def retrieve(model: SequentialRecommender, history: list[int], k: int) -> list[int]:
    """The model's top `k` items for `history` among those it does not hold, best first: the retrieval stage in
    front of a re-ranker."""
    return torch.topk(catalogue_scores(model, history), k).indices.tolist()
