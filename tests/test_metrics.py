from __future__ import annotations

import math

import numpy as np
import pytest

from recsys.metrics import (
    hit_at_k,
    mean_interval,
    ndcg_at_k,
    ranking_report,
    target_rank,
    wilson_interval,
)


def test_target_rank_counts_higher_scores_and_ties_against_the_target():
    scores = np.array(
        [
            [0.1, 0.5, 0.3],  # target 0.3: one higher
            [1.0, 1.0, 1.0],  # all tied: pessimistic, last
            [2.0, 1.0, 2.0],  # one tie, nothing higher
            [0.0, -1.0, 5.0],  # target on top
        ]
    )
    assert target_rank(scores, np.array([2, 0, 0, 2])).tolist() == [1, 2, 1, 0]


def test_hit_and_ndcg_from_ranks():
    ranks = np.array([0, 1, 3, 4, 5])
    assert hit_at_k(ranks, 5).tolist() == [1.0, 1.0, 1.0, 1.0, 0.0]
    assert hit_at_k(ranks, 1).tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]
    expected = [1.0, 1 / math.log2(3), 1 / math.log2(5), 1 / math.log2(6), 0.0]
    assert ndcg_at_k(ranks, 5) == pytest.approx(expected)


def test_wilson_interval_matches_textbook_values():
    assert wilson_interval(5, 10) == pytest.approx((0.236593, 0.763407), abs=1e-6)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.277533), abs=1e-6)
    assert wilson_interval(10, 10) == pytest.approx((0.722467, 1.0), abs=1e-6)


def test_mean_interval_is_normal_approximation_clipped_to_unit_range():
    half = 1.959963984540054 * 0.2 / math.sqrt(3)  # std (ddof=1) of 0.2, 0.4, 0.6 is 0.2
    assert mean_interval(np.array([0.2, 0.4, 0.6])) == pytest.approx((0.4 - half, 0.4 + half))
    assert mean_interval(np.array([0.0, 1.0])) == (0.0, 1.0)  # 0.5 +- 0.98, clipped
    assert mean_interval(np.array([0.7])) == (0.0, 1.0)  # one value: spread unknown


def test_empty_inputs_have_no_interval():
    with pytest.raises(ValueError):
        wilson_interval(0, 0)
    with pytest.raises(ValueError):
        mean_interval(np.array([]))


def test_ranking_report_is_flat_with_ci_bounds():
    report = ranking_report(np.array([0, 2, 7]), "test")
    assert set(report) == {
        "test.n",
        *(f"test.{m}{s}" for m in ("hr@1", "hr@5", "ndcg@5", "ndcg@10")
          for s in ("", ".ci_low", ".ci_high")),
    }
    assert report["test.n"] == 3
    assert report["test.hr@1"] == pytest.approx(1 / 3)
    assert (report["test.hr@1.ci_low"], report["test.hr@1.ci_high"]) == wilson_interval(1, 3)
    assert report["test.hr@5"] == pytest.approx(2 / 3)
    assert report["test.ndcg@5"] == pytest.approx((1 + 0.5) / 3)
    assert report["test.ndcg@10"] == pytest.approx((1 + 0.5 + 1 / math.log2(9)) / 3)


def test_mcnemar_is_the_exact_binomial_test_on_discordant_pairs():
    from recsys.metrics import mcnemar_p

    a = np.array([1] * 10 + [0] * 10)  # 8 users only a hits (2..9), 2 only b hits (10, 11)
    b = np.array([1, 1] + [0] * 8 + [1, 1] + [0] * 8)
    assert mcnemar_p(a, b) == mcnemar_p(b, a) == 2 * (1 + 10 + 45) / 2**10
    assert mcnemar_p(np.ones(6), np.zeros(6)) == 2 / 2**6
    assert mcnemar_p(a, a) == 1.0  # no discordant pair: no evidence either way
    assert mcnemar_p(np.array([1, 0]), np.array([0, 1])) == 1.0  # capped at 1
