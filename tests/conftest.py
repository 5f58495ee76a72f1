"""Shared fixtures: a tiny interaction log on disk."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def toy_log(tmp_path: Path) -> Path:
    """10 users x 6 interactions over 30 items, CSV, with a timestamp tie for user u0."""
    rows = ["user,item,timestamp,rating"]
    for u in range(10):
        for j in range(6):
            ts = 100 + j if not (u == 0 and j == 3) else 102  # u0: items 2 and 3 share a timestamp
            rows.append(f"u{u},{(u * 3 + j) % 30 + 1},{ts},{1 + (u + j) % 5}")
    (tmp_path / "inter.csv").write_text("\n".join(rows) + "\n")
    items = ["item,title"] + [f"{i},Item {i}" for i in range(1, 31)]
    (tmp_path / "items.csv").write_text("\n".join(items) + "\n")
    return tmp_path
