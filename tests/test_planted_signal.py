"""A planted signal that only the behavioural tokens carry: the model must learn to use them.

Items fall into clusters that are visible in the SR embedding table and nowhere else (titles are
shuffled names with no signal). Every user's history comes from one cluster, and the target is
the only candidate from that cluster, so the next item is fully determined by behaviour. A hybrid
model trained briefly ranks the target first almost always; a text-only model with the same
budget cannot beat chance, because nothing it sees tells the candidates apart.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from helpers import planted_hr1, write_planted_manifest
from recsys.config import LLMParams, TrainParams
from recsys.embeddings import save_item_embeddings
from recsys.llm.base_model import fetch_model
from recsys.prompts.encode import encode_examples
from recsys.prompts.shards import write_shard
from tiny_llm import smollm2_slice

CLUSTERS, PER_CLUSTER, K, HISTORY, DIM = 4, 12, 5, 3, 8
LAYERS = 4  # of SmolLM2's 30: a pretrained model's first blocks, so the test takes seconds


def planted_rows(rng: np.random.Generator, cluster: np.ndarray, n: int, first_id: int) -> pa.Table:
    """n examples: a history and a target from one cluster, K - 1 negatives from the others."""
    rows = {"example_id": [], "user_id": [], "history": [], "candidates": [], "target": []}
    for i in range(n):
        c = rng.integers(CLUSTERS)
        own = rng.permutation(np.flatnonzero(cluster == c))
        others = rng.choice(np.flatnonzero(cluster != c), K - 1, replace=False)
        candidates = rng.permutation(np.append(others, own[HISTORY])).tolist()
        for key, value in (("example_id", i), ("user_id", first_id + i), ("history", own[:HISTORY].tolist()),
                           ("candidates", candidates), ("target", int(own[HISTORY]))):
            rows[key].append(value)
    return pa.table(rows)


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("planted")
    rng = np.random.default_rng(0)
    n_items = CLUSTERS * PER_CLUSTER
    cluster = rng.permutation(np.repeat(np.arange(CLUSTERS), PER_CLUSTER))  # item -> cluster, unrelated to names
    centroids = torch.nn.functional.one_hot(torch.arange(CLUSTERS), DIM).float() * 3  # [C, d], orthogonal
    table = centroids[cluster] + 0.3 * torch.randn(n_items, DIM, generator=torch.Generator().manual_seed(0))
    (root / "prepared").mkdir()
    titles = [f"Item {j}" for j in rng.permutation(n_items)]
    pq.write_table(pa.table({"item_id": np.arange(n_items), "title": titles}), root / "prepared" / "items.parquet")
    (root / "sr").mkdir()
    save_item_embeddings(table, root / "sr" / "item_embeddings.safetensors")
    fetch_model(LLMParams(path=str(smollm2_slice(root / "slice", LAYERS))), root / "base")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(root / "base")
    splits = {"train": planted_rows(rng, cluster, 512, 0), "val": planted_rows(rng, cluster, 100, 10_000)}
    for split, rows in splits.items():
        for variant in ("text", "hybrid"):
            write_shard(root / "prompts" / split / variant, 0,
                        encode_examples(rows, titles, tokenizer, "movie", variant, letters=True))
    write_planted_manifest(root / "prompts", tokenizer, HISTORY, K, user_token=False)
    return root


def trained_hr1(root: Path, schedule: str, readout: str, steps: int, lr: float) -> float:
    """Fine-tune with `schedule` on the planted prompts; -> validation HR@1 by the one-pass read-out."""
    train = TrainParams(schedule=schedule, readout=readout, answer_weight=0.0, distill_weight=0.0,
                        letter_weight=0.0, max_steps=steps,
                        batch_size=16, grad_accum=1, lr=lr, warmup_ratio=0.0, eval_points=0, checkpoint_every=1000,
                        item_scores=False)  # these prompts have no user slot to carry the SR states
    return planted_hr1(root, root / "prompts", train, f"{schedule}-{readout}")


def test_behaviour_tokens_carry_the_planted_signal(planted):
    assert trained_hr1(planted, "direct", "slot", steps=60, lr=2e-3) >= 0.8


def test_text_alone_stays_near_chance(planted):
    assert trained_hr1(planted, "text-only", "slot", steps=60, lr=2e-3) <= 1 / K + 0.12
