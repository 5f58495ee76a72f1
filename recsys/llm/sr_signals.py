"""What the sequential recommender hands the language model about each prompt, computed once per table.

The same SR model whose item table feeds the behavioural tokens reads each prompt's history (the
`history` column: exactly the items the prompt shows, never its target or later items) and gives
- its score of every candidate (dot products, as at evaluation): the distillation teacher;
- its sequence state, the vector it takes those dot products with: the input of the user token.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from recsys.errors import InputError
from recsys.prompts.manifest import PromptManifest
from recsys.prompts.shards import read_all
from recsys.sr.base import SequentialRecommender
from recsys.sr.data import Examples, batch_indices, examples_from_table
from recsys.sr.inference import EVAL_BATCH, in_fp32, load_model, score_examples


def _read(sr_model: Path, prompts: pa.Table, with_candidates: bool) -> tuple[SequentialRecommender, Examples]:
    with torch.random.fork_rng():  # building the modules draws initial weights: keep training's RNG stream intact
        model = load_model(sr_model)
    named = [max(row) for row in prompts.column("candidates").to_pylist()] + [max(row, default=0) for row in
                                                                              prompts.column("history").to_pylist()]
    if max(named) >= model.n_items:
        raise InputError(str(Path(sr_model) / "model_args.json"), f"the SR model knows {model.n_items} items, the "
                         f"prompts name item {max(named)} (pretrain on the same prepared data)")
    examples = examples_from_table(prompts.select(["user_id", "history", "target", "candidates"]), model.n_items,
                                   model.max_len, with_candidates=with_candidates, path=Path(sr_model))
    return model, examples


def teacher_logits(sr_model: Path, prompts: pa.Table) -> torch.Tensor:
    """[N, K] float32: the SR model's score of candidate k for prompt n (prompt rows' history and candidates)."""
    scores, _ = score_examples(*_read(sr_model, prompts, with_candidates=True))  # [N, K]
    return torch.from_numpy(scores)


@in_fp32
@torch.no_grad()
def user_states(sr_model: Path, prompts: pa.Table) -> np.ndarray:
    """[N, d] float32: the SR model's representation of each prompt's history (`SequentialRecommender.forward`)."""
    model, examples = _read(sr_model, prompts, with_candidates=False)
    return np.concatenate([model(examples.seq[rows], examples.lengths[rows]).numpy()
                           for rows in batch_indices(len(examples), EVAL_BATCH)]).astype(np.float32)


def with_user_states(prompts: pa.Table, sr_model: Path) -> pa.Table:
    """`prompts` plus a `user_state` column (fixed-size lists of d floats) that `collate` turns into [B, d]."""
    states = user_states(sr_model, prompts)  # [N, d]
    column = pa.FixedSizeListArray.from_arrays(pa.array(states.ravel()), states.shape[1])
    return prompts.append_column("user_state", column)


def prompt_table(folder: Path, sr_model: Path, manifest: PromptManifest) -> pa.Table:
    """A folder of prompt shards, with the SR model's user states when the prompts have user slots."""
    table = read_all(folder)
    has_user_slots = manifest.user_token and table.num_rows and max(table.column("user_position").to_pylist()) >= 0
    return with_user_states(table, sr_model) if has_user_slots else table
