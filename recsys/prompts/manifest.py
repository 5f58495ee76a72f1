"""A prompts folder's manifest (manifest.json): what its prompts were rendered and tokenised with.

Written by materialize and read by finetune and evaluate, in this one module, so the tokens a read-out needs and
the prompt settings a model card copies are a typed record, not a dict whose keys each reader spells again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from recsys.errors import InputError
from recsys.io import read_record, write_record
from recsys.prompts.templates import ITEM_TOKENS

FILE = "manifest.json"


@dataclass(frozen=True)
class PromptManifest:
    domain: str  # prompt domain (movie, game, music artist)
    template: str  # the domain's prompt template
    n_candidates: int
    max_len: int  # history items a prompt shows (the prepared data's)
    item_tokens: dict[str, int]  # token id of each item token, in the tokenizer the prompts were made with
    index_letters: list[int] | None  # token ids of the candidates' index letters; None: the paper's prompt
    readout_token: int | None  # id of the slot read-out's token; None: the tokenizer splits it
    user_token: bool  # whether behavioural prompts open with the user's slot
    candidate_order: str  # sr: behavioural prompts list candidates best first by `order_model`; given: as prepared
    order_model: str | None  # folder of the SR model that ordered them (None: given order)
    splits: dict  # per split: examples, and per variant the prompts' token counts

    def write(self, folder: Path) -> None:
        write_record(self, Path(folder) / FILE)

    @classmethod
    def read(cls, folder: Path) -> PromptManifest:
        return read_record(cls, folder, FILE, "prompts", "materialize")

    def check_tokenizer(self, tokenizer, folder: Path) -> None:
        """Stop when `tokenizer` gives the item tokens other ids than the prompts were tokenised with."""
        ids = {t: tokenizer.convert_tokens_to_ids(t) for t in ITEM_TOKENS}
        if ids != self.item_tokens:
            raise InputError(str(Path(folder) / FILE), f"prompts were tokenised for item tokens {self.item_tokens}, "
                             f"this base model has {ids} (re-run `recsys materialize` for it)")

    def check_order(self, sr_model: Path, folder: Path) -> None:
        """Stop when the behavioural prompts were ordered by another SR model than the one `sr_model` names."""
        if self.candidate_order == "sr" and Path(self.order_model).resolve() != Path(sr_model).resolve():
            raise InputError(str(Path(folder) / FILE), f"candidates were ordered by the SR model {self.order_model}, "
                             f"this run reads {sr_model} (re-run `recsys materialize` with its sr.model)")
