"""Helpers for stage tests: params files, running the CLI in process, the toy dataset entry."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from typer.testing import CliRunner

from stages.cli import app

REPO = Path(__file__).resolve().parents[1]
# The authors' processed splits live in shared/ beside the repository (as in CI).
LLARA_DATA = Path(os.environ.get("LLARA_DATA", REPO.parent / "shared" / "datasets" / "llara"))


def write_params(directory: Path, data: dict | None = None, datasets: dict | None = None, **sections) -> Path:
    params = {"data": {"dataset": "toy", **(data or {})}, "datasets": datasets or {}, **sections}
    path = directory / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def run_cli(*args: str):
    """Invoke `recsys ...` in process; returns the click Result (exit_code, stdout, stderr)."""
    return CliRunner().invoke(app, list(args))


def toy_dataset(root: Path, **format_overrides) -> dict:
    """The `datasets` section naming the toy log under `root` as dataset `toy`."""
    fmt = {"interactions": "inter.csv", "items": "items.csv", "user_col": "user", "item_col": "item",
           "items_item_col": "item", **format_overrides}
    return {"toy": {"source": "interactions", "path": str(root), "format": fmt}}


def build_model(root: Path, seed: int = 0):
    """The tiny LLaRA (fresh LoRA, seeded projector) over a workspace fixture -> (model, tokenizer)."""
    import torch
    from safetensors.torch import load_file

    from recsys.config import LoraParams
    from recsys.llm.base_model import load_base
    from recsys.llm.behaviour import seeded_behaviour
    from recsys.llm.model import Llara, with_lora

    torch.manual_seed(seed)
    lm, tokenizer = load_base(root / "base")
    table = load_file(root / "items.safetensors")["item_embeddings"]
    behaviour = seeded_behaviour(table, lm.config.hidden_size, seed)
    return Llara(with_lora(lm, LoraParams(r=2, alpha=4, dropout=0.0)), behaviour).eval(), tokenizer
