"""A planted sequence that only the SR model's state carries: the user token must pass it on.

Every history is an ordering of one of SETS triples of items, and each of a triple's 6 orderings leads to
a target of its own. The K candidates are targets of orderings of the same triple, so anything that sees
the history's items but not their order scores all orderings of a triple alike: the item table's
history-candidate similarity (bench/embedding_probe.py) is at chance. A SASRec pretrained on the
sequences tells the orderings apart (position embeddings); its state of the shown history, spliced into
the user token, decides the choice. With item tokens alone the language model would have to learn the
order rule itself, which it does not within the same budget.
"""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers import planted_hr1, write_planted_manifest
from recsys.config import LLMParams, SRParams, TrainParams
from recsys.embeddings import load_item_embeddings
from recsys.llm.base_model import fetch_model
from recsys.prompts.encode import encode_examples
from recsys.prompts.shards import write_shard
from recsys.sr.trainer import pretrain
from sr_fixtures import write_stats
from tiny_llm import smollm2_slice

SETS, K, LAYERS = 4, 5, 4
HISTORY = 3  # a history is one triple
ORDERS = list(itertools.permutations(range(HISTORY)))  # the 6 orderings of a triple
N_ITEMS = SETS * 3 + SETS * len(ORDERS)  # the triples' items, then one target per (triple, ordering)


def target_of(triple: int, order: int) -> int:
    return SETS * 3 + triple * len(ORDERS) + order


def sequence_rows(rng: np.random.Generator, n: int, first_id: int) -> pa.Table:
    """n examples: an ordering of a random triple, its target, and K - 1 targets of the triple's other orderings."""
    rows = {"example_id": [], "user_id": [], "history": [], "target": [], "candidates": []}
    for i in range(n):
        triple, order = int(rng.integers(SETS)), int(rng.integers(len(ORDERS)))
        others = rng.choice([o for o in range(len(ORDERS)) if o != order], K - 1, replace=False)
        candidates = rng.permutation([target_of(triple, o) for o in (order, *others)]).tolist()
        for key, value in (("example_id", i), ("user_id", first_id + i),
                           ("history", [triple * 3 + j for j in ORDERS[order]]),
                           ("target", target_of(triple, order)), ("candidates", candidates)):
            rows[key].append(value)
    return pa.table(rows)


def probe_hr1(table: np.ndarray, rows: pa.Table) -> float:
    """The embedding probe: rank candidates by their dot product with the mean history embedding."""
    hits = [c[int(np.argmax(table[c] @ table[h].mean(0)))] == t for h, c, t in
            zip(*(rows.column(n).to_pylist() for n in ("history", "candidates", "target")))]
    return float(np.mean(hits))


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Path:
    return planted_sequences(tmp_path_factory.mktemp("sequence"))


def planted_sequences(root: Path) -> Path:
    """The planted data set under `root`: prepared data, a SASRec pretrained on it, the base model, and prompts
    with the user token (prompts-user) and without (prompts-items)."""
    rng = np.random.default_rng(0)
    prepared = root / "prepared"
    prepared.mkdir()
    titles = [f"Item {j}" for j in rng.permutation(N_ITEMS)]  # names carry nothing
    pq.write_table(pa.table({"item_id": np.arange(N_ITEMS), "title": titles}), prepared / "items.parquet")
    splits = {"train": sequence_rows(rng, 2048, 0), "val": sequence_rows(rng, 100, 10_000),
              "test": sequence_rows(rng, 100, 20_000)}
    for split, rows in splits.items():
        pq.write_table(rows.drop_columns(["example_id"] + (["candidates"] if split == "train" else [])),
                       prepared / f"{split}.parquet")
    write_stats(prepared, N_ITEMS, HISTORY, K)
    (root / "sr").mkdir()
    sr = pretrain(SRParams(hidden_size=16, dropout=0.0, lr=1e-2, batch_size=128, epochs=40, patience=40, seed=0),
                  prepared, root / "sr", progress=False)
    assert sr["val.hr@1"] >= 0.95  # the SR model has learnt the order rule
    item_table = load_item_embeddings(root / "sr" / "item_embeddings.safetensors", prepared / "items.parquet")
    assert probe_hr1(item_table.numpy(), splits["val"]) <= 1 / K + 0.1  # and its table alone cannot tell

    fetch_model(LLMParams(path=str(smollm2_slice(root / "slice", LAYERS))), root / "base")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(root / "base")
    for user in (True, False):
        prompts = root / ("prompts-user" if user else "prompts-items")
        for split in ("train", "val"):
            rows = splits[split].slice(0, 512)
            for variant in ("text", "hybrid"):
                write_shard(prompts / split / variant, 0,
                            encode_examples(rows, titles, tokenizer, "movie", variant, letters=True, user=user))
        write_planted_manifest(prompts, tokenizer, HISTORY, K, user_token=user)
    return root


TRAIN = TrainParams(schedule="direct", answer_weight=0.0, distill_weight=0.0, letter_weight=0.0, max_steps=80,
                    batch_size=16, grad_accum=1, lr=2e-3, warmup_ratio=0.0, eval_points=0, checkpoint_every=1000,
                    item_scores=False)


def test_the_user_token_carries_the_sequence_state(planted):
    assert planted_hr1(planted, planted / "prompts-user", TRAIN, "user") >= 0.8


def test_item_scores_hand_over_the_sr_ranking_in_a_few_steps(planted):
    """The SR score in each item token is one linear read away from the slot read-out: half the steps (0.98 at
    40 steps where the user token alone reaches 0.55)."""
    train = dataclasses.replace(TRAIN, item_scores=True, max_steps=40)
    assert planted_hr1(planted, planted / "prompts-user", train, "scores") >= 0.9


def test_item_tokens_alone_stay_near_chance(planted):
    assert planted_hr1(planted, planted / "prompts-items", TRAIN, "items") <= 1 / K + 0.15
