"""Tokenise rendered prompts: input ids, where the answer starts, and which item each slot carries."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from transformers import PreTrainedTokenizerBase

from recsys.errors import InputError
from recsys.prompts.templates import (INDEX_LETTERS, USER_SLOT, VARIANTS, index_letters, item_names, render_answer,
                                      render_prompt)


def single_token_id(tokenizer: PreTrainedTokenizerBase, text: str) -> int | None:
    """The id of `text` when the tokenizer makes it one token (alone, as after another word), else None."""
    pieces = tokenizer(text, add_special_tokens=False).input_ids
    return pieces[0] if len(pieces) == 1 else None


def letter_token_ids(tokenizer: PreTrainedTokenizerBase, k: int) -> list[int]:
    """The token id of " A", " B", ... for K candidates: each must be one token, or ranking cannot read it."""
    if k > len(INDEX_LETTERS):
        raise InputError("prompts.index_letters", f"{k} candidates, but letters name at most {len(INDEX_LETTERS)} "
                         "(set it to false, or lower data.n_candidates)")
    ids = [single_token_id(tokenizer, f" {letter}") for letter in index_letters(k)]
    if None in ids:
        raise InputError("prompts.index_letters", f"{index_letters(k)[ids.index(None)]!r} is several tokens for this "
                         "tokenizer, expected one (set it to false)")
    return ids


def check_context(shard: pa.Table, lengths: np.ndarray, context: int, where: str) -> None:
    """Every example (prompt and answer; `lengths` [N] in tokens) fits the base model's context window, or one
    line names the longest."""
    longest = int(np.argmax(lengths)) if len(lengths) else 0
    if len(lengths) and lengths[longest] > context:
        raise InputError(f"{where} example {shard.column('example_id')[longest]} (prepared user index "
                         f"{shard.column('user_id')[longest]})", f"{lengths[longest]} tokens, longer than the base "
                         f"model's context of {context} (lower data.max_title_chars or data.max_len)")


def slot_layout(ids: np.ndarray, n_items: int, item_token: int, user_token: int) -> tuple[np.ndarray, int]:
    """ids [T] of one example -> the positions of its n_items item tokens [n_items] and of its user token (-1: none).

    A title that tokenises to either special token would shift every slot after it, so the counts are checked.
    """
    slots = np.flatnonzero(ids == item_token).astype(np.int32)
    if len(slots) != n_items:
        raise ValueError(f"{len(slots)} item tokens for {n_items} items: a title contains an item token?")
    user_at = np.flatnonzero(ids == user_token)
    if len(user_at) > 1:
        raise ValueError(f"{len(user_at)} user tokens in one prompt: a title contains {USER_SLOT}?")
    return slots, int(user_at[0]) if len(user_at) else -1


def encode_examples(rows: pa.Table, titles: list[str], tokenizer: PreTrainedTokenizerBase, domain: str, variant: str,
                    letters: bool, user: bool = False) -> pa.Table:
    """One shard-schema row per example of `rows` (example_id, user_id, history, candidates, target).

    The answer is tokenised on its own and appended, so the prompt/answer boundary is exact and the
    loss can mask the prompt explicitly; it ends in EOS so the model learns where to stop. With
    index letters, the answer's first token is the target's letter (checked). `user_position` is the
    user slot's position (-1 where the prompt has none).
    """
    token_id = tokenizer.convert_tokens_to_ids(VARIANTS[variant].item_token)
    user_id = tokenizer.convert_tokens_to_ids(USER_SLOT)
    names = item_names(variant, titles)
    histories = rows.column("history").to_pylist()
    candidates = rows.column("candidates").to_pylist()
    targets = rows.column("target").to_pylist()
    k = len(candidates[0]) if candidates else 0
    letter_ids = letter_token_ids(tokenizer, k) if letters and k else []
    prompts = [
        render_prompt(domain, [names[i] for i in h], [names[i] for i in c], variant, letters, user)
        for h, c in zip(histories, candidates)
    ]
    answers = [render_answer(names[t], index_letters(k)[c.index(t)] if letters else None)
               for t, c in zip(targets, candidates)]
    prompt_ids = tokenizer(prompts, add_special_tokens=True).input_ids
    answer_ids = tokenizer(answers, add_special_tokens=False).input_ids
    input_ids, starts, positions, slot_items, user_positions = [], [], [], [], []
    for p, a, h, c, t in zip(prompt_ids, answer_ids, histories, candidates, targets):
        if letters and a[0] != letter_ids[c.index(t)]:
            raise ValueError(f"answer {tokenizer.decode(a)!r} does not start with its index letter's token")
        ids = np.asarray(p + a + [tokenizer.eos_token_id], np.int32)
        items = h + c
        slots, user_at = slot_layout(ids, len(items), token_id, user_id)
        user_positions.append(user_at)
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
            "user_position": pa.array(user_positions, pa.int32()),
            "history": rows.column("history"),
            "candidates": rows.column("candidates"),
            "target": rows.column("target"),
        }
    )
