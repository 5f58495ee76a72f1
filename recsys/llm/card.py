"""The fine-tuned model's card (finetune.json): everything needed to rebuild it and to read its prompts.

Written by finetune and read by evaluate and recommend, in this one module, so what the model was
trained on (base model, SR model, items, prompt variant, index letters) is a typed record, not a dict.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from recsys.errors import InputError

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

    def write(self, folder: Path) -> None:
        (Path(folder) / FILE).write_text(json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n")

    @classmethod
    def read(cls, folder: Path) -> ModelCard:
        path = Path(folder) / FILE
        if not path.is_file():
            raise InputError(str(folder), f"not a fine-tuned model folder (expected {FILE}; run `recsys finetune`)")
        try:
            fields = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise InputError(str(path), f"not JSON ({err})") from None
        names = [f.name for f in dataclasses.fields(cls)]
        missing = [n for n in names if n not in fields]
        if missing:
            raise InputError(str(path), f"missing key {missing[0]!r} (written by an older version? re-run finetune)")
        return cls(**{n: fields[n] for n in names})

    def check_inputs(self, folder: Path) -> None:
        """Stop, naming the key, when a folder or file the card points at is gone (moved, or removed since)."""
        for key, kind, exists in (("base_model", "folder", Path.is_dir), ("sr_model", "folder", Path.is_dir),
                                  ("items", "file", Path.is_file)):
            if not exists(Path(getattr(self, key))):
                raise InputError(f"{Path(folder) / FILE}: {key}", f"{kind} {getattr(self, key)} not found (run the "
                                 "stage that writes it, or re-run `recsys finetune`)")
