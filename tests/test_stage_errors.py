"""The error contract after prepare: a missing or mismatched upstream artifact is one InputError naming it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from helpers import finetune_inputs
from recsys.config import EvalParams, LoraParams, TrainParams
from recsys.errors import InputError
from recsys.eval.evaluate import evaluate
from recsys.eval.recommend import recommend
from recsys.llm.finetune import Trainer, finetune
from recsys.llm.model import load_llara

TRAIN = TrainParams(max_steps=1, batch_size=2, grad_accum=1, precision="fp32")


@pytest.fixture(scope="module")
def model_dir(workspace, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("errors-model")
    finetune(finetune_inputs(workspace), LoraParams(r=2, alpha=4), TRAIN, out, out.with_name("errors-ckpt"),
             progress=False)
    return out


def copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_prompts_without_a_manifest_or_for_another_base_model(workspace, tmp_path, model_dir):
    inputs = finetune_inputs(workspace)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="not a prompts folder .*run `recsys materialize`"):
        Trainer(type(inputs)(empty, inputs.base, inputs.sr_model, inputs.items), LoraParams(), TRAIN, tmp_path / "c")
    other = copy(workspace / "prompts", tmp_path / "prompts")
    manifest = json.loads((other / "manifest.json").read_text())
    (other / "manifest.json").write_text(json.dumps({**manifest, "item_tokens": {"[EMB]": 7, "[PH]": 8}}))
    with pytest.raises(InputError, match="manifest.json: prompts were tokenised for item tokens"):
        Trainer(type(inputs)(other, inputs.base, inputs.sr_model, inputs.items), LoraParams(), TRAIN, tmp_path / "c")
    with pytest.raises(InputError, match="manifest.json: prompts were tokenised for item tokens"):
        evaluate(model_dir, other, workspace / "prepared", None, EvalParams(), tmp_path, progress=False)


def test_a_corrupt_adapter_is_named(model_dir, tmp_path):
    broken = copy(model_dir, tmp_path / "model")
    (broken / "adapter" / "adapter_model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(InputError, match="adapter: not a LoRA adapter for this base model"):
        load_llara(broken)


def test_an_sr_teacher_from_another_data_set(workspace, tmp_path):
    from conftest import pretrain_toy_sr

    small = tmp_path / "sr"
    pretrain_toy_sr(workspace, small, keep_items=20)
    inputs = finetune_inputs(workspace)
    with pytest.raises(InputError, match="rows but .*items.parquet has 30 items|SR model knows 20 items"):
        Trainer(type(inputs)(inputs.prompts, inputs.base, small, inputs.items), LoraParams(), TRAIN, tmp_path / "c")


def test_recommend_needs_something_to_rank(model_dir):
    with pytest.raises(InputError, match="--k: expected at least one candidate"):
        recommend(model_dir, ["Item 1"], None, 0, seed=0)
