"""The one place that maps a backbone name to its class."""

from __future__ import annotations

import torch

from recsys.config import SRParams
from recsys.sr.base import SequentialRecommender
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
TEXT_MODELS = frozenset({"morec"})  # built from the items' text features, not a learned id table


def build_model(
    params: SRParams, n_items: int, text_features: torch.Tensor | None = None
) -> SequentialRecommender:
    """A freshly initialised `params.model` over `n_items` items (seed torch first to repeat it).
    text_features [n_items, text_dim] (recsys.sr.text.title_features) are for TEXT_MODELS only."""
    if params.model not in TEXT_MODELS:
        return MODELS[params.model](n_items, params)
    if text_features is None:
        raise ValueError(f"{params.model} needs the items' text features")
    return MODELS[params.model](n_items, params, text_features)
