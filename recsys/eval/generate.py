"""Generation mode (the paper's protocol): greedy decoding of left-padded prompts, batched."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import torch

from recsys.llm.batches import collate
from recsys.llm.model import Llara


@torch.no_grad()
def generate_answers(
    model: Llara, tokenizer, table: pa.Table, indices: np.ndarray, splice: bool, max_new_tokens: int,
    device: torch.device = torch.device("cpu"),
) -> list[str]:
    """Decoded continuations of the prompts `indices` of `table` (one batch, run on `device`).

    Left padding keeps every prompt's last token at the same position, so the first answer token
    is predicted from the prompt and never from padding (the authors padded on the right).
    """
    batch = collate(table, indices, tokenizer.pad_token_id, left_pad=True, prompt_only=True)
    batch = {k: v.to(device) for k, v in batch.items()}
    embeds = model.embed(batch["input_ids"], batch["slot_pos"], batch["slot_items"], splice)  # [B, T, H]
    new_tokens = model.lm.generate(
        inputs_embeds=embeds, attention_mask=batch["attention_mask"], max_new_tokens=max_new_tokens,
        do_sample=False, num_beams=1, temperature=None, top_p=None, top_k=None,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
    )  # [B, <= max_new_tokens]: with inputs_embeds only the new tokens come back
    return tokenizer.batch_decode(new_tokens.cpu(), skip_special_tokens=True)
