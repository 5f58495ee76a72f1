"""One-pass ranking: one forward pass over each prompt scores all K candidates (recsys.llm.readout).

Batched with right padding: each row's answer position is read where its own prompt ends. Compare
likelihood scoring, which runs K answer continuations per prompt.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import torch

from recsys.llm.batches import collate
from recsys.llm.model import Llara
from recsys.llm.readout import Readout


@torch.no_grad()
def choice_scores(model: Llara, table: pa.Table, indices: np.ndarray, readout: Readout, splice: bool,
                  pad_id: int, batch_size: int, device: torch.device = torch.device("cpu"),
                  on_batch=lambda done: None) -> np.ndarray:
    """[len(indices), K] float32 one-pass scores of the candidates of the prompts `indices` of `table`."""
    out = []
    for start in range(0, len(indices), batch_size):
        batch = collate(table, indices[start:start + batch_size], pad_id, prompt_only=True)
        batch = {k: v.to(device) for k, v in batch.items()}
        hidden = model.hidden_states(batch["input_ids"], batch["attention_mask"], batch["slot_pos"],
                                     batch["slot_items"], splice, batch["user_pos"], batch.get("user_state"))  # [B, T, H]
        out.append(model.choice_logits(hidden, readout, batch["answer_pos"], batch["choice_pos"],
                                       batch["candidate_items"], batch.get("user_state")).cpu().numpy())
        on_batch(len(out[-1]))
    return np.concatenate(out).astype(np.float32)
