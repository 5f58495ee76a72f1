"""Behavioural tokens: project frozen SR item embeddings into the LM's input space and splice them in.

Proj is the paper's 2-layer MLP, Linear(d, H) -> GELU -> Linear(H, H). The user token has a projector
of its own, over the SR model's sequence state (a different space from its item table). With
`item_scores`, every item token also carries the SR model's score of that item for this user (the
dot product of the state with the item's row, standardised over the prompt's items): the ranking the
SR model makes, handed to the LM in one place instead of left for attention to recompute from two
tokens. Each splice is one `index_put` over every slot of the batch: no per-sample Python loop.
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


def sr_scores(item_table: torch.Tensor, items: torch.Tensor, user_state: torch.Tensor) -> torch.Tensor:
    """item_table [n_items, d]; items [B, S] (-1 = padding); user_state [B, d] -> [B, S] float32: the SR model's
    score of each item for its row's user, the dot product its evaluation ranks with (`score_candidates`)."""
    return torch.einsum("bsd,bd->bs", item_table[items.clamp(min=0)].float(), user_state.float())


def standardised_scores(item_table: torch.Tensor, slot_items: torch.Tensor, user_state: torch.Tensor) -> torch.Tensor:
    """The SR model's score of each slot's item for its row's user, standardised over the row's slots.

    item_table [n_items, d]; slot_items [B, S] padded with -1; user_state [B, d] -> [B, S] (0 at padding).
    Standardising keeps the order within a prompt and makes the scale the same for every backbone.
    """
    real = slot_items >= 0  # [B, S]
    scores = sr_scores(item_table, slot_items, user_state)  # [B, S]
    count = real.sum(dim=1, keepdim=True).clamp(min=1)  # [B, 1]
    mean = (scores * real).sum(dim=1, keepdim=True) / count
    std = (((scores - mean) * real) ** 2).sum(dim=1, keepdim=True).div(count).sqrt()
    return torch.where(real, (scores - mean) / (std + 1e-6), 0.0)


class BehaviourTokens(nn.Module):
    """Owns the frozen item table [n_items, d], the trainable item projector and, with `user_dim`, the user's;
    with `item_scores` also the embedding of the SR score (Linear(1, H), zero at the start, so training begins
    from the model without it)."""

    def __init__(self, item_table: torch.Tensor, hidden_size: int, user_dim: int = 0, item_scores: bool = False):
        super().__init__()
        if item_scores and user_dim != item_table.shape[1]:
            raise ValueError(f"item scores are dot products of {item_table.shape[1]}-dimensional items with the SR "
                             f"model's user states, got user_dim {user_dim}")
        self.register_buffer("item_table", item_table.float(), persistent=False)
        self.projector = Projector(item_table.shape[1], hidden_size)
        self.user_projector = Projector(user_dim, hidden_size, normalise=True) if user_dim else None
        self.score_projector = nn.Linear(1, hidden_size) if item_scores else None
        if self.score_projector is not None:
            nn.init.zeros_(self.score_projector.weight)
            nn.init.zeros_(self.score_projector.bias)

    def splice(self, token_embeds: torch.Tensor, slot_pos: torch.Tensor | None, slot_items: torch.Tensor,
               user_pos: torch.Tensor | None = None, user_state: torch.Tensor | None = None) -> torch.Tensor:
        """Replace the embeddings at slot positions with projected item embeddings, and at the user slots with
        the projected user states.

        token_embeds [B, T, H]; slot_pos, slot_items [B, S] padded with -1 (slot_pos None: the item slots keep
        their token, as in the text-user prompt); user_pos [B] (-1 = none); user_state [B, d_user].
        Returns [B, T, H].
        """
        has_users = self.user_projector is not None and user_pos is not None and bool((user_pos >= 0).any())
        if has_users and user_state is None:
            raise ValueError("the prompts have user slots but no user states were given (recsys.llm.sr_signals)")
        embeds = token_embeds
        if slot_pos is not None:
            batch, slot = (slot_pos >= 0).nonzero(as_tuple=True)  # [M], [M]
            projected = self.projector(self.item_table[slot_items[batch, slot]])  # [M, H]
            if has_users and self.score_projector is not None:
                scores = standardised_scores(self.item_table, slot_items, user_state)  # [B, S]
                projected = projected + self.score_projector(scores[batch, slot, None])  # [M, H]
            embeds = token_embeds.index_put((batch, slot_pos[batch, slot]), projected.to(token_embeds.dtype))
        if not has_users:
            return embeds
        users = (user_pos >= 0).nonzero(as_tuple=True)[0]  # [U]
        projected_users = self.user_projector(user_state[users].float())  # [U, H]
        return embeds.index_put((users, user_pos[users]), projected_users.to(embeds.dtype))


def seeded_behaviour(item_table: torch.Tensor, hidden_size: int, seed: int, user_dim: int = 0,
                     item_scores: bool = False) -> BehaviourTokens:
    """BehaviourTokens whose projectors' initialisation depends on `seed` alone, not on prior RNG use."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return BehaviourTokens(item_table, hidden_size, user_dim, item_scores)
