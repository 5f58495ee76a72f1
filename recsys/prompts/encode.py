"""Tokenise rendered prompts: input ids, where the answer starts, and which item each slot carries."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from transformers import PreTrainedTokenizerBase

from recsys.prompts.templates import VARIANTS, item_names, render_answer, render_prompt


def encode_examples(
    rows: pa.Table,
    titles: list[str],
    tokenizer: PreTrainedTokenizerBase,
    domain: str,
    variant: str,
) -> pa.Table:
    """One shard-schema row per example of `rows` (example_id, user_id, history, candidates, target).

    The answer is tokenised on its own and appended, so the prompt/answer boundary is exact and the
    loss can mask the prompt explicitly; it ends in EOS so the model learns where to stop.
    """
    marker = VARIANTS[variant].marker
    marker_id = tokenizer.convert_tokens_to_ids(marker) if marker else None
    names = item_names(variant, titles)
    histories = rows.column("history").to_pylist()
    candidates = rows.column("candidates").to_pylist()
    targets = rows.column("target").to_pylist()
    prompts = [
        render_prompt(domain, [names[i] for i in h], [names[i] for i in c], variant)
        for h, c in zip(histories, candidates)
    ]
    answers = [render_answer(names[t]) for t in targets]
    prompt_ids = tokenizer(prompts, add_special_tokens=True).input_ids
    answer_ids = tokenizer(answers, add_special_tokens=False).input_ids
    input_ids, starts, positions, slot_items = [], [], [], []
    for p, a, h, c in zip(prompt_ids, answer_ids, histories, candidates):
        ids = np.asarray(p + a + [tokenizer.eos_token_id], np.int32)
        slots = np.flatnonzero(ids == marker_id).astype(np.int32) if marker else np.empty(0, np.int32)
        items = h + c if marker else []
        if len(slots) != len(items):
            raise ValueError(f"{len(slots)} marker tokens for {len(items)} items: a title contains a marker?")
        input_ids.append(ids)
        starts.append(len(p))
        positions.append(slots)
        slot_items.append(np.asarray(items, np.int32))
    return pa.table(
        {
            "example_id": rows.column("example_id"),
            "user_id": rows.column("user_id"),
            "text": [p + a for p, a in zip(prompts, answers)],
            "input_ids": input_ids,
            "answer_start": pa.array(starts, pa.int32()),
            "slot_positions": positions,
            "slot_items": slot_items,
            "candidates": rows.column("candidates"),
            "target": rows.column("target"),
        }
    )
