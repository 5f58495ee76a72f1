"""Exact answer matching on normalised titles (the authors matched substrings, which is ambiguous).

Normalisation, decided once: Unicode NFKC, lower case, '&' read as 'and', punctuation removed,
whitespace collapsed, one leading article (the / a / an) dropped. An answer is valid when its
normalised first line equals the normalised title of exactly one candidate; an answer naming a
title that two candidates share is ambiguous and so invalid.
"""

from __future__ import annotations

import re
import unicodedata

_PUNCT = re.compile(r"[^\w\s]|_")
_SPACE = re.compile(r"\s+")
_ARTICLE = re.compile(r"^(the|a|an) ")


def normalise_title(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower().replace("&", " and ")
    text = _SPACE.sub(" ", _PUNCT.sub(" ", text)).strip()
    return _ARTICLE.sub("", text)


def first_line(generated: str) -> str:
    lines = generated.strip().splitlines()
    return lines[0].strip() if lines else ""


def match_answer(generated: str, candidate_titles: list[str]) -> int | None:
    """Index of the one candidate the answer names, or None when it names none or several."""
    answer = normalise_title(first_line(generated))
    hits = [i for i, title in enumerate(candidate_titles) if normalise_title(title) == answer]
    return hits[0] if len(hits) == 1 else None
