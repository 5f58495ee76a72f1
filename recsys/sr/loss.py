"""The next-item loss, written once for every backbone: the model reads a history, the loss
judges its scores for the target.

- "ce": softmax cross-entropy over all n_items (the exact likelihood; cheap at these sizes).
- "bce": binary cross-entropy with `num_negatives` items sampled uniformly among the items that
  are not the target: per example -log s(target) - sum_j log(1 - s(negative_j)), with s the
  sigmoid, averaged over examples.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from recsys.sr.base import SequentialRecommender


def sample_negatives(
    targets: torch.Tensor, n_items: int, count: int, generator: torch.Generator
) -> torch.Tensor:
    """targets [B] -> [B, count] ids drawn uniformly from the n_items - 1 non-target items."""
    draws = torch.randint(0, n_items - 1, (targets.shape[0], count), generator=generator)
    return draws + (draws >= targets[:, None]).long()  # skip over the target id


def next_item_loss(
    model: SequentialRecommender,
    rep: torch.Tensor,
    targets: torch.Tensor,
    kind: str,
    num_negatives: int,
    generator: torch.Generator,
) -> torch.Tensor:
    """rep [B, d], targets [B] -> the scalar loss of `kind` ("ce" or "bce")."""
    if kind == "ce":
        return F.cross_entropy(model.score_all(rep), targets)
    if kind == "bce":
        negatives = sample_negatives(targets, model.n_items, num_negatives, generator)  # [B, n]
        positive = model.score_candidates(rep, targets[:, None])  # [B, 1]
        negative = model.score_candidates(rep, negatives)  # [B, n]
        # softplus(-x) = -log sigmoid(x); softplus(x) = -log(1 - sigmoid(x))
        return (F.softplus(-positive).sum(1) + F.softplus(negative).sum(1)).mean()
    raise ValueError(f"unknown loss {kind!r}")
