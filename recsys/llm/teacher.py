"""The sequential recommender as a teacher: its scores of every training prompt's K candidates.

The same SR model whose item table feeds the behavioural tokens scores each prompt's history
against its candidates (dot products, as at evaluation), once, when fine-tuning starts.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import torch

from recsys.errors import InputError
from recsys.sr.data import examples_from_table
from recsys.sr.trainer import load_model, score_examples


def teacher_logits(sr_model: Path, prompts: pa.Table) -> torch.Tensor:
    """[N, K] float32: the SR model's score of candidate k for prompt n (prompt rows' history and candidates)."""
    model = load_model(sr_model)
    items = max(max(row) for row in prompts.column("candidates").to_pylist()) + 1
    if items > model.n_items:
        raise InputError(str(sr_model / "model_args.json"), f"the SR model knows {model.n_items} items, the prompts "
                         f"name item {items - 1} (pretrain on the same prepared data)")
    examples = examples_from_table(prompts.select(["user_id", "history", "target", "candidates"]), model.n_items,
                                   model.max_len, with_candidates=True, path=Path(sr_model))
    scores, _ = score_examples(model, examples)  # [N, K]
    return torch.from_numpy(scores)
