"""Shared fixtures: a tiny interaction log on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import run_cli, toy_dataset, write_params
from recsys.config import LLMParams, PromptParams, SRParams
from recsys.llm.base_model import fetch_model
from recsys.prompts.materialize import materialize
from recsys.sr.trainer import pretrain
from tiny_llm import tiny_llama_folder


@pytest.fixture
def toy_log(tmp_path: Path) -> Path:
    """10 users x 6 interactions over 30 items, CSV, with a timestamp tie for user u0."""
    rows = ["user,item,timestamp,rating"]
    for u in range(10):
        for j in range(6):
            ts = 100 + j if not (u == 0 and j == 3) else 102  # u0: items 2 and 3 share a timestamp
            rows.append(f"u{u},{(u * 3 + j) % 30 + 1},{ts},{1 + (u + j) % 5}")
    (tmp_path / "inter.csv").write_text("\n".join(rows) + "\n")
    items = ["item,title"] + [f"{i},Item {i}" for i in range(1, 31)]
    (tmp_path / "items.csv").write_text("\n".join(items) + "\n")
    return tmp_path


@pytest.fixture(scope="session")
def workspace(tmp_path_factory) -> Path:
    """Toy data prepared, tiny base model fetched, an SR model pretrained, prompts materialised (ordered by it)."""
    root = tmp_path_factory.mktemp("llara")
    rows = ["user,item,timestamp"] + [f"u{u},{(u * 3 + j) % 30 + 1},{j}" for u in range(10) for j in range(6)]
    (root / "inter.csv").write_text("\n".join(rows) + "\n")
    (root / "items.csv").write_text("item,title\n" + "".join(f"{i},Item {i}\n" for i in range(1, 31)))
    params = write_params(root, {"split": "loo", "n_candidates": 5}, toy_dataset(root))
    assert run_cli("prepare", "--params", str(params), "--out", str(root / "prepared")).exit_code == 0
    fetch_model(LLMParams(path=str(tiny_llama_folder(root / "tiny"))), root / "base")
    (root / "sr").mkdir()
    pretrain(SRParams(hidden_size=8, epochs=2, patience=1, batch_size=8), root / "prepared", root / "sr", progress=False)
    materialize(root / "prepared", root / "base", "movie", PromptParams(train_examples=12, shard_rows=5),
                root / "prompts", root / "sr", progress=False)
    return root


def pretrain_toy_sr(workspace: Path, out: Path, keep_items: int) -> Path:
    """An untrained SASRec over only the first `keep_items` items, saved as pretrain saves one: a model from
    another data set, as far as this workspace is concerned."""
    import torch

    from recsys.embeddings import save_item_embeddings
    from recsys.sr.registry import architecture, build_model
    from recsys.sr.inference import save_model

    out.mkdir(parents=True)
    torch.manual_seed(0)
    model = build_model(architecture(SRParams(hidden_size=8), keep_items, max_len=10))
    save_model(model, out)
    save_item_embeddings(model.item_embeddings(), out / "item_embeddings.safetensors")
    return out
