"""Behavioural tokens: project frozen SR item embeddings into the LM's input space and splice them in.

Proj is the paper's 2-layer MLP, Linear(d, H) -> GELU -> Linear(H, H). The splice is one
`index_put` over every slot of the batch: no per-sample Python loop.
"""

from __future__ import annotations

import torch
from torch import nn


class Projector(nn.Module):
    def __init__(self, item_dim: int, hidden_size: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(item_dim, hidden_size), nn.GELU(), nn.Linear(hidden_size, hidden_size))

    def forward(self, items: torch.Tensor) -> torch.Tensor:  # [..., d] -> [..., H]
        return self.net(items)


class BehaviourTokens(nn.Module):
    """Owns the frozen item table [n_items, d] and the trainable projector."""

    def __init__(self, item_table: torch.Tensor, hidden_size: int):
        super().__init__()
        self.register_buffer("item_table", item_table.float(), persistent=False)
        self.projector = Projector(item_table.shape[1], hidden_size)

    def splice(self, token_embeds: torch.Tensor, slot_pos: torch.Tensor, slot_items: torch.Tensor) -> torch.Tensor:
        """Replace the embeddings at slot positions with projected item embeddings.

        token_embeds [B, T, H]; slot_pos, slot_items [B, S] padded with -1. Returns [B, T, H].
        """
        batch, slot = (slot_pos >= 0).nonzero(as_tuple=True)  # [M], [M]
        projected = self.projector(self.item_table[slot_items[batch, slot]])  # [M, H]
        return token_embeds.index_put((batch, slot_pos[batch, slot]), projected.to(token_embeds.dtype))


def seeded_behaviour(item_table: torch.Tensor, hidden_size: int, seed: int) -> BehaviourTokens:
    """BehaviourTokens whose projector initialisation depends on `seed` alone, not on prior RNG use."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return BehaviourTokens(item_table, hidden_size)
