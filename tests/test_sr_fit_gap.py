"""bench/sr_fit_gap.py: the first candidate of an SR-ordered prompt is the SR model's own first choice."""

from __future__ import annotations

import json

import pytest

from bench import sr_fit_gap


def test_first_candidates_hit_as_often_as_the_sr_model_does_on_each_held_out_split(workspace):
    metrics = json.loads((workspace / "sr" / "metrics.json").read_text())  # toy data: val 0.3, test 0.2
    for split in ("val", "test"):
        hits = sr_fit_gap.first_choice_hits(workspace / "prompts", split)
        assert len(hits) == 10  # one prompt per toy user
        assert hits.mean() == pytest.approx(metrics[f"{split}.hr@1"])
