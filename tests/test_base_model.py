"""fetch-model: plain HF folder with the item tokens; same logits as the GGUF-loaded model."""

from __future__ import annotations

import json

import pytest
import torch

from helpers import run_cli, write_params
from recsys.config import LLMParams
from recsys.llm.base_model import ITEM_TOKENS, load_base, load_gguf
from recsys.packaged import packaged_gguf
from tiny_llm import tiny_llama_folder


def test_local_folder_gets_item_tokens_at_the_vocabulary_mean(tmp_path):
    source = tiny_llama_folder(tmp_path / "tiny")
    params = write_params(tmp_path, llm={"name": "tiny", "path": str(source)})
    result = run_cli("fetch-model", "--params", str(params), "--out", str(tmp_path / "base"))
    assert result.exit_code == 0, result.output
    model, tokenizer = load_base(tmp_path / "base")
    ids = [tokenizer.convert_tokens_to_ids(t) for t in ITEM_TOKENS]
    weight = model.get_input_embeddings().weight  # [V+3, H]
    assert ids == [weight.shape[0] - 3, weight.shape[0] - 2, weight.shape[0] - 1]
    for added in ids:
        torch.testing.assert_close(weight[added], weight[: ids[0]].mean(0))
    assert tokenizer("[USR] [PH] Item 1 [EMB]").input_ids.count(ids[1]) == 1
    info = json.loads((tmp_path / "base" / "provenance.json").read_text())
    assert info["item_tokens"] == {"[PH]": ids[0], "[EMB]": ids[1], "[USR]": ids[2]}


def test_not_a_model_folder(tmp_path):
    params = write_params(tmp_path, llm={"path": str(tmp_path)})
    result = run_cli("fetch-model", "--params", str(params), "--out", str(tmp_path / "base"))
    assert result.exit_code == 2 and "expected config.json" in result.stderr
    assert not (tmp_path / "base").exists()


@pytest.mark.slow
def test_packaged_smollm2_converts_with_identical_logits(tmp_path):
    params = write_params(tmp_path)
    result = run_cli("fetch-model", "--params", str(params), "--out", str(tmp_path / "base"))
    assert result.exit_code == 0, result.output
    converted, tokenizer = load_base(tmp_path / "base")
    original, original_tokenizer = load_gguf(packaged_gguf(LLMParams()))
    vocab = original.get_input_embeddings().weight.shape[0]
    for prompt in ["This user has watched Toy Story, Heat in the previous.", "The answer is"]:
        ids = original_tokenizer(prompt, return_tensors="pt").input_ids
        assert torch.equal(tokenizer(prompt, return_tensors="pt").input_ids, ids)
        with torch.no_grad():
            torch.testing.assert_close(converted(ids).logits[..., :vocab], original(ids).logits, atol=1e-3, rtol=1e-4)
