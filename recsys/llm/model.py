"""LLaRA: a frozen causal LM with LoRA adapters, whose behavioural slots carry projected SR embeddings."""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from recsys.config import LoraParams
from recsys.embeddings import load_item_embeddings
from recsys.errors import InputError
from recsys.llm.base_model import load_base
from recsys.llm.batches import IGNORE
from recsys.llm.behaviour import BehaviourTokens, seeded_behaviour, sr_scores
from recsys.llm.card import ModelCard
from recsys.llm.readout import Readout

PROJECTOR = "projector.safetensors"
RUN_KEY = "llara_run"  # the projector's metadata entry naming its run


class Llara(nn.Module):
    """The LM (a peft model) plus BehaviourTokens; `splice` decides whether slots carry behaviour. With `sr_prior`
    the slot read-out adds the SR model's score of each candidate (train.sr_prior)."""

    def __init__(self, lm: nn.Module, behaviour: BehaviourTokens, sr_prior: bool = False):
        super().__init__()
        self.lm = lm
        self.behaviour = behaviour
        self.sr_prior = sr_prior

    @property
    def causal(self) -> nn.Module:
        """The causal LM itself (under peft's wrapper when there is one), for its body and its lm_head."""
        return self.lm.get_base_model() if isinstance(self.lm, PeftModel) else self.lm

    def embed(self, input_ids: torch.Tensor, slot_pos: torch.Tensor, slot_items: torch.Tensor, splice: bool,
              user_pos: torch.Tensor | None = None, user_state: torch.Tensor | None = None) -> torch.Tensor:
        """[B, T] ids -> [B, T, H] input embeddings. `splice` fills the item slots with behaviour (a text prompt
        keeps the fixed [PH] row there); user_pos [B] and user_state [B, d] fill the user slots of the prompts that
        have one, whatever their item tokens (recsys.llm.behaviour)."""
        embeds = self.lm.get_input_embeddings()(input_ids)
        has_users = user_pos is not None and bool((user_pos >= 0).any())
        if not (splice or has_users):
            return embeds
        return self.behaviour.splice(embeds, slot_pos if splice else None, slot_items, user_pos, user_state)

    def forward(self, input_ids, attention_mask, slot_pos, slot_items, splice: bool, labels=None, user_pos=None,
                user_state=None):
        """The LM's own forward (logits [B, T, V], and its loss given labels) over the spliced embeddings."""
        embeds = self.embed(input_ids, slot_pos, slot_items, splice, user_pos, user_state)
        return self.lm(inputs_embeds=embeds, attention_mask=attention_mask, labels=labels)

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

    def choice_logits(self, hidden: torch.Tensor, readout: Readout, answer_pos: torch.Tensor, choice_pos: torch.Tensor,
                      candidate_items: torch.Tensor | None = None, user_state: torch.Tensor | None = None
                      ) -> torch.Tensor:
        """hidden [B, T, H] -> [B, K]: the one-pass score of every candidate (see recsys.llm.readout); with
        `sr_prior`, a slot read-out plus the SR model's score of candidate_items [B, K] for user_state [B, d]
        (prompts without user states have no SR state to score with, and keep the read-out alone)."""
        logits = readout.logits(self.causal.lm_head, hidden, answer_pos, choice_pos)  # [B, K]
        if not (self.sr_prior and readout.kind == "slot" and user_state is not None):
            return logits
        return logits + sr_scores(self.behaviour.item_table, candidate_items, user_state)


def _check_targets(model: nn.Module, targets: list[str]) -> None:
    """Each of lora.target_modules must name modules of the base model as peft matches them (the name or its end)."""
    names = [name for name, _ in model.named_modules() if name]
    leaves = sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules() if isinstance(module, nn.Linear)})
    if not targets:
        raise InputError("lora.target_modules", f"expected at least one module name (e.g. {', '.join(leaves)})")
    for target in targets:
        if not any(name == target or name.endswith("." + target) for name in names):
            raise InputError("lora.target_modules", f"{target!r} names no module of the base model (its linear "
                             f"layers: {', '.join(leaves)})")


def with_lora(model: nn.Module, params: LoraParams) -> nn.Module:
    """Freeze the base model and add LoRA adapters on `params.target_modules`."""
    _check_targets(model, list(params.target_modules))
    for weight in model.parameters():
        weight.requires_grad_(False)
    config = LoraConfig(r=params.r, lora_alpha=params.alpha, lora_dropout=params.dropout,
                        target_modules=list(params.target_modules), task_type="CAUSAL_LM")
    return get_peft_model(model, config)


def build_llara(base: Path, item_embeddings: Path, items: Path, lora: LoraParams, seed: int,
                gradient_checkpointing: bool = False, device: torch.device = torch.device("cpu"),
                dtype: torch.dtype = torch.float32, user_dim: int = 0, item_scores: bool = False,
                sr_prior: bool = False) -> tuple[Llara, object]:
    """A fresh LLaRA to train on `device`: frozen base in `dtype` + fp32 LoRA (peft keeps adapters in fp32), and
    projectors initialised from `seed` alone (a user projector over `user_dim`-sized SR states when not 0, and the
    SR scores' embedding with `item_scores`)."""
    table = load_item_embeddings(item_embeddings, items)
    torch.manual_seed(seed)
    lm, tokenizer = load_base(base, device, dtype)
    if gradient_checkpointing:
        lm.gradient_checkpointing_enable()
        lm.enable_input_require_grads()
    behaviour = seeded_behaviour(table, lm.config.hidden_size, seed, user_dim, item_scores)
    return Llara(with_lora(lm, lora), behaviour, sr_prior).to(device), tokenizer


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
    save_file(projector, out / PROJECTOR, metadata={RUN_KEY: json.dumps(_projector_run(card), sort_keys=True)})
    card.write(out)


def _projector_run(card: ModelCard) -> dict:
    """What ties a projector to its run: the card's fingerprint and the item table it projects. It is written as one
    JSON string, since safetensors writes several metadata keys in hash order and the file would differ by run."""
    return {"fingerprint": card.fingerprint, "n_items": card.n_items, "item_dim": card.item_dim,
            "user_dim": card.user_dim}


def _read_projector(path: Path, card: ModelCard) -> dict[str, torch.Tensor]:
    """The projectors' tensors, checked against the card before any model is loaded: the shapes its item dim, user
    dim and hidden size give, and the run they came from."""
    if not path.is_file():
        raise InputError(str(path), "file not found (run `recsys finetune`)")
    if path.stat().st_size == 0:
        raise InputError(str(path), "empty file (re-run `recsys finetune`)")
    try:
        with safe_open(str(path), "pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except (SafetensorError, OSError) as err:
        raise InputError(str(path), f"not a safetensors file ({str(err).splitlines()[0]})") from None
    with torch.device("meta"):
        shapes = BehaviourTokens(torch.empty(1, card.item_dim), card.hidden_size, card.user_dim,
                                 card.item_scores).state_dict()
        expected = {name: list(t.shape) for name, t in shapes.items()}
    found = {name: list(t.shape) for name, t in tensors.items()}
    if set(found) != set(expected):
        raise InputError(str(path), f"holds tensors {', '.join(sorted(found)) or 'none'}, a projector has "
                         f"{', '.join(expected)}")
    for name, shape in expected.items():
        if found[name] != shape:
            raise InputError(str(path), f"{name}: expected shape {shape}, found {found[name]} (finetune.json: "
                             f"item_dim {card.item_dim}, user_dim {card.user_dim}, hidden_size {card.hidden_size})")
    if RUN_KEY not in metadata:
        raise InputError(str(path), "carries no run metadata (written by an older finetune: re-run `recsys finetune`)")
    run = json.loads(metadata[RUN_KEY])
    for key, value in _projector_run(card).items():
        if run.get(key) != value:
            raise InputError(str(path), f"from another run: {key} {run.get(key)}, finetune.json has {value} (copy a "
                             "model folder whole, or re-run `recsys finetune`)")
    return tensors


def load_llara(directory: Path, device: torch.device = torch.device("cpu"), dtype: torch.dtype = torch.float32
               ) -> tuple[Llara, object, ModelCard]:
    """Rebuild a fine-tuned model from save_llara's folder -> (model in eval mode on `device`, tokenizer, card)."""
    directory = Path(directory)
    card = ModelCard.read(directory)
    card.check_inputs(directory)
    projector = _read_projector(directory / PROJECTOR, card)
    base, tokenizer = load_base(Path(card.base_model), device, dtype)
    if base.config.hidden_size != card.hidden_size:
        raise InputError(str(directory / "finetune.json"),
                         f"base model hidden size {base.config.hidden_size}, expected {card.hidden_size}")
    try:
        lm = PeftModel.from_pretrained(base, directory / "adapter")
    except (ValueError, OSError, RuntimeError, SafetensorError) as err:
        raise InputError(str(directory / "adapter"), f"not a LoRA adapter for this base model "
                         f"({str(err).splitlines()[0][:200]})") from None
    embeddings = Path(card.sr_model) / "item_embeddings.safetensors"
    table = load_item_embeddings(embeddings, Path(card.items))
    if table.shape[1] != card.item_dim:
        raise InputError(str(embeddings), f"{table.shape[1]}-dimensional item embeddings, the model was trained on "
                         f"{card.item_dim} (was the SR model retrained? re-run `recsys finetune`)")
    behaviour = BehaviourTokens(table, card.hidden_size, card.user_dim, card.item_scores)
    behaviour.load_state_dict(projector)
    return Llara(lm, behaviour, card.sr_prior).to(device).eval(), tokenizer, card
