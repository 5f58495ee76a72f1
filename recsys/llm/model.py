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
from recsys.llm.behaviour import BehaviourTokens, seeded_behaviour
from recsys.llm.card import ModelCard
from recsys.llm.readout import Readout


class Llara(nn.Module):
    """The LM (a peft model) plus BehaviourTokens; `splice` decides whether slots carry behaviour."""

    def __init__(self, lm: nn.Module, behaviour: BehaviourTokens):
        super().__init__()
        self.lm = lm
        self.behaviour = behaviour

    @property
    def causal(self) -> nn.Module:
        """The causal LM itself (under peft's wrapper when there is one), for its body and its lm_head."""
        return self.lm.get_base_model() if isinstance(self.lm, PeftModel) else self.lm

    def embed(self, input_ids: torch.Tensor, slot_pos: torch.Tensor, slot_items: torch.Tensor, splice: bool,
              user_pos: torch.Tensor | None = None, user_state: torch.Tensor | None = None) -> torch.Tensor:
        """[B, T] ids -> [B, T, H] input embeddings; text task keeps the fixed [PH] row at the slots.
        user_pos [B] and user_state [B, d] fill the user slots (recsys.llm.behaviour)."""
        embeds = self.lm.get_input_embeddings()(input_ids)
        return self.behaviour.splice(embeds, slot_pos, slot_items, user_pos, user_state) if splice else embeds

    def forward(self, input_ids, attention_mask, slot_pos, slot_items, splice: bool, labels=None, user_pos=None,
                user_state=None, **kwargs):
        embeds = self.embed(input_ids, slot_pos, slot_items, splice, user_pos, user_state)
        return self.lm(inputs_embeds=embeds, attention_mask=attention_mask, labels=labels, **kwargs)

    def hidden_states(self, input_ids, attention_mask, slot_pos, slot_items, splice: bool, user_pos=None,
                      user_state=None) -> torch.Tensor:
        """[B, T] ids -> the last layer's hidden states [B, T, H] (no projection to the vocabulary)."""
        embeds = self.embed(input_ids, slot_pos, slot_items, splice, user_pos, user_state)
        return self.causal.model(inputs_embeds=embeds, attention_mask=attention_mask).last_hidden_state

    def answer_token_loss(self, hidden: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy over the answer tokens, projecting only their hidden states to the vocabulary.

        Equal to the LM's own loss with these labels, without the [B, T, V] logits of the prompt
        (most of a prompt's tokens), which would cost about a fifth of the step on a small model.
        """
        targets = labels[:, 1:]  # position t predicts token t + 1
        keep = targets != IGNORE
        logits = self.causal.lm_head(hidden[:, :-1][keep])  # [M, V], M answer tokens in the batch
        return F.cross_entropy(logits.float(), targets[keep])

    def choice_logits(self, hidden: torch.Tensor, readout: Readout, answer_pos: torch.Tensor,
                      choice_pos: torch.Tensor) -> torch.Tensor:
        """hidden [B, T, H] -> [B, K]: the one-pass score of every candidate (see recsys.llm.readout)."""
        return readout.logits(self.causal.lm_head, hidden, answer_pos, choice_pos)

    def answer_loss(self, input_ids, attention_mask, slot_pos, slot_items, labels, splice: bool, user_pos=None,
                    user_state=None, **_) -> torch.Tensor:
        hidden = self.hidden_states(input_ids, attention_mask, slot_pos, slot_items, splice, user_pos, user_state)
        return self.answer_token_loss(hidden, labels)


def with_lora(model: nn.Module, params: LoraParams) -> nn.Module:
    """Freeze the base model and add LoRA adapters on `params.target_modules`."""
    for weight in model.parameters():
        weight.requires_grad_(False)
    config = LoraConfig(r=params.r, lora_alpha=params.alpha, lora_dropout=params.dropout,
                        target_modules=list(params.target_modules), task_type="CAUSAL_LM")
    return get_peft_model(model, config)


def build_llara(base: Path, item_embeddings: Path, items: Path, lora: LoraParams, seed: int,
                gradient_checkpointing: bool = False, device: torch.device = torch.device("cpu"),
                dtype: torch.dtype = torch.float32, user_dim: int = 0) -> tuple[Llara, object]:
    """A fresh LLaRA to train on `device`: frozen base in `dtype` + fp32 LoRA (peft keeps adapters in fp32), and
    projectors initialised from `seed` alone (a user projector over `user_dim`-sized SR states when not 0)."""
    table = load_item_embeddings(item_embeddings, items)
    torch.manual_seed(seed)
    lm, tokenizer = load_base(base, device, dtype)
    if gradient_checkpointing:
        lm.gradient_checkpointing_enable()
        lm.enable_input_require_grads()
    return Llara(with_lora(lm, lora), seeded_behaviour(table, lm.config.hidden_size, seed,
                                                                 user_dim)).to(device), tokenizer


def save_llara(model: Llara, out: Path, card: ModelCard) -> None:
    """adapter/ (peft format), projector.safetensors (the item and user projectors) and the model card, everything
    load_llara needs."""
    model.lm.save_pretrained(out / "adapter", safe_serialization=True)
    # peft keeps target_modules as a set and writes it in hash order, which differs between processes
    config_path = out / "adapter" / "adapter_config.json"
    config = json.loads(config_path.read_text())
    config.update({k: sorted(config[k]) for k in ("target_modules", "exclude_modules") if isinstance(config.get(k), list)})
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    projector = {k: v.detach().cpu().contiguous() for k, v in model.behaviour.state_dict().items()}
    save_file(projector, out / "projector.safetensors")
    card.write(out)


def load_llara(directory: Path, device: torch.device = torch.device("cpu"), dtype: torch.dtype = torch.float32
               ) -> tuple[Llara, object, ModelCard]:
    """Rebuild a fine-tuned model from save_llara's folder -> (model in eval mode on `device`, tokenizer, card)."""
    directory = Path(directory)
    card = ModelCard.read(directory)
    base, tokenizer = load_base(Path(card.base_model), device, dtype)
    if base.config.hidden_size != card.hidden_size:
        raise InputError(str(directory / "finetune.json"),
                         f"base model hidden size {base.config.hidden_size}, expected {card.hidden_size}")
    try:
        lm = PeftModel.from_pretrained(base, directory / "adapter")
    except (ValueError, OSError, RuntimeError, SafetensorError) as err:
        raise InputError(str(directory / "adapter"), f"not a LoRA adapter for this base model "
                         f"({str(err).splitlines()[0][:200]})") from None
    table = load_item_embeddings(Path(card.sr_model) / "item_embeddings.safetensors", Path(card.items))
    behaviour = BehaviourTokens(table, card.hidden_size, card.user_dim)
    try:
        behaviour.load_state_dict(load_file(directory / "projector.safetensors"))
    except (RuntimeError, OSError, SafetensorError) as err:
        raise InputError(str(directory / "projector.safetensors"),
                         f"does not fit the item table ({str(err).splitlines()[0]})") from None
    return Llara(lm, behaviour).to(device).eval(), tokenizer, card
