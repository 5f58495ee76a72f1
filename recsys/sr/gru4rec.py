"""GRU4Rec (Hidasi et al., 2016): a GRU reads the history; its last hidden state represents it.

The GRU must start at the first real item (running it over left padding would change its state),
so each row is rotated to be left-aligned and packed by length.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from recsys.sr.base import Architecture, SequentialRecommender


class GRU4Rec(SequentialRecommender):
    def __init__(self, arch: Architecture):
        super().__init__(arch)
        self.input_dropout = nn.Dropout(arch.dropout)
        self.gru = nn.GRU(arch.hidden_size, arch.hidden_size, batch_first=True)

    def encode(self, emb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        lengths = mask.sum(dim=1)  # [B]
        width = mask.shape[1]
        columns = torch.arange(width, device=emb.device)  # [L]
        source = (columns[None, :] + width - lengths[:, None]) % width  # [B, L]
        left_aligned = emb.gather(1, source[..., None].expand_as(emb))  # [B, L, d]
        packed = pack_padded_sequence(
            self.input_dropout(left_aligned),
            lengths.clamp(min=1).cpu(),  # empty rows are replaced by the base class afterwards
            batch_first=True,
            enforce_sorted=False,
        )
        _, last = self.gru(packed)  # [1, B, d], in the original batch order
        return last[0]
