"""The one place that maps a backbone name to its class."""

from __future__ import annotations

import torch

from recsys.config import TEXT_BACKBONES, SRParams
from recsys.sr.base import Architecture, SequentialRecommender
from recsys.sr.caser import Caser
from recsys.sr.gru4rec import GRU4Rec
from recsys.sr.morec import MoRec
from recsys.sr.sasrec import SASRec

MODELS: dict[str, type[SequentialRecommender]] = {
    "sasrec": SASRec,
    "gru4rec": GRU4Rec,
    "caser": Caser,
    "morec": MoRec,
}


def architecture(params: SRParams, n_items: int, max_len: int) -> Architecture:
    """The `sr` params' architecture fields, for a catalogue of n_items and histories of max_len."""
    return Architecture(model=params.model, n_items=n_items, max_len=max_len, hidden_size=params.hidden_size,
                        dropout=params.dropout, num_blocks=params.num_blocks, num_heads=params.num_heads)


def build_model(arch: Architecture, text_features: torch.Tensor | None = None) -> SequentialRecommender:
    """A freshly initialised `arch.model` (seed torch first to repeat it).
    text_features [n_items, text_dim] (recsys.sr.text.title_features) are for TEXT_BACKBONES only."""
    if arch.model not in TEXT_BACKBONES:
        return MODELS[arch.model](arch)
    if text_features is None:
        raise ValueError(f"{arch.model} needs the items' text features")
    return MODELS[arch.model](arch, text_features)
