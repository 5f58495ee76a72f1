"""Scoring mode: the log-likelihood of every candidate's answer, exactly as training writes it.

The prompt is encoded once; its keys and values are repeated for the K candidates, whose answer
tokens (the rendered answer + EOS) run as one batch against that cache. EOS is part of the answer,
so a title that is a prefix of another ("Heat" / "Heat 2") is not scored as it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from recsys.llm.model import Llara


def answer_token_ids(tokenizer, answers: list[str]) -> list[list[int]]:
    """Per rendered answer (`prompts.templates.render_answer`), its tokens then EOS, as materialize writes them."""
    ids = tokenizer(answers, add_special_tokens=False).input_ids
    return [seq + [tokenizer.eos_token_id] for seq in ids]


@torch.no_grad()
def score_candidates(
    model: Llara, prompt_ids: torch.Tensor, slot_pos: torch.Tensor, slot_items: torch.Tensor, splice: bool,
    answers: list[list[int]], pad_id: int, user_pos: torch.Tensor | None = None, user_state: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(summed, mean) log-probability of each of the K answers after one prompt, on the CPU.

    prompt_ids [1, T], unpadded; slot_pos, slot_items [1, S] (on the model's device); answers: K token lists;
    user_pos [1], user_state [1, d]: the user slot, where the prompt has one.
    Returns two [K] tensors.
    """
    device = prompt_ids.device
    embeds = model.embed(prompt_ids, slot_pos, slot_items, splice, user_pos, user_state)  # [1, T, H]
    prefix = model.lm(inputs_embeds=embeds, use_cache=True)
    k, width = len(answers), max(len(a) for a in answers)
    tokens = torch.full((k, width), pad_id, dtype=torch.long)
    mask = torch.zeros((k, width), dtype=torch.long)
    for i, seq in enumerate(answers):
        tokens[i, : len(seq)] = torch.tensor(seq)
        mask[i, : len(seq)] = 1
    tokens, mask = tokens.to(device), mask.to(device)
    cache = prefix.cache
    cache.batch_repeat_interleave(k)
    attention = torch.cat([torch.ones((k, prompt_ids.shape[1]), dtype=torch.long, device=device), mask], dim=1)
    cont = model.lm(input_ids=tokens, attention_mask=attention, cache=cache, use_cache=False)
    # The first answer token is predicted by the prompt's last position, the rest by the previous token.
    logits = torch.cat([prefix.logits[:, -1:].expand(k, 1, -1), cont.logits[:, :-1]], dim=1)  # [K, L, V]
    token_logp = F.log_softmax(logits.float(), dim=-1).gather(-1, tokens[..., None])[..., 0] * mask  # [K, L]
    summed = token_logp.sum(dim=1)
    return summed.cpu(), (summed / mask.sum(dim=1)).cpu()
