"""Title clean-up: MovieLens titles carry a year and a trailing article that prompts should not."""

from __future__ import annotations

import re
from typing import Iterable

_YEAR = re.compile(r"\s*\(\d{4}\)\s*$")
# "Shawshank Redemption, The" or "Seventh Seal, The (Sjunde inseglet, Det)" -> article to the front.
_TRAILING_ARTICLE = re.compile(r"^(?P<body>.*?), (?P<article>The|A|An)(?P<alt> \([^()]*\))?$")
_SPACES = re.compile(r"\s+")


def clean_title(raw: str) -> str:
    """Collapse runs of whitespace and strip the ends."""
    return _SPACES.sub(" ", raw).strip()


def movielens_title(raw: str) -> str:
    """'Shawshank Redemption, The (1994)' -> 'The Shawshank Redemption'."""
    title = clean_title(_YEAR.sub("", raw))
    match = _TRAILING_ARTICLE.match(title)
    if match:
        title = f"{match['article']} {match['body']}{match['alt'] or ''}"
    return title


class BoundedTitles:
    """Cuts titles to `limit` characters so none dominates a prompt, keeping distinct titles distinct.

    Built from every title that could collide with a cut one (those of at least `limit` characters;
    the first seen keeps the plain cut, later ones end in ' (2)', ' (3)', ...); called on each
    title, it returns the title to use and counts the cuts in `cut`.
    """

    def __init__(self, titles: Iterable[str], limit: int):
        distinct = [t for t in dict.fromkeys(titles) if len(t) >= limit]
        taken = {t for t in distinct if len(t) == limit}
        self.short: dict[str, str] = {}
        for title in distinct:
            if len(title) == limit:
                continue
            candidate, n = title[:limit], 1
            while candidate in taken:
                n += 1
                candidate = title[: limit - len(f" ({n})")] + f" ({n})"
            taken.add(candidate)
            self.short[title] = candidate
        self.cut = 0

    def __call__(self, title: str) -> str:
        if title not in self.short:
            return title
        self.cut += 1
        return self.short[title]
