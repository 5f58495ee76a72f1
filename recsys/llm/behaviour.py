"""Behavioural tokens: project frozen SR item embeddings into the LM's input space and splice them in.

Proj is the paper's 2-layer MLP, Linear(d, H) -> GELU -> Linear(H, H). The user token has a projector
of its own, over the SR model's sequence state (a different space from its item table). Each splice
is one `index_put` over every slot of the batch: no per-sample Python loop.
"""

from __future__ import annotations

import torch
from torch import nn


class Projector(nn.Module):
    """`normalise` puts a LayerNorm before the MLP: SR states come at each backbone's own scale (SASRec's after
    its final LayerNorm, GRU4Rec's tanh-bounded), item tables all at a small initialisation's."""

    def __init__(self, item_dim: int, hidden_size: int, normalise: bool = False):
        super().__init__()
        layers = [nn.LayerNorm(item_dim)] if normalise else []
        self.net = nn.Sequential(*layers, nn.Linear(item_dim, hidden_size), nn.GELU(), nn.Linear(hidden_size, hidden_size))

    def forward(self, items: torch.Tensor) -> torch.Tensor:  # [..., d] -> [..., H]
        return self.net(items)


class BehaviourTokens(nn.Module):
    """Owns the frozen item table [n_items, d], the trainable item projector and, with `user_dim`, the user's."""

    def __init__(self, item_table: torch.Tensor, hidden_size: int, user_dim: int = 0):
        super().__init__()
        self.register_buffer("item_table", item_table.float(), persistent=False)
        self.projector = Projector(item_table.shape[1], hidden_size)
        self.user_projector = Projector(user_dim, hidden_size, normalise=True) if user_dim else None

    def splice(self, token_embeds: torch.Tensor, slot_pos: torch.Tensor, slot_items: torch.Tensor,
               user_pos: torch.Tensor | None = None, user_state: torch.Tensor | None = None) -> torch.Tensor:
        """Replace the embeddings at slot positions with projected item embeddings, and at the user slots with
        the projected user states.

        token_embeds [B, T, H]; slot_pos, slot_items [B, S] padded with -1; user_pos [B] (-1 = none);
        user_state [B, d_user]. Returns [B, T, H].
        """
        batch, slot = (slot_pos >= 0).nonzero(as_tuple=True)  # [M], [M]
        projected = self.projector(self.item_table[slot_items[batch, slot]])  # [M, H]
        embeds = token_embeds.index_put((batch, slot_pos[batch, slot]), projected.to(token_embeds.dtype))
        if self.user_projector is None or user_pos is None or not bool((user_pos >= 0).any()):
            return embeds
        if user_state is None:
            raise ValueError("the prompts have user slots but no user states were given (recsys.llm.sr_signals)")
        users = (user_pos >= 0).nonzero(as_tuple=True)[0]  # [U]
        projected_users = self.user_projector(user_state[users].float())  # [U, H]
        return embeds.index_put((users, user_pos[users]), projected_users.to(embeds.dtype))


def seeded_behaviour(item_table: torch.Tensor, hidden_size: int, seed: int, user_dim: int = 0) -> BehaviourTokens:
    """BehaviourTokens whose projectors' initialisation depends on `seed` alone, not on prior RNG use."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return BehaviourTokens(item_table, hidden_size, user_dim)
