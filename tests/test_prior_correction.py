"""bench/prior_correction.py: the SR scores are matched to the prompt's candidates by item id, not by position, and the
departures from the SR model's first choice are counted by its margin."""

from __future__ import annotations

import numpy as np
import pytest

from bench import prior_correction


def test_sr_scores_follow_the_prompt_order():
    shown = [[7, 3, 5], [1, 2, 9]]
    listed = [[3, 5, 7], [9, 1, 2]]  # scores_test.parquet lists the drawn order, the prompt the SR model's
    scores = [[0.3, 0.5, 0.7], [0.9, 0.1, 0.2]]
    np.testing.assert_array_equal(prior_correction.aligned_sr_scores(shown, listed, scores),
                                  [[0.7, 0.3, 0.5], [0.1, 0.2, 0.9]])


def test_departures_are_counted_won_and_lost_by_the_sr_models_margin():
    # 4 users, 3 candidates; SR margins 0.1, 0.2, 2.0, 3.0 -> two bins of two users
    prior = np.array([[1.0, 0.9, 0.0], [1.0, 0.8, 0.0], [3.0, 1.0, 0.0], [3.0, 0.0, 0.0]])
    ranked = np.array([[0.0, 2.0, 0.0],    # departs to 1, the target: won
                       [0.0, 0.0, 2.0],    # departs to 2, the SR model's 0 was the target: lost
                       [3.0, 1.0, 0.0],    # stays with 0, a hit for both
                       [0.0, 0.0, 4.0]])   # departs to 2, neither hits
    target = np.array([1, 0, 0, 1])
    assert prior_correction.departures_by_margin(prior, ranked, target, bins=2) == [
        "| 0.10 to 1.10 | 2 | 0.500 | 0.500 | 2 | 1 / 1 |",
        "| 1.10 to 3.00 | 2 | 0.500 | 0.500 | 1 | 0 / 0 |"]


def test_a_workspace_without_the_runs_outputs_is_named_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(prior_correction, "ROOT", tmp_path)
    with pytest.raises(SystemExit, match=r"^metrics/lastfm/gru4rec/predictions.parquet: not in this workspace"):
        prior_correction.sources("lastfm", "gru4rec", None)
