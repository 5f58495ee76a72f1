"""Caser (Tang & Wang, 2018): convolutions over the L x d "image" of the history embeddings.

Horizontal filters of every height 1..L catch union- and skip-level sequential patterns
(max-pooled over time); a vertical filter is a learned weighted sum of the L rows. Both are
concatenated and projected back to d, so the result scores items like the other models.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from recsys.sr.base import Architecture, SequentialRecommender

HORIZONTAL_FILTERS = 16  # per height, as in the Caser paper
VERTICAL_FILTERS = 4


class Caser(SequentialRecommender):
    def __init__(self, arch: Architecture):
        super().__init__(arch)
        d, length = arch.hidden_size, arch.max_len
        self.horizontal = nn.ModuleList(
            nn.Conv2d(1, HORIZONTAL_FILTERS, (height, d)) for height in range(1, length + 1)
        )
        self.vertical = nn.Conv2d(1, VERTICAL_FILTERS, (length, 1))
        self.dropout = nn.Dropout(arch.dropout)
        self.fc = nn.Linear(HORIZONTAL_FILTERS * length + VERTICAL_FILTERS * d, d)

    def encode(self, emb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        image = emb.unsqueeze(1)  # [B, 1, L, d]
        horizontal = [
            F.relu(conv(image)).squeeze(3).amax(dim=2)  # [B, filters, L - h + 1] -> [B, filters]
            for conv in self.horizontal
        ]
        vertical = self.vertical(image).flatten(1)  # [B, filters * d]
        features = torch.cat([*horizontal, vertical], dim=1)  # [B, filters * L + filters * d]
        return F.relu(self.fc(self.dropout(features)))  # [B, d]
