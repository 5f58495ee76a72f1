"""Training batches from prompt shards: length-grouped order and padded tensors with answer-only labels."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import torch

IGNORE = -100  # label value the loss skips


def length_grouped_order(lengths: np.ndarray, batch_size: int, seed: int, epoch: int, group: int = 64) -> list[np.ndarray]:
    """Batches of similar lengths in a seeded random order (padding stays small, order stays random).

    Shuffle, cut into mega-batches of `group` batches, sort each by length, chunk, shuffle the batches.
    """
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    batches = []
    for start in range(0, len(order), batch_size * group):
        mega = order[start : start + batch_size * group]
        mega = mega[np.argsort(-lengths[mega], kind="stable")]
        batches.extend(mega[i : i + batch_size] for i in range(0, len(mega), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


WIDTH_MULTIPLE = 32  # batch widths are rounded up to this many tokens


def collate(
    table: pa.Table, indices: np.ndarray, pad_id: int, left_pad: bool = False, prompt_only: bool = False,
    multiple: int = WIDTH_MULTIPLE,
) -> dict[str, torch.Tensor]:
    """Pad the chosen rows: input_ids/attention_mask/labels [B, T], slot_pos/slot_items [B, S] (-1 = none),
    user_pos [B] (the user slot, -1 = none) and, where the table carries them (recsys.llm.sr_signals), the
    SR model's states of the histories, user_state [B, d];
    answer_pos [B] (the position whose output predicts the first answer token), choice_pos [B, K] (each
    candidate's item token: the last K slots), candidate_items [B, K] (their item ids) and target_index [B]
    (the target's column, the listwise label).

    Labels are IGNORE everywhere but the answer tokens (input_ids[answer_start:]), masked explicitly.
    `prompt_only` drops the answer (for generation, with `left_pad` so every prompt ends at T-1).
    T is rounded up to `multiple`: a few distinct shapes instead of one per length, which keeps the
    CPU allocator's fragmentation and oneDNN's per-shape kernel cache from growing the process for ever.
    """
    taken = table.take(pa.array(indices))
    rows = taken.select(["input_ids", "answer_start", "slot_positions", "slot_items", "user_position", "candidates",
                         "target"]).to_pydict()
    ids = [seq[:start] for seq, start in zip(rows["input_ids"], rows["answer_start"])] if prompt_only else rows["input_ids"]
    width = -(-max(len(x) for x in ids) // multiple) * multiple
    slots = max(len(x) for x in rows["slot_positions"]) or 1
    batch = len(ids)
    input_ids = torch.full((batch, width), pad_id, dtype=torch.long)
    attention = torch.zeros((batch, width), dtype=torch.long)
    labels = torch.full((batch, width), IGNORE, dtype=torch.long)
    slot_pos = torch.full((batch, slots), -1, dtype=torch.long)
    slot_items = torch.full((batch, slots), -1, dtype=torch.long)
    answer_pos = torch.zeros(batch, dtype=torch.long)
    user_pos = torch.full((batch,), -1, dtype=torch.long)
    k = len(rows["candidates"][0])
    choice_pos = torch.zeros((batch, k), dtype=torch.long)
    for b, (seq, start, pos, items) in enumerate(
        zip(ids, rows["answer_start"], rows["slot_positions"], rows["slot_items"])
    ):
        shift = width - len(seq) if left_pad else 0
        input_ids[b, shift : shift + len(seq)] = torch.tensor(seq)
        attention[b, shift : shift + len(seq)] = 1
        labels[b, shift + start : shift + len(seq)] = torch.tensor(seq[start:])
        slot_pos[b, : len(pos)] = torch.tensor(pos) + shift
        slot_items[b, : len(items)] = torch.tensor(items)
        answer_pos[b] = shift + start - 1
        if rows["user_position"][b] >= 0:
            user_pos[b] = shift + rows["user_position"][b]
        choice_pos[b] = torch.tensor(pos[-k:]) + shift
    target_index = torch.tensor([c.index(t) for c, t in zip(rows["candidates"], rows["target"])], dtype=torch.long)
    out = {"input_ids": input_ids, "attention_mask": attention, "labels": labels,
           "slot_pos": slot_pos, "slot_items": slot_items, "user_pos": user_pos, "answer_pos": answer_pos,
           "choice_pos": choice_pos, "candidate_items": torch.tensor(rows["candidates"], dtype=torch.long),
           "target_index": target_index}
    if "user_state" in table.column_names:
        states = taken.column("user_state").combine_chunks()  # fixed-size lists of d floats
        out["user_state"] = torch.from_numpy(states.flatten().to_numpy().reshape(len(states), -1).copy())  # [B, d]
    return out
