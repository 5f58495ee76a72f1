"""The base model zero-shot: no adapter, no projector, the same text prompts and candidates.

It shows what fine-tuning adds (the paper: Llama-2 zero-shot ValidRatio 0.44, HR@1 0.04 on
ML-100K). Its rank mode reads the index letters where the answer starts, as one asks an
instruction model a multiple-choice question; the slot read-out means nothing before training.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import torch

from recsys.embeddings import load_item_embeddings
from recsys.llm.base_model import load_base
from recsys.llm.behaviour import BehaviourTokens
from recsys.llm.card import ModelCard
from recsys.llm.model import Llara
from recsys.prompts.manifest import PromptManifest


def zero_shot_model(base: Path, sr_model: Path, items: Path, manifest: PromptManifest, device: torch.device,
                    dtype: torch.dtype) -> tuple[Llara, object, ModelCard]:
    """(the base model wrapped as a Llara that never splices, tokenizer, a card describing it)."""
    lm, tokenizer = load_base(base, device, dtype)
    for weight in lm.parameters():
        weight.requires_grad_(False)
    table = load_item_embeddings(sr_model / "item_embeddings.safetensors", items)  # unused: text prompts splice nothing
    letters = manifest.index_letters
    card = ModelCard(base_model=str(base), sr_model=str(sr_model), items=str(items),
                     n_items=pq.read_metadata(items).num_rows, domain=manifest.domain, max_len=manifest.max_len,
                     variant="text", index_letters=letters, candidate_order=manifest.candidate_order,
                     readout="letters", readout_ids=list(letters or []),
                     item_dim=int(table.shape[1]), user_dim=0, item_scores=False, hidden_size=lm.config.hidden_size,
                     lora={}, train={}, steps=0, examples=0, fingerprint="zero-shot", compute="")  # never trained
    return Llara(lm, BehaviourTokens(table, lm.config.hidden_size)).to(device).eval(), tokenizer, card
