"""A tiny randomly initialised Llama and a tokenizer trained in process: real code paths, offline, fast."""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

CORPUS = [
    "This user has watched Item 1, Item 2 in the previous. Please predict the next movie this user "
    "will watch. The movie title candidates are Item 3, Item 4. Choose only one movie from the "
    "candidates. The answer is Item 5",
    "played game games listened music artist artists will play listen to",
] + [f"Item {i} Film {i} Artist {i} Game {i} The A An" for i in range(100)] + [
    " ".join(f"{letter}." for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ") + " Yes"] * 20  # one token each


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    """Byte-level BPE over the prompt vocabulary, with BOS/EOS/PAD/UNK specials."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<unk>", "<s>", "</s>", "<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(CORPUS, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )


def tiny_llama_folder(path: Path, seed: int = 0) -> Path:
    """Save a 2-layer, 32-wide Llama and its tokenizer as a plain Hugging Face folder."""
    tokenizer = tiny_tokenizer()
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True,
    )
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def smollm2_slice(path: Path, layers: int) -> Path:
    """The packaged SmolLM2-135M-Instruct cut to its first `layers` blocks, as a plain HF folder.

    A randomly initialised model has none of the circuits a pretrained one brings (attending to a
    list item and copying its label); its first blocks keep them, at a fraction of the cost.
    """
    from recsys.config import LLMParams
    from recsys.llm.base_model import load_gguf, unquantised_copy
    from recsys.packaged import packaged_gguf

    quantised, tokenizer = load_gguf(packaged_gguf(LLMParams()))
    model = unquantised_copy(quantised)
    model.model.layers = model.model.layers[:layers]
    model.config.num_hidden_layers = layers
    model.config.layer_types = model.config.layer_types[:layers] if getattr(model.config, "layer_types", None) else None
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
