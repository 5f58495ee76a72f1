"""Where the model runs and in which dtype: the device rule, llm.dtype, and bf16 evaluation matching fp32."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import REPO, finetune_inputs
from recsys.config import EvalParams, LoraParams, TrainParams
from recsys.distributed import Ranks
from recsys.eval.evaluate import evaluate
from recsys.llm import precision
from recsys.llm.finetune import finetune
from recsys.llm.model import load_llara


def test_a_stage_picks_the_gpu_of_its_local_rank_when_there_is_one(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert Ranks().device() == torch.device("cuda", 0)
    assert Ranks(rank=3, world=4, local_rank=1).device() == torch.device("cuda", 1)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert Ranks(rank=3, world=4, local_rank=1).device() == torch.device("cpu")


def test_dtype_and_attention_follow_the_device(monkeypatch):
    cuda, cpu = torch.device("cuda", 0), torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert precision.weights_dtype("auto", cuda) == torch.bfloat16 and precision.weights_dtype("auto", cpu) == torch.float32
    assert precision.weights_dtype("fp32", cuda) == torch.float32 and precision.weights_dtype("bf16", cpu) == torch.bfloat16
    assert precision.autocast_dtype("auto", cuda) == torch.bfloat16 and precision.autocast_dtype("fp32", cuda) is None
    assert precision.attention_implementation(cuda) == "sdpa" and precision.attention_implementation(cpu) == "eager"
    monkeypatch.setattr(precision, "cpu_has_amx", lambda: False)
    assert precision.autocast_dtype("auto", cpu) is None  # no AMX: bf16 would only add casts
    monkeypatch.setattr(precision, "cpu_has_amx", lambda: True)
    assert precision.autocast_dtype("auto", cpu) == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert precision.weights_dtype("auto", cuda) == torch.float32


def test_no_amx_makes_auto_compute_in_fp32_on_any_cpu(monkeypatch):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert precision.autocast_dtype("auto", torch.device("cpu")) == torch.bfloat16
    monkeypatch.setenv(precision.NO_AMX, "1")
    assert precision.autocast_dtype("auto", torch.device("cpu")) is None
    assert precision.autocast_dtype("bf16", torch.device("cpu")) == torch.bfloat16  # an explicit param still wins


@pytest.fixture(scope="module")
def trained(workspace, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("device-model")
    finetune(finetune_inputs(workspace), LoraParams(r=2, alpha=4), TrainParams(max_steps=3, batch_size=2, grad_accum=1,
             lr=1e-2, precision="fp32"), out, out.with_name(out.name + "-ckpt"), progress=False)
    return out


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_loaded_base_follows_llm_dtype_and_adapters_stay_fp32(trained, dtype):
    model, _, _ = load_llara(trained, dtype=dtype)
    base = {p.dtype for n, p in model.lm.named_parameters() if "lora_" not in n}
    adapters = {p.dtype for n, p in model.lm.named_parameters() if "lora_" in n}
    assert base == {dtype} and adapters == {torch.float32}
    assert {p.dtype for p in model.behaviour.projector.parameters()} == {torch.float32}


def test_bf16_evaluation_ranks_like_fp32(workspace, trained, tmp_path):
    import pyarrow.parquet as pq

    scores = {}
    for name, llm_dtype, compute in (("fp32", "fp32", "fp32"), ("bf16", "bf16", "bf16")):
        (tmp_path / name).mkdir()
        evaluate(trained, workspace / "prompts", workspace / "prepared", workspace / "sr",
                 EvalParams(modes=["rank", "score"], precision=compute), tmp_path / name, progress=False,
                 llm_dtype=llm_dtype)
        table = pq.read_table(tmp_path / name / "predictions.parquet")
        scores[name] = {c: np.stack(table.column(c).to_pylist()) for c in ("rank_scores", "scores_mean")}
    for column in ("rank_scores", "scores_mean"):
        np.testing.assert_allclose(scores["bf16"][column], scores["fp32"][column], atol=0.1, rtol=0.05)
        agree = np.mean(scores["bf16"][column].argmax(1) == scores["fp32"][column].argmax(1))
        assert agree >= 0.9


def test_no_model_code_pins_the_cpu():
    """Every tensor a model sees follows the device it was given: in the code that runs models, `.cpu()` only
    brings results back (`.cpu().numpy()`, a returned value), never moves a model or a batch."""
    moves_back = re.compile(r"\.cpu\(\)(\.(numpy|contiguous|clone|tolist)\(\))")
    for path in [*(REPO / "recsys" / "llm").glob("*.py"), *(REPO / "recsys" / "eval").glob("*.py")]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            pinned = line.count(".cpu()") - len(moves_back.findall(line))
            assert pinned <= 0 or line.strip().startswith("return"), f"{path.name}:{number}: {line.strip()}"
            assert '.to("cpu")' not in line, f"{path.name}:{number}: {line.strip()}"
