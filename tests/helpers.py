"""Helpers for stage tests: params files, running the CLI in process, the toy dataset entry."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from typer.testing import CliRunner

from stages.cli import app

REPO = Path(__file__).resolve().parents[1]
# The authors' processed splits live in shared/ beside the repository (as in CI).
LLARA_DATA = Path(os.environ.get("LLARA_DATA", REPO.parent / "shared" / "datasets" / "llara"))


def dvc_stages(values: dict[str, str] | None = None) -> dict:
    """dvc.yaml's stages as DVC resolves them: each `foreach` item a stage `<name>@<key>` with its `${item.*}` filled
    in, and with `values` ({"data.dataset": ...}) every other `${key}` too."""
    def fill(text: str, found: dict) -> str:
        return re.sub(r"\$\{([^}]+)\}", lambda m: str(found.get(m.group(1), m.group(0))), text)

    stages = {}
    for name, stage in yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"].items():
        items = stage.get("foreach", {None: {}})
        for key, item in items.items():
            body = fill(yaml.safe_dump(stage.get("do", stage)), {f"item.{k}": v for k, v in item.items()})
            stages[name if key is None else f"{name}@{key}"] = yaml.safe_load(fill(body, values or {}))
    return stages


def write_params(directory: Path, data: dict | None = None, datasets: dict | None = None, **sections) -> Path:
    params = {"data": {"dataset": "toy", **(data or {})}, "datasets": datasets or {}, **sections}
    path = directory / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def run_cli(*args: str):
    """Invoke `recsys ...` in process; returns the click Result (exit_code, stdout, stderr)."""
    return CliRunner().invoke(app, list(args))


def run_tool(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run `dvc`, `git` or `python` in `cwd` with this interpreter's environment first on PATH; must succeed."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def toy_dataset(root: Path, **format_overrides) -> dict:
    """The `datasets` section naming the toy log under `root` as dataset `toy`."""
    fmt = {"interactions": "inter.csv", "items": "items.csv", "user_col": "user", "item_col": "item",
           "items_item_col": "item", **format_overrides}
    return {"toy": {"source": "interactions", "path": str(root), "format": fmt}}


def build_model(root: Path, seed: int = 0):
    """The tiny LLaRA (fresh LoRA, seeded projector) over a workspace fixture -> (model in eval mode, tokenizer)."""
    from recsys.config import LoraParams
    from recsys.llm.model import build_llara

    model, tokenizer = build_llara(root / "base", root / "sr" / "item_embeddings.safetensors",
                                   root / "prepared" / "items.parquet", LoraParams(r=2, alpha=4, dropout=0.0), seed)
    return model.eval(), tokenizer


def finetune_inputs(root: Path):
    from recsys.llm.finetune import FinetuneInputs

    return FinetuneInputs(prompts=root / "prompts", base=root / "base", sr_model=root / "sr",
                          items=root / "prepared" / "items.parquet")


def train_then_stop(root: Path, train, checkpoints: Path, stop_after: int, ranks=None, lora=None) -> None:
    """Make `stop_after` optimiser steps with their checkpoints and stop without saving: a crash, in process."""
    from recsys.config import LoraParams
    from recsys.distributed import Ranks
    from recsys.llm.finetune import Trainer

    trainer = Trainer(finetune_inputs(root), lora or LoraParams(r=2, alpha=4, dropout=0.1), train, checkpoints,
                      ranks or Ranks())
    for step in range(trainer.start, stop_after):
        trainer.step(step)
        if (step + 1) % train.checkpoint_every == 0:
            trainer.checkpoint(step + 1)


def write_planted_manifest(prompts: Path, tokenizer, max_len: int, k: int, user_token: bool) -> None:
    """manifest.json for hand-encoded planted prompts (movie domain, index letters), as materialize writes it."""
    from recsys.prompts.encode import letter_token_ids, single_token_id
    from recsys.prompts.manifest import PromptManifest
    from recsys.prompts.templates import ITEM_TOKENS, READOUT_TOKEN, templates

    PromptManifest(domain="movie", template=templates()["movie"], n_candidates=k, max_len=max_len,
                   item_tokens={t: tokenizer.convert_tokens_to_ids(t) for t in ITEM_TOKENS},
                   index_letters=letter_token_ids(tokenizer, k), readout_token=single_token_id(tokenizer, READOUT_TOKEN),
                   user_token=user_token, candidate_order="given", order_model=None, splits={}).write(prompts)


def planted_hr1(root: Path, prompts: Path, train, name: str) -> float:
    """Fine-tune on a planted data set's prompts (root/base, root/sr, root/prepared); -> validation HR@1 by the
    one-pass read-out, with the SR model's user states wherever the prompts have user slots."""
    import numpy as np

    from recsys.config import LoraParams
    from recsys.llm.finetune import FinetuneInputs, finetune
    from recsys.llm.model import load_llara
    from recsys.llm.ranking import choice_scores
    from recsys.llm.readout import Readout
    from recsys.llm.sr_signals import prompt_table
    from recsys.prompts.manifest import PromptManifest
    from recsys.prompts.templates import VARIANTS

    out = root / name
    inputs = FinetuneInputs(prompts=prompts, base=root / "base", sr_model=root / "sr",
                            items=root / "prepared" / "items.parquet")
    finetune(inputs, LoraParams(r=8, alpha=32, dropout=0.0), train, out, root / f"{name}-ckpt", progress=False)
    model, tokenizer, card = load_llara(out)
    table = prompt_table(prompts / "val" / card.variant, root / "sr", PromptManifest.read(prompts))
    scores = choice_scores(model, table, np.arange(table.num_rows), Readout(card.readout, tuple(card.readout_ids)),
                           VARIANTS[card.variant].spliced, tokenizer.pad_token_id, batch_size=50)
    candidates = np.array(table.column("candidates").to_pylist())
    return float(np.mean(candidates[np.arange(len(scores)), scores.argmax(1)] == table.column("target").to_numpy()))


def link_project(workspace: Path, root: Path) -> Path:
    """A project folder whose layout places (recsys.layout) link to the workspace fixture's artifacts, with a
    params.yaml for a two-step run on the tiny Llama: run there, the stage commands find their inputs as under
    `dvc repro`. -> its params.yaml"""
    from recsys import layout

    for place, name in ((layout.prepared("toy", root), "prepared"), (layout.base_model("tiny", root), "base"),
                        (layout.sr_model("toy", "sasrec", root), "sr"), (layout.prompts("toy", "tiny", root), "prompts")):
        place.parent.mkdir(parents=True, exist_ok=True)
        place.symlink_to(workspace / name)
    return write_params(root, {"split": "loo", "n_candidates": 5}, toy_dataset(workspace), llm={"name": "tiny", "dtype": "auto"},
                        sr={"model": "sasrec"},
                        lora={"r": 2, "alpha": 4},
                        train={"max_steps": 2, "batch_size": 2, "grad_accum": 1, "precision": "fp32",
                               "checkpoint_every": 1, "eval_points": 1},
                        eval={"max_new_tokens": 4, "precision": "fp32"})


LM_INPUTS = ("input_ids", "attention_mask", "slot_pos", "slot_items", "labels", "user_pos", "user_state")


def lm_inputs(batch: dict) -> dict:
    """The keys of a `collate` batch that `Llara.forward` takes (the rest are the read-out's)."""
    return {key: batch[key] for key in LM_INPUTS if key in batch}


def answer_loss(model, batch: dict):
    """The objective's answer term on a `collate` batch of spliced prompts (Llara.answer_token_loss)."""
    hidden = model.hidden_states(batch["input_ids"], batch["attention_mask"], batch["slot_pos"], batch["slot_items"],
                                 True, batch["user_pos"], batch.get("user_state"))  # [B, T, H]
    return model.answer_token_loss(hidden, batch["labels"])
