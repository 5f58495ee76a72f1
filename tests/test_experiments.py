"""bench/experiments.py: cells map to the right overrides and results render into the three tables."""

from __future__ import annotations

import importlib.util

from helpers import REPO

spec = importlib.util.spec_from_file_location("experiments", REPO / "bench" / "experiments.py")
experiments = importlib.util.module_from_spec(spec)
spec.loader.exec_module(experiments)


def fake(cell: str, hr1: float) -> dict:
    rate = {"generate.hr@1": hr1, "generate.hr@1.ci_low": hr1 - 0.1, "generate.hr@1.ci_high": hr1 + 0.1,
            "score.hr@1": 0.25, "score.hr@1.ci_low": 0.2, "score.hr@1.ci_high": 0.3}
    sr = {"sr.test.hr@1": 0.5, "sr.test.hr@1.ci_low": 0.4, "sr.test.hr@1.ci_high": 0.6,
          "sr.popularity.test.hr@1": 0.2, "sr.popularity.test.hr@1.ci_low": 0.1, "sr.popularity.test.hr@1.ci_high": 0.3}
    return {"dataset": "movielens", "cell": cell, "wall_seconds": 1800, "machine": "x86_64, 2 CPUs, Linux",
            "metrics": {"generate.valid_ratio": 0.9, **rate, **sr}}


def test_every_table_cell_is_a_known_experiment_with_its_overrides():
    assert {cell for cells in experiments.TABLES.values() for cell in cells} <= set(experiments.CELLS)
    assert experiments.CELLS["id-only"] == ("sasrec", ["train.schedule=direct", "train.hard_variant=id"])
    assert experiments.CELLS["llara-caser"][0] == "caser"


def test_tables_render_recorded_cells_with_intervals_and_paper_figures():
    results = {"movielens-llara-sasrec": fake("llara-sasrec", 0.3), "movielens-direct": fake("direct", 0.1)}
    text = experiments.render(results)
    rq1 = text.split("## RQ1")[1].split("##")[0]
    assert "| popularity | 1.0000 | 0.2000 [0.100, 0.300] |" in rq1
    assert "| sasrec | 1.0000 | 0.5000 [0.400, 0.600] | - | 1.0000 / 0.3444 |" in rq1
    assert ("| LLaRA (SASRec), hybrid, curriculum | 0.9000 | 0.3000 [0.200, 0.400] | 0.2500 [0.200, 0.300] "
            "| 0.9684 / 0.4421 | `movielens-llara-sasrec` (30 min) |") in rq1
    rq3 = text.split("## RQ3")[1]
    assert "| direct (hybrid from step 0) | 0.9000 | 0.1000 [0.000, 0.200] |" in rq3 and "| 0.4211 |" in rq3
    assert "Not run yet: id-only, text-only, behaviour-only (`python bench/experiments.py run --dataset movielens --cells id-only text-only behaviour-only`)." in text
    assert "## RQ1: LLaRA against its peers: movielens" in text and "lastfm" not in text  # no empty tables


def test_every_param_and_every_cell_override_is_a_key_of_params_yaml():
    """`dvc exp run -S key=value` can only set a key params.yaml already has."""
    import dataclasses

    import yaml

    from stages.common import SECTIONS

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for name, cls in SECTIONS.items():
        assert {f.name for f in dataclasses.fields(cls)} == set(params[name]), name
    for _, overrides in experiments.CELLS.values():
        for override in overrides:
            section, key = override.split("=")[0].split(".")
            assert key in params[section], override
