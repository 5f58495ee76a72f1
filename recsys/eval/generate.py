"""Generation mode (the paper's protocol): greedy decoding of left-padded prompts, batched."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import torch
from transformers import LogitsProcessor, LogitsProcessorList

from recsys.llm.batches import collate
from recsys.llm.model import Llara


class FirstTokenAmong(LogitsProcessor):
    """Greedy decoding whose first token is one of `token_ids` (the K index letters): the model still chooses
    the candidate, by its own letter logits, but cannot open its answer with anything that names none."""

    def __init__(self, token_ids: list[int]):
        self.token_ids, self.first = torch.tensor(token_ids), True

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:  # scores [B, V]
        if not self.first:
            return scores
        self.first = False
        allowed = torch.full_like(scores, float("-inf"))
        allowed[:, self.token_ids.to(scores.device)] = 0.0
        return scores + allowed


@torch.no_grad()
def generate_answers(
    model: Llara, tokenizer, table: pa.Table, indices: np.ndarray, splice: bool, max_new_tokens: int,
    device: torch.device = torch.device("cpu"), first_tokens: list[int] | None = None,
) -> list[str]:
    """Decoded continuations of the prompts `indices` of `table` (one batch, run on `device`); with
    `first_tokens`, the first generated token is one of them.

    Left padding keeps every prompt's last token at the same position, so the first answer token
    is predicted from the prompt and never from padding (the authors padded on the right).
    """
    batch = collate(table, indices, tokenizer.pad_token_id, left_pad=True, prompt_only=True)
    batch = {k: v.to(device) for k, v in batch.items()}
    embeds = model.embed(batch["input_ids"], batch["slot_pos"], batch["slot_items"], splice, batch["user_pos"],
                         batch.get("user_state"))  # [B, T, H]
    processors = LogitsProcessorList([FirstTokenAmong(first_tokens)] if first_tokens else [])
    new_tokens = model.lm.generate(
        inputs_embeds=embeds, attention_mask=batch["attention_mask"], max_new_tokens=max_new_tokens,
        do_sample=False, num_beams=1, temperature=None, top_p=None, top_k=None,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, logits_processor=processors,
    )  # [B, <= max_new_tokens]: with inputs_embeds only the new tokens come back
    return tokenizer.batch_decode(new_tokens.cpu(), skip_special_tokens=True)
