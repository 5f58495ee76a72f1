"""bench/embedding_probe.py: the history-similarity ranker picks the candidate nearest the history's mean."""

from __future__ import annotations

import numpy as np

from bench import embedding_probe

# items 0 and 1 point along x, 2 along y, 3 along -x
TABLE = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], dtype=np.float32)


def test_the_probe_ranks_candidates_by_their_dot_product_with_the_mean_of_the_last_k_history_items():
    histories = [[2, 0], [0, 2], [2, 2, 2, 0], []]
    candidates = np.array([[1, 2, 3], [1, 2, 3], [1, 2, 3], [3, 1, 2]])
    targets = np.array([1, 1, 2, 3])
    # last 1: user 0 ends on x (picks 1, the target), user 1 on y (picks 2, misses 1), user 2 on x (misses 2);
    # user 3 has no history: every candidate ties at 0 and the first one (3, the target) is picked
    assert embedding_probe.probe_hits(TABLE, histories, candidates, targets, window=1).tolist() == [1, 0, 0, 1]
    # last 10 (whole history): user 0 and 1 average to (0.5, 0.5): item 1 scores 1.0 over item 2's 0.5;
    # user 2 averages to (0.25, 0.75): item 2 scores 0.75 over item 1's 0.5
    assert embedding_probe.probe_hits(TABLE, histories, candidates, targets, window=10).tolist() == [1, 1, 1, 1]


def test_a_new_probe_keeps_the_earlier_rows_of_runs_it_did_not_probe(tmp_path):
    report = tmp_path / "embedding_probe.md"
    assert embedding_probe.kept_rows(report, ["steam-llara-morec"], 2) == []
    report.write_text("| run | users |\n| --- | ---: |\n| `lastfm-llara-caser` | 122 |\n| `steam-llara-morec` | 1194 |\n")
    assert embedding_probe.kept_rows(report, ["steam-llara-morec"], 2) == ["| `lastfm-llara-caser` | 122 |"]
    # a row from before the report had its last two columns gets '-' in them
    assert embedding_probe.kept_rows(report, ["steam-llara-morec"], 4) == ["| `lastfm-llara-caser` | 122 | - | - |"]
