"""Render LLaRA prompts; the wording per domain lives in templates.yaml. This module owns the prompt
contract that fetch-model, training and evaluation share: the item tokens, the index letters, the answer.

A prompt variant says how each item appears (the paper's RQ2): `text` is the title with the
[PH] placeholder after it, `hybrid` the title with an [EMB] slot that carries the projected SR
embedding, `behaviour` the slot alone, `id` a numerical index ("item 14") with the placeholder.
Every item ends in its item token, so each candidate has one position that has read it whole.
With the user token (prompts.user_token), a behavioural prompt opens with "This user's behaviour:
[USR]." whose input embedding is the SR model's own state of the history the prompt shows: the
vector it scores candidates with, which no item token carries. `text-user` is the text prompt
with that user token alone (no item carries behaviour), to tell the two kinds of behaviour apart.

With index letters (LlamaRec's verbalizer), candidate k is introduced by the k-th capital letter
("A. Toy Story (1995)[EMB] B. Heat (1995)[EMB] ...") and the answer starts with the target's
letter (" B. Heat (1995)"). Without them (the paper's prompt) candidates are comma-separated and
the answer is the title alone. Two one-pass read-outs rank all K candidates (recsys.llm.readout):
the K letters' logits where the answer starts, or the logit of READOUT_TOKEN at each candidate's
item token.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

PLACEHOLDER = "[PH]"  # text-only prompts: a fixed token after each title
SLOT = "[EMB]"  # behavioural slot: its input embedding becomes the projected SR embedding
USER_SLOT = "[USR]"  # the user's slot: its input embedding becomes the projected SR sequence state
ITEM_TOKENS = (PLACEHOLDER, SLOT, USER_SLOT)  # the tokens fetch-model adds to the base model's vocabulary
USER_PHRASE = f"This user's behaviour: {USER_SLOT}. "
INDEX_LETTERS = string.ascii_uppercase
READOUT_TOKEN = " Yes"  # read at each candidate's item token by the `slot` read-out: "is this the next item?"


@dataclass(frozen=True)
class Variant:
    item_token: str  # token after (or instead of) each item's name
    shows_name: bool  # whether the item's name appears in the prompt
    spliced: bool  # whether the item slots carry projected SR embeddings
    by_index: bool = False  # items are named "item <id>" instead of by title
    user_slot: bool = False  # whether the prompt opens with the user's slot (with prompts.user_token)

    @property
    def behavioural(self) -> bool:
        """Whether the prompt carries the SR model's view of the user (item tokens or the user token): such
        prompts list the candidates in the SR model's order and are read with its user states."""
        return self.spliced or self.user_slot


VARIANTS = {
    "text": Variant(item_token=PLACEHOLDER, shows_name=True, spliced=False),
    "hybrid": Variant(item_token=SLOT, shows_name=True, spliced=True, user_slot=True),
    "behaviour": Variant(item_token=SLOT, shows_name=False, spliced=True, user_slot=True),
    "id": Variant(item_token=PLACEHOLDER, shows_name=True, spliced=False, by_index=True),
    "text-user": Variant(item_token=PLACEHOLDER, shows_name=True, spliced=False, user_slot=True),
}


@lru_cache
def templates() -> dict[str, str]:
    raw = yaml.safe_load((Path(__file__).with_name("templates.yaml")).read_text())
    return {domain: entry["prompt"] for domain, entry in raw.items()}


def item_names(variant: str, titles: list[str]) -> list[str]:
    """What the prompt and the answer call each item under `variant` (index = item id)."""
    if VARIANTS[variant].by_index:
        return [f"item {item}" for item in range(len(titles))]
    return titles


def trained_variant(schedule: str, hard_variant: str) -> str:
    """The variant a fine-tuned model ends its training on."""
    return "text" if schedule == "text-only" else hard_variant


def index_letters(k: int) -> str:
    if k > len(INDEX_LETTERS):
        raise ValueError(f"index letters name at most {len(INDEX_LETTERS)} candidates, got {k}")
    return INDEX_LETTERS[:k]


def render_item(name: str, variant: Variant) -> str:
    """The name immediately followed by the item token (no space: it would cost a token per item)."""
    return (name if variant.shows_name else "") + variant.item_token


def render_prompt(domain: str, history: list[str], candidates: list[str], variant: str, letters: bool,
                  user: bool = False) -> str:
    """The prompt up to and including "The answer is"; the answer follows after one space. `user` opens the
    prompt of a variant with a user slot with it (text and id prompts carry no behaviour, so no user slot)."""
    spec = VARIANTS[variant]
    if letters:  # the letter separates candidates, so no comma is spent between them
        shown = " ".join(f"{letter}. {render_item(name, spec)}" for letter, name in zip(index_letters(len(candidates)),
                                                                                       candidates))
    else:
        shown = ", ".join(render_item(name, spec) for name in candidates)
    opening = USER_PHRASE if user and spec.user_slot else ""
    return opening + templates()[domain].format(history=", ".join(render_item(name, spec) for name in history),
                                                candidates=shown, n=len(candidates))


def render_answer(name: str, letter: str | None) -> str:
    """" B. Heat (1995)" with index letters, " Heat (1995)" without; training appends EOS."""
    return f" {letter}. {name}" if letter else f" {name}"


def strip_letter(answer: str, letters: str) -> str:
    """The title part of a generated answer: "B. Heat" -> "Heat" when B is an index letter."""
    text = answer.strip()
    if len(text) >= 2 and text[0] in letters and text[1] == ".":
        return text[2:].strip()
    return text
