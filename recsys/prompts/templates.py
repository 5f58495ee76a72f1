"""Render LLaRA prompts; the wording per domain lives in templates.yaml.

A prompt variant says how each item appears (the paper's RQ2): `text` is the title with the
[PH] placeholder after it, `hybrid` the title with an [EMB] slot that carries the projected SR
embedding, `behaviour` the slot alone, `id` a numerical index ("item 14") and nothing else.
The answer names the target the way the prompt names candidates: its index for `id`, else its title.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from recsys.llm.base_model import PLACEHOLDER, SLOT


@dataclass(frozen=True)
class Variant:
    marker: str | None  # token after (or instead of) each item's name; None: items have no slot
    shows_name: bool  # whether the item's name appears in the prompt
    spliced: bool  # whether the slots carry projected SR embeddings
    by_index: bool = False  # items are named "item <id>" instead of by title


VARIANTS = {
    "text": Variant(marker=PLACEHOLDER, shows_name=True, spliced=False),
    "hybrid": Variant(marker=SLOT, shows_name=True, spliced=True),
    "behaviour": Variant(marker=SLOT, shows_name=False, spliced=True),
    "id": Variant(marker=None, shows_name=True, spliced=False, by_index=True),
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


def trained_variant(train: dict) -> str:
    """The variant a fine-tuned model ends its training on (its finetune.json `train` section)."""
    return "text" if train["schedule"] == "text-only" else train["hard_variant"]


def render_item(name: str, variant: Variant) -> str:
    """The name immediately followed by the marker (no space: it would cost a token per item)."""
    return (name if variant.shows_name else "") + (variant.marker or "")


def render_prompt(domain: str, history: list[str], candidates: list[str], variant: str) -> str:
    """The prompt up to and including "The answer is"; the answer follows after one space."""
    spec = VARIANTS[variant]
    return templates()[domain].format(
        history=", ".join(render_item(name, spec) for name in history),
        candidates=", ".join(render_item(name, spec) for name in candidates),
        n=len(candidates),
    )


def render_answer(name: str) -> str:
    return f" {name}"
