"""Rank candidates for a history given as titles, with a fine-tuned LLaRA (scoring mode)."""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from recsys.data.candidates import sample_negatives
from recsys.errors import InputError
from recsys.eval.match import normalise_title
from recsys.eval.score import answer_token_ids, score_candidates
from recsys.llm.batches import collate
from recsys.llm.model import load_llara
from recsys.prompts.encode import encode_examples
from recsys.prompts.templates import VARIANTS, item_names, trained_variant


def resolve_titles(given: list[str], titles: list[str], option: str) -> list[int]:
    """Item ids of the given titles (normalised exact match); unknown ones fail listing close matches."""
    by_name: dict[str, int] = {}
    for item, title in enumerate(titles):
        by_name.setdefault(normalise_title(title), item)
    ids = []
    for text in given:
        key = normalise_title(text)
        if key not in by_name:
            close = difflib.get_close_matches(text, titles, n=3, cutoff=0.5)
            hint = f"; close matches: {', '.join(repr(c) for c in close)}" if close else ""
            raise InputError(f"{option} {text!r}", f"no item has this title{hint}")
        ids.append(by_name[key])
    return ids


def recommend(model_dir: Path, history: list[str], candidates: list[str] | None, k: int, seed: int
              ) -> list[tuple[int, str, float]]:
    """(item id, title, mean log-likelihood) of each candidate, best first."""
    model, tokenizer, args = load_llara(model_dir)
    titles = pq.read_table(args["items"], columns=["title"]).column("title").to_pylist()
    history_ids = resolve_titles(history, titles, "--history")
    if candidates:
        candidate_ids = resolve_titles(candidates, titles, "--candidate")
    else:  # K items the user has not seen, as evaluation samples them
        seen = np.array(history_ids)
        drawn = sample_negatives(np.zeros(len(seen), np.int64), seen, np.zeros(1, np.int64), len(titles), k,
                                 np.random.default_rng(seed))
        candidate_ids = [int(c) for c in drawn[0]]
    row = pa.table({"example_id": [0], "user_id": [0], "history": [history_ids[-args["max_len"]:]],
                    "candidates": [candidate_ids], "target": [candidate_ids[0]]})
    variant = trained_variant(args["train"])
    names = item_names(variant, titles)
    table = encode_examples(row, titles, tokenizer, args["domain"], variant)
    batch = collate(table, np.array([0]), tokenizer.pad_token_id, prompt_only=True)
    _, mean = score_candidates(model, batch["input_ids"], batch["slot_pos"], batch["slot_items"], VARIANTS[variant].spliced,
                               answer_token_ids(tokenizer, [names[c] for c in candidate_ids]), tokenizer.pad_token_id)
    order = np.argsort(-mean.numpy(), kind="stable")
    return [(candidate_ids[i], titles[candidate_ids[i]], float(mean[i])) for i in order]
