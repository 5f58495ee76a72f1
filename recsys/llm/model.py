"""LLaRA: a frozen causal LM with LoRA adapters, whose behavioural slots carry projected SR embeddings."""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from recsys.config import LoraParams
from recsys.embeddings import load_item_embeddings
from recsys.errors import InputError
from recsys.llm.base_model import load_base
from recsys.llm.batches import IGNORE
from recsys.llm.behaviour import BehaviourTokens


class Llara(nn.Module):
    """The LM (a peft model) plus BehaviourTokens; `splice` decides whether slots carry behaviour."""

    def __init__(self, lm: nn.Module, behaviour: BehaviourTokens):
        super().__init__()
        self.lm = lm
        self.behaviour = behaviour

    def embed(self, input_ids: torch.Tensor, slot_pos: torch.Tensor, slot_items: torch.Tensor, splice: bool) -> torch.Tensor:
        """[B, T] ids -> [B, T, H] input embeddings; text task keeps the fixed [PH] row at the slots."""
        embeds = self.lm.get_input_embeddings()(input_ids)
        return self.behaviour.splice(embeds, slot_pos, slot_items) if splice else embeds

    def forward(self, input_ids, attention_mask, slot_pos, slot_items, splice: bool, labels=None, **kwargs):
        embeds = self.embed(input_ids, slot_pos, slot_items, splice)
        return self.lm(inputs_embeds=embeds, attention_mask=attention_mask, labels=labels, **kwargs)

    def answer_loss(self, input_ids, attention_mask, slot_pos, slot_items, labels, splice: bool) -> torch.Tensor:
        """Mean cross-entropy over the answer tokens, projecting only their hidden states to the vocabulary.

        Equal to the LM's own loss with these labels, without the [B, T, V] logits of the prompt
        (most of a prompt's tokens), which would cost about a fifth of the step on a small model.
        """
        embeds = self.embed(input_ids, slot_pos, slot_items, splice)
        causal = self.lm.get_base_model()
        hidden = causal.model(inputs_embeds=embeds, attention_mask=attention_mask).last_hidden_state  # [B, T, H]
        targets = labels[:, 1:]  # position t predicts token t + 1
        keep = targets != IGNORE
        logits = causal.lm_head(hidden[:, :-1][keep])  # [M, V], M answer tokens in the batch
        return F.cross_entropy(logits.float(), targets[keep])


def with_lora(model: nn.Module, params: LoraParams) -> nn.Module:
    """Freeze the base model and add LoRA adapters on `params.target_modules`."""
    for weight in model.parameters():
        weight.requires_grad_(False)
    config = LoraConfig(r=params.r, lora_alpha=params.alpha, lora_dropout=params.dropout,
                        target_modules=list(params.target_modules), task_type="CAUSAL_LM")
    return get_peft_model(model, config)


def save_llara(model: Llara, out: Path, args: dict) -> None:
    """adapter/ (peft format), projector.safetensors and finetune.json with everything to rebuild."""
    model.lm.save_pretrained(out / "adapter", safe_serialization=True)
    save_file(model.behaviour.projector.state_dict(), out / "projector.safetensors")
    (out / "finetune.json").write_text(json.dumps(args, indent=2, sort_keys=True) + "\n")


def load_llara(directory: Path) -> tuple[Llara, object, dict]:
    """Rebuild a fine-tuned model from save_llara's folder -> (model in eval mode, tokenizer, args)."""
    directory = Path(directory)
    args_path = directory / "finetune.json"
    if not args_path.is_file():
        raise InputError(str(directory), "not a fine-tuned model folder (expected finetune.json; run `recsys finetune`)")
    args = json.loads(args_path.read_text())
    base, tokenizer = load_base(Path(args["base_model"]))
    if base.config.hidden_size != args["hidden_size"]:
        raise InputError(str(args_path), f"base model hidden size {base.config.hidden_size}, expected {args['hidden_size']}")
    lm = PeftModel.from_pretrained(base, directory / "adapter")
    table = load_item_embeddings(Path(args["item_embeddings"]), Path(args["items"]))
    behaviour = BehaviourTokens(table, args["hidden_size"])
    try:
        behaviour.projector.load_state_dict(load_file(directory / "projector.safetensors"))
    except (RuntimeError, OSError, SafetensorError) as err:
        raise InputError(str(directory / "projector.safetensors"), f"does not fit the item table ({str(err).splitlines()[0]})") from None
    return Llara(lm, behaviour).eval(), tokenizer, args
