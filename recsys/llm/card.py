"""The fine-tuned model's card (finetune.json): everything needed to rebuild it and to read its prompts.

Written by finetune and read by evaluate and recommend, in this one module, so what the model was
trained on (base model, SR model, items, prompt variant, index letters) is a typed record, not a dict.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from recsys.errors import InputError
from recsys.io import read_record, write_record

FILE = "finetune.json"


@dataclass(frozen=True)
class ModelCard:
    base_model: str  # folder of the frozen base model (fetch-model)
    sr_model: str  # folder of the SR model whose item table fills the behavioural slots
    items: str  # items.parquet of the prepared data set
    n_items: int
    domain: str  # prompt domain (movie, game, music artist)
    max_len: int  # history items a prompt shows
    variant: str  # the prompt variant the model ended its training on
    index_letters: list[int] | None  # token ids of the candidates' index letters; None: the paper's prompt
    candidate_order: str  # sr: behavioural prompts list the candidates best first by the SR model; given: as drawn
    readout: str  # how one forward pass scores the candidates (recsys.llm.readout)
    readout_ids: list[int]  # the tokens it reads
    item_dim: int
    user_dim: int  # size of the SR state the user token projects; 0: no user token
    item_scores: bool  # whether item tokens carry the SR model's score of the item for the user
    hidden_size: int
    lora: dict
    train: dict
    steps: int
    examples: int
    fingerprint: str
    compute: str  # what train.precision resolved to where it trained: "bf16" (autocast) or "fp32"
    sr_prior: bool = False  # whether the slot read-out adds the SR model's candidate scores (train.sr_prior)

    def write(self, folder: Path) -> None:
        write_record(self, Path(folder) / FILE)

    @classmethod
    def read(cls, folder: Path) -> ModelCard:
        return read_record(cls, folder, FILE, "fine-tuned model", "finetune")

    def check_inputs(self, folder: Path) -> None:
        """Stop, naming the key, when a folder or file the card points at is gone (moved, or removed since)."""
        for key, kind, exists in (("base_model", "folder", Path.is_dir), ("sr_model", "folder", Path.is_dir),
                                  ("items", "file", Path.is_file)):
            if not exists(Path(getattr(self, key))):
                raise InputError(f"{Path(folder) / FILE}: {key}", f"{kind} {getattr(self, key)} not found (run the "
                                 "stage that writes it, or re-run `recsys finetune`)")
