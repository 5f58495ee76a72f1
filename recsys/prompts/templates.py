"""Render LLaRA prompts from item titles; the wording per domain lives in templates.yaml."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from recsys.llm.base_model import PLACEHOLDER, SLOT

VARIANTS = {"text": PLACEHOLDER, "hybrid": SLOT}


@lru_cache
def templates() -> dict[str, str]:
    raw = yaml.safe_load((Path(__file__).with_name("templates.yaml")).read_text())
    return {domain: entry["prompt"] for domain, entry in raw.items()}


def render_item(title: str, marker: str) -> str:
    """The title immediately followed by its marker token (no space: it would cost a token per item)."""
    return f"{title}{marker}"


def render_prompt(domain: str, history: list[str], candidates: list[str], variant: str) -> str:
    """The prompt up to and including "The answer is"; the answer follows after one space."""
    marker = VARIANTS[variant]
    return templates()[domain].format(
        history=", ".join(render_item(t, marker) for t in history),
        candidates=", ".join(render_item(t, marker) for t in candidates),
        n=len(candidates),
    )


def render_answer(title: str) -> str:
    return f" {title}"
