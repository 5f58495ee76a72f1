"""Sequential recommenders (SASRec, GRU4Rec, Caser, MoRec) whose item embeddings feed the LLM."""

from __future__ import annotations

from recsys.sr.registry import MODELS, build_model
from recsys.sr.inference import load_model
from recsys.sr.trainer import pretrain

__all__ = ["MODELS", "build_model", "load_model", "pretrain"]
