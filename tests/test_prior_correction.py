"""bench/prior_correction.py: the SR scores are matched to the prompt's candidates by item id, not by position."""

from __future__ import annotations

import numpy as np

from bench import prior_correction


def test_sr_scores_follow_the_prompt_order():
    shown = [[7, 3, 5], [1, 2, 9]]
    listed = [[3, 5, 7], [9, 1, 2]]  # scores_test.parquet lists the drawn order, the prompt the SR model's
    scores = [[0.3, 0.5, 0.7], [0.9, 0.1, 0.2]]
    np.testing.assert_array_equal(prior_correction.aligned_sr_scores(shown, listed, scores),
                                  [[0.7, 0.3, 0.5], [0.1, 0.2, 0.9]])
