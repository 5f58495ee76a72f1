"""The one place that maps a backbone name to its class."""

from __future__ import annotations

from recsys.config import SRParams
from recsys.sr.base import SequentialRecommender
from recsys.sr.caser import Caser
from recsys.sr.gru4rec import GRU4Rec
from recsys.sr.sasrec import SASRec

MODELS: dict[str, type[SequentialRecommender]] = {
    "sasrec": SASRec,
    "gru4rec": GRU4Rec,
    "caser": Caser,
}


def build_model(params: SRParams, n_items: int) -> SequentialRecommender:
    """A freshly initialised `params.model` over `n_items` items (seed torch first to repeat it)."""
    return MODELS[params.model](n_items, params)
