"""Most-popular baseline: an item's score is how often it is a training target.

Training rows are sliding windows over each training user's sequence, so every interaction is a
target exactly once (at most once more if min_history drops the first items), and target counts
are the interaction counts of the training users. History counts would add each interaction up
to max_len times, overweighting items seen early in long sequences, so they are left out.
Equal counts rank pessimistically (see `recsys.metrics.target_rank`).
"""

from __future__ import annotations

import numpy as np
import torch


def item_counts(train_targets: torch.Tensor, n_items: int) -> np.ndarray:
    """[n_items] float64: the number of training rows whose target is each item."""
    return np.bincount(train_targets.numpy(), minlength=n_items).astype(np.float64)


def popularity_scores(counts: np.ndarray, candidates: torch.Tensor) -> np.ndarray:
    """candidates [N, K] -> scores [N, K]: the training count of each candidate."""
    return counts[candidates.numpy()]
