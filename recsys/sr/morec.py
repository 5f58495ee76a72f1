"""MoRec (Yuan et al., 2023): SASRec whose item vectors come from the items' text, not an id table.

Here the text encoder is frozen (recsys.sr.text) and only a dense projection of its features is
learned, as MoRec adapts modality features to the recommender. The features are a buffer, so they
are saved in model.safetensors and a saved model rebuilds without the encoder or the titles. The
exported item table (`item_embeddings()`, LLaRA's behavioural tokens) is the projected text.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from recsys.sr.base import Architecture
from recsys.sr.sasrec import SASRec

FEATURES_KEY = "item_emb.features"  # the buffer's name in the state dict


class ProjectedText(nn.Module):
    """An nn.Embedding look-alike: row i = Linear(text features of item i), last row zero (padding)."""

    def __init__(self, features: torch.Tensor, hidden_size: int):
        super().__init__()
        self.register_buffer("features", features.detach().float().clone())  # [n_items, text_dim]
        self.proj = nn.Linear(features.shape[1], hidden_size)
        # unit-norm features give rows of std d^-0.5 per coordinate, as the learned id tables start
        nn.init.normal_(self.proj.weight, std=hidden_size**-0.5)
        nn.init.zeros_(self.proj.bias)

    @property
    def weight(self) -> torch.Tensor:
        """[n_items + 1, d]: the projected features and the zero padding row."""
        table = self.proj(self.features)  # [n_items, d]
        return torch.cat([table, table.new_zeros(1, table.shape[1])])

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """ids [...] -> [..., d]"""
        return F.embedding(ids, self.weight)


class MoRec(SASRec):
    def __init__(self, arch: Architecture, text_features: torch.Tensor):
        """text_features [n_items, text_dim]: row i describes item id i (see recsys.sr.text)."""
        if text_features.ndim != 2 or text_features.shape[0] != arch.n_items:
            raise ValueError(f"text features {tuple(text_features.shape)} need one row per item ({arch.n_items})")
        super().__init__(arch, ProjectedText(text_features, arch.hidden_size))
