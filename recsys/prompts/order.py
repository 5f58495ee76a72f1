"""The order a behavioural prompt lists its candidates in: the SR model's, best first, or the data's own.

Listing the candidates as a retriever ranks them (LlamaRec's two stages) hands the language model the SR
model's choice as candidate A, so generation begins from that choice and the model learns when to depart
from it; the prepared order (random, the target at any letter) is the paper's. The SR model reads exactly
the history the prompt shows, never the target. Text and id prompts keep the prepared order: they carry
no behaviour.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from recsys.sr.data import examples_from_table
from recsys.sr.inference import load_model, score_examples


def sr_ordered(rows: pa.Table, sr_model: Path) -> pa.Table:
    """`rows` (user_id, history, target, candidates) with each row's candidates sorted by the SR model's score,
    best first; ties keep the prepared order."""
    model = load_model(sr_model)
    examples = examples_from_table(rows.select(["user_id", "history", "target", "candidates"]), model.n_items,
                                   model.max_len, with_candidates=True, path=Path(sr_model))
    scores, _ = score_examples(model, examples)  # [N, K]
    candidates = np.asarray(rows.column("candidates").to_pylist(), np.int64)  # [N, K]
    ranked = np.take_along_axis(candidates, np.argsort(-scores, axis=1, kind="stable"), axis=1)  # [N, K]
    offsets = pa.array(np.arange(0, ranked.size + 1, ranked.shape[1], dtype=np.int32))
    column = pa.ListArray.from_arrays(offsets, pa.array(ranked.ravel()).cast(pa.int32()))
    at = rows.schema.get_field_index("candidates")
    return rows.set_column(at, rows.schema.field(at), column.cast(rows.schema.field(at).type))
