"""Title clean-up: MovieLens titles carry a year and a trailing article that prompts should not."""

from __future__ import annotations

import re

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
