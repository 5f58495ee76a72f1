"""Generation mode (the paper's protocol): greedy decoding of left-padded prompts, batched, sharing its prompt pass
with the one-pass read-out when both are asked for."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import torch
from transformers import LogitsProcessor, LogitsProcessorList

from recsys.llm.batches import collate
from recsys.llm.model import Llara
from recsys.llm.readout import Readout


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
def rank_and_generate(
    model: Llara, tokenizer, table: pa.Table, indices: np.ndarray, readout: Readout | None, splice: bool,
    max_new_tokens: int, device: torch.device = torch.device("cpu"), first_tokens: list[int] | None = None,
) -> tuple[np.ndarray | None, list[str]]:
    """(the one-pass read-out's scores [B, K] float32, or None without `readout`; the decoded continuations) of the
    prompts `indices` of `table` (one batch, run on `device`); with `first_tokens`, the first generated token is
    one of them.

    The read-out and the decoding share one pass over the prompt: its KV cache, less the last token (whose logits
    start the answer, and which generate computes), is handed to generate, so ranking and generating cost one prompt
    pass. Left padding keeps every prompt's last token at the same position, so the first answer token is predicted
    from the prompt and never from padding (the authors padded on the right); positions count real tokens only,
    as generate counts them, so each prompt reads as it does alone.
    """
    batch = collate(table, indices, tokenizer.pad_token_id, left_pad=True, prompt_only=True)
    batch = {k: v.to(device) for k, v in batch.items()}
    mask = batch["attention_mask"]  # [B, T]
    embeds = model.embed(batch["input_ids"], batch["slot_pos"], batch["slot_items"], splice, batch["user_pos"],
                         batch.get("user_state"))  # [B, T, H]
    scores, cache = None, {}
    if readout is not None:
        positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)  # [B, T]
        out = model.causal.model(inputs_embeds=embeds, attention_mask=mask, position_ids=positions, use_cache=True)
        scores = model.choice_logits(out.last_hidden_state, readout, batch["answer_pos"], batch["choice_pos"],
                                     batch["candidate_items"], batch.get("user_state")).float().cpu().numpy()
        out.cache.crop(-1)
        cache = {"cache": out.cache}
    processors = LogitsProcessorList([FirstTokenAmong(first_tokens)] if first_tokens else [])
    new_tokens = model.lm.generate(
        inputs_embeds=embeds, attention_mask=mask, max_new_tokens=max_new_tokens,
        do_sample=False, num_beams=1, temperature=None, top_p=None, top_k=None,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, logits_processor=processors, **cache,
    )  # [B, <= max_new_tokens]: with inputs_embeds only the new tokens come back
    return scores, tokenizer.batch_decode(new_tokens.cpu(), skip_special_tokens=True)
