"""SASRec (Kang & McAuley, 2018): causal self-attention over the history.

Each position attends to itself and the real items before it, so a future item never changes an
earlier position's output, and a real position never reads padding. The representation of a
history is the output at the last column, which is always its most recent item.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from recsys.sr.base import Architecture, SequentialRecommender


class AttentionBlock(nn.Module):
    """Pre-norm transformer block: masked multi-head attention, then a position-wise FFN."""

    def __init__(self, hidden_size: int, num_heads: int, dropout: float):
        super().__init__()
        self.attn_norm = nn.LayerNorm(hidden_size)
        self.attn = nn.MultiheadAttention(hidden_size, num_heads, dropout=dropout, batch_first=True)
        self.ffn_norm = nn.LayerNorm(hidden_size)
        self.ffn = nn.Sequential(
            nn.Linear(hidden_size, hidden_size),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_size, hidden_size),
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, blocked: torch.Tensor) -> torch.Tensor:
        """x [B, L, d], blocked [B * heads, L, L] (True = may not attend) -> [B, L, d]."""
        h = self.attn_norm(x)
        x = x + self.dropout(self.attn(h, h, h, attn_mask=blocked, need_weights=False)[0])
        return x + self.dropout(self.ffn(self.ffn_norm(x)))


class SASRec(SequentialRecommender):
    def __init__(self, arch: Architecture, item_emb: nn.Module | None = None):
        super().__init__(arch, item_emb)
        self.num_heads = arch.num_heads
        self.pos_emb = nn.Embedding(arch.max_len, arch.hidden_size)
        self.input_dropout = nn.Dropout(arch.dropout)
        self.blocks = nn.ModuleList(
            AttentionBlock(arch.hidden_size, arch.num_heads, arch.dropout) for _ in range(arch.num_blocks)
        )
        self.final_norm = nn.LayerNorm(arch.hidden_size)

    def contextualize(self, emb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """emb [B, L, d], mask [B, L] -> the output at every position [B, L, d]."""
        length = emb.shape[1]
        x = emb * math.sqrt(emb.shape[2]) + self.pos_emb.weight[None, :length]  # [B, L, d]
        x = self.input_dropout(x)
        causal = torch.ones(length, length, dtype=torch.bool, device=emb.device).tril()  # [L, L]
        itself = torch.eye(length, dtype=torch.bool, device=emb.device)  # [L, L]
        # a padded query sees only itself: never an empty row, which would give NaN
        allowed = causal & (mask[:, None, :] | itself)  # [B, L(query), L(key)]
        blocked = ~allowed.repeat_interleave(self.num_heads, dim=0)  # [B * heads, L, L]
        for block in self.blocks:
            x = block(x, blocked)
        return self.final_norm(x)

    def encode(self, emb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.contextualize(emb, mask)[:, -1]  # [B, d]
