"""What every sequential recommender shares: the item table, the padding layout and scoring.

Padding layout: a batch of histories is a LongTensor [B, L] with each history RIGHT-aligned
(oldest first, the most recent item in the last column) and padded on the LEFT; `lengths` [B]
says how many trailing columns are real. The padding id is `n_items`, the table's last row, so
rows 0..n_items-1 of the table are exactly item ids 0..n_items-1 when exported.

`forward` first brings every batch to exactly `max_len` columns (extra left padding is dropped,
short batches are padded) and then replaces whatever sits in the padded columns by the zero
padding row. Models therefore never see padding content, and the last column is always the most
recent item. An empty history (length 0) gets a learned representation of its own, so it still
scores items (by what tends to come first) instead of tying every item.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Architecture:
    """Everything that rebuilds a model, and nothing about how it was trained (the `sr` params' learning
    rate, epochs, loss...); saved beside the weights as model_args.json, as nanoGPT keeps its model config
    apart from the training settings. max_len is the prepared data's (data.max_len, in stats.json)."""

    model: str
    n_items: int
    max_len: int
    hidden_size: int
    dropout: float
    num_blocks: int
    num_heads: int


class SequentialRecommender(nn.Module):
    """Maps a history to a vector; items are scored by the dot product with their embedding."""

    def __init__(self, arch: Architecture, item_emb: nn.Module | None = None):
        """item_emb: a table that, like nn.Embedding, maps ids to [..., d] and has `weight`
        [n_items + 1, d] with a zero padding row (MoRec's comes from text); default: learned."""
        super().__init__()
        self.arch = arch
        self.n_items = arch.n_items
        self.pad_id = arch.n_items
        self.max_len = arch.max_len
        if item_emb is None:
            item_emb = nn.Embedding(arch.n_items + 1, arch.hidden_size, padding_idx=arch.n_items)
            # small init: dot products of N(0, 1) vectors of size d start with a spread of sqrt(d)
            nn.init.normal_(item_emb.weight, std=arch.hidden_size**-0.5)
            with torch.no_grad():
                item_emb.weight[self.pad_id].zero_()
        self.item_emb = item_emb
        self.empty_rep = nn.Parameter(torch.zeros(arch.hidden_size))

    def encode(self, emb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """emb [B, max_len, d] (zero at padding), mask [B, max_len] (True = real) -> [B, d]."""
        raise NotImplementedError

    def forward(self, seq: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """seq [B, L] right-aligned item ids, lengths [B] -> sequence representation [B, d]."""
        seq, lengths = self._fit_window(seq, lengths)  # [B, max_len], [B]
        columns = torch.arange(self.max_len, device=seq.device)  # [max_len]
        mask = columns[None, :] >= self.max_len - lengths[:, None]  # [B, max_len]
        emb = self.item_emb(seq.masked_fill(~mask, self.pad_id))  # [B, max_len, d]
        rep = self.encode(emb, mask)  # [B, d]
        return torch.where((lengths == 0)[:, None], self.empty_rep, rep)

    def _fit_window(
        self, seq: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Keep the last max_len columns, or left-pad to max_len; lengths are capped to match."""
        width = seq.shape[1]
        if width > self.max_len:
            seq = seq[:, -self.max_len :]
        elif width < self.max_len:
            pad = seq.new_full((seq.shape[0], self.max_len - width), self.pad_id)
            seq = torch.cat([pad, seq], dim=1)
        return seq, lengths.clamp(max=self.max_len)

    def item_embeddings(self) -> torch.Tensor:
        """[n_items, d]: row i is item id i (the padding row is left out)."""
        return self.item_emb.weight[: self.n_items]

    def score_all(self, rep: torch.Tensor) -> torch.Tensor:
        """rep [B, d] -> scores for every item [B, n_items]."""
        return rep @ self.item_embeddings().T

    def score_candidates(self, rep: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        """rep [B, d], candidates [B, K] item ids -> scores [B, K]."""
        return (self.item_emb(candidates) * rep[:, None, :]).sum(dim=-1)
