"""bench/experiments.py: cells map to the right overrides and results render into the three tables."""

from __future__ import annotations

import subprocess

import pytest

from bench import cells, experiments, tables
from helpers import REPO


def fake(cell: str, hr1: float, hits: list[int], popularity: list[int], dataset: str = "movielens") -> dict:
    """A record of `cell` on `dataset` under today's settings."""
    rate = {"rank.hr@1": hr1, "rank.hr@1.ci_low": hr1 - 0.1, "rank.hr@1.ci_high": hr1 + 0.1,
            "generate.hr@1": 0.25, "generate.hr@1.ci_low": 0.2, "generate.hr@1.ci_high": 0.3}
    sr = {"sr.test.hr@1": 0.5, "sr.test.hr@1.ci_low": 0.4, "sr.test.hr@1.ci_high": 0.6,
          "sr.popularity.test.hr@1": 0.2, "sr.popularity.test.hr@1.ci_low": 0.1, "sr.popularity.test.hr@1.ci_high": 0.3}
    # scored by the mean: the summed ranking's HR@1 is under score_sum
    score = {"score.hr@1": 0.9, "score_sum.hr@1": 0.15, "score_sum.hr@1.ci_low": 0.1, "score_sum.hr@1.ci_high": 0.2}
    return {"dataset": dataset, "cell": cell, "wall_seconds": 1800, "machine": "x86_64, 2 CPUs, Linux",
            "settings": cells.settings(dataset, cell),
            "metrics": {"generate.valid_ratio": 0.9, **rate, **sr, **score},
            "hits": {"rank": hits, "generate": hits, "sr": [1] * len(hits), "popularity": popularity}}


def test_every_table_cell_is_a_known_experiment_with_its_overrides():
    assert {cell for table in cells.TABLES.values() for cell in table} <= set(cells.CELLS)
    assert cells.CELLS["id-only"] == ["train.schedule=direct", "train.hard_variant=id"]
    assert "train.listwise_weight=0" in cells.CELLS["paper-faithful"]
    # a cell's backbone is its sr.model override, else the default params' (sasrec)
    assert [cells.backbone(cell) for cell in ("llara-caser", "baselines", "id-only", "llara-sasrec")] == [
        "caser", "morec", "sasrec", "sasrec"]


def test_a_cell_without_the_user_token_leaves_out_the_item_scores_that_need_it():
    assert cells.CELLS["no-user-token"] == ["prompts.user_token=false", "train.item_scores=false", "train.sr_prior=false"]
    assert cells.CELLS["no-item-scores"] == ["train.item_scores=false"]
    for cell, overrides in cells.CELLS.items():
        if "prompts.user_token=false" in overrides:
            assert {"train.item_scores=false", "train.sr_prior=false"} <= set(overrides), cell
    levers = cells.TABLES["levers"]
    assert levers[levers.index("no-user-token") + 1] == "no-item-scores"
    assert set(cells.LABELS) == set(cells.CELLS) - set(cells.NO_LANGUAGE_MODEL)  # every row has its label


def test_tables_render_recorded_cells_with_intervals_paper_figures_and_paired_p_values():
    # 20 users: LLaRA hits users 0-9, popularity users 0-1 and 10-11; text-only users 0-3
    llara = [1] * 10 + [0] * 10
    popularity = [1, 1] + [0] * 8 + [1, 1] + [0] * 8
    text = [1] * 4 + [0] * 16
    results = {"movielens-llara-sasrec": fake("llara-sasrec", 0.5, llara, popularity),
               "movielens-text-only": fake("text-only", 0.2, text, popularity),
               "movielens-direct": fake("direct", 0.1, text, popularity),
               "movielens-llara-morec": {**fake("llara-morec", 0.2, text, popularity), "wall_seconds": 4},
               "movielens-llara-llara-sasrec": fake("llara-sasrec", 0.5, llara, popularity, "movielens-llara")}
    # the paper's recipe has no read-out: its generation hits (users 0-1) are compared with text-only's generation
    # hits (users 0-1: p = 1), not with its rank hits (users 0-3: p = 0.5)
    results["movielens-text-only"]["hits"]["generate"] = [1, 1] + [0] * 18
    paper = fake("paper-faithful", 0.0, [1, 1] + [0] * 18, popularity)
    paper["metrics"] = {k: v for k, v in paper["metrics"].items() if not k.startswith("rank.")}
    results["movielens-paper-faithful"] = paper
    archived = {"lastfm-text-only": {**fake("text-only", 0.2, text, popularity, "lastfm"), "wall_seconds": 1440}}
    rendered = tables.render(results, archived)
    rq1 = rendered.split("## RQ1")[1].split("##")[0]
    authors_split = rendered.split("## RQ1: LLaRA against its peers: movielens-llara")[1].split("##")[0]
    assert "| 0.9684 / 0.4421 | `movielens-llara-llara-sasrec` (30 min) |" in authors_split  # the paper's MovieLens figures
    assert "| popularity | 1.0000 | 0.2000 [0.100, 0.300] |" in rq1
    assert "| sasrec | 1.0000 | 0.5000 [0.400, 0.600] | - | - |" in rq1 and "| 1.0000 / 0.3444 |" in rq1
    # McNemar by hand: vs popularity 8 users only LLaRA, 2 only popularity -> 2 * (1 + 10 + 45) / 2**10;
    # vs SASRec (hits every user) 10 discordant, all SASRec's -> 2 / 2**10; vs text-only 6, all LLaRA's -> 2 / 2**6
    assert (f"| {2 * 56 / 1024:.3g} | {2 / 1024:.3g} (0 / 10) | {2 / 64:.3g} | 0.9684 / 0.4421 "
            "| `movielens-llara-sasrec` (30 min) |") in rq1
    # the claims RQ1 was built for that are recorded here: llara-sasrec > sasrec (p = 2 / 2**10), > text-only
    # (2 / 2**6) and llara-morec > morec (text's hits against SASRec's all-ones: 16 discordant, p = 2 / 2**16); Holm:
    # x3, x2, x1 in order of p
    assert "Holm-corrected over the 3 recorded under today's settings" in rq1
    assert f"| llara-sasrec > sasrec | rank | 0.500 vs 1.000 | 20 | 0 / 10 | {2 / 1024:.3g} | {2 * 2 / 1024:.3g} | refuted |" in rq1
    assert f"| llara-morec > morec | rank | 0.200 vs 1.000 | 20 | 0 / 16 | {2 / 2**16:.3g} | {3 * 2 / 2**16:.3g} | refuted |" in rq1
    assert f"| llara-sasrec > text-only | rank | 0.500 vs 0.200 | 20 | 6 / 0 | {2 / 64:.3g} | {2 / 64:.3g} | reproduced |" in rq1
    assert ("| LLaRA (SASRec), hybrid, curriculum | 0.9000 | 0.5000 [0.400, 0.600] | 0.2500 [0.200, 0.300] "
            "| 0.1500 [0.100, 0.200] |") in rq1
    rq3 = rendered.split("## RQ3")[1]
    assert "| direct (hybrid from step 0) | 0.9000 | 0.1000 [0.000, 0.200] |" in rq3 and "| 0.4211 |" in rq3
    assert ("Not run yet: id-only, behaviour-only, user-token-only, no-user-token (`python bench/experiments.py run "
            "--dataset movielens --cells id-only behaviour-only user-token-only no-user-token`).") in rendered
    assert "## RQ1: LLaRA against its peers: movielens" in rendered and "peers: lastfm" not in rendered  # no empty tables
    earlier = rendered.split("## The earlier regime")[1]
    assert ("| lastfm | text only (TALLRec-like: same LM, text prompts) | 0.9000 | 0.2500 [0.200, 0.300] "
            "| 0.1500 [0.100, 0.200] | `lastfm-text-only` (24 min) |") in earlier
    assert "GPT-4 (not run here: no network)" in rq1
    # vs popularity: 2 discordant users, both popularity's -> p = 2 / 2**2 = 0.5
    assert ("| LLaRA (SASRec), the paper's recipe (title answer, answer loss, no teacher) | 0.9000 | - | 0.2500 "
            f"[0.200, 0.300] | 0.1500 [0.100, 0.200] | 0.5 | {2 / 2**18:.3g} (0 / 18) | 1 | - | `movielens-paper-faithful` (30 min) |") in rq1
    assert "| morec | 1.0000 | 0.5000 [0.400, 0.600] | - | - |" in rq1 and "| 1.0000 / 0.2822 |" in rq1  # MoRec's SR row
    assert "| LLaRA (MoRec: SASRec over MiniLM title features) | 0.9000 | 0.2000 [0.100, 0.300] |" in rq1
    assert "`movielens-llara-morec` (restored from the run cache of the workspace's dvc repro) |" in rq1


def test_a_cell_recorded_under_other_settings_is_marked_left_out_of_the_claims_and_run_again():
    llara, text = fake("llara-sasrec", 0.5, [1] * 10 + [0] * 10, [0] * 20), fake("text-only", 0.2, [0] * 20, [0] * 20)
    direct = {**fake("direct", 0.1, [0] * 20, [0] * 20), "settings": "an-earlier-one"}
    assert cells.current(llara) and not cells.current(direct)
    assert cells.settings("movielens", "direct") != cells.settings("movielens", "two-stage")
    results = {"movielens-llara-sasrec": llara, "movielens-text-only": text, "movielens-direct": direct}
    rendered = tables.render(results)
    rq3 = rendered.split("## RQ3")[1].split("##")[0]
    assert "| `movielens-direct` † (30 min) |" in rq3
    assert f"| llara-sasrec > direct | rank | 0.500 vs 0.000 | 20 | 10 / 0 | {2 / 1024:.3g} | - | earlier settings †: rerun |" in rq3
    assert "† Recorded under other settings than today's params.yaml (earlier defaults): direct" in rq3
    rq2 = rendered.split("## RQ2")[1].split("##")[0]  # today's: 10 discordant users, all LLaRA's
    assert f"| llara-sasrec > text-only | rank | 0.500 vs 0.000 | 20 | 10 / 0 | {2 / 1024:.3g} | {2 / 1024:.3g} | reproduced |" in rq2


def test_the_baselines_cell_gives_rq1_its_zero_shot_and_morec_rows_without_a_language_model_row():
    # 10 users: MoRec hits users 0-5, popularity users 0-1: 4 discordant, all MoRec's -> p = 2 / 2**4
    popularity = [1, 1] + [0] * 8
    baselines = fake("baselines", 0.05, [0] * 10, popularity, "lastfm")
    baselines["hits"]["sr"] = [1] * 6 + [0] * 4
    baselines["zero_shot"] = {**baselines["metrics"], "generate.valid_ratio": 0.25, "paired.rank_vs_popularity.p": 0.5}
    assert experiments.run_command("lastfm", "baselines", force=False)[-3:] == ["-S", "sr.model=morec",
                                                                              "evaluate@zero-shot"]
    rq1 = tables.render({"lastfm-baselines": baselines}).split("## RQ1: LLaRA against its peers: lastfm")[1].split("\n## ")[0]
    rows = [line for line in rq1.splitlines() if line.startswith("| ")][2:]  # past the header and its rule
    assert [row.split(" | ")[0] for row in rows] == ["| popularity", "| zero-shot base model (text prompts)",
                                                     "| GPT-4 (not run here: no network)", "| morec"]
    assert rows[1].startswith("| zero-shot base model (text prompts) | 0.2500 | 0.0500 [-0.050, 0.150] |")
    assert rows[1].endswith("| 0.5 | - | - | 0.3443 / 0.0246 | `lastfm-baselines` |")
    assert rows[3] == f"| morec | 1.0000 | 0.5000 [0.400, 0.600] | - | - | {2 / 16:.3g} | - | - | 1.0000 / 0.1652 | `lastfm-baselines` |"


def test_a_cells_own_override_replaces_its_data_sets_and_the_rest_are_kept():
    base = ["dvc", "exp", "run", "--temp"]
    assert experiments.run_command("steam", "text-only", force=False) == base + [
        "-n", "steam-text-only", "-S", "data.dataset=steam", "-S", "eval.modes=[rank,generate]",
        "-S", "train.eval_points=0", "-S", "train.schedule=text-only", "evaluate@llara"]
    # the paper's recipe has no read-out: on Steam it generates only, elsewhere it generates and scores
    paper = experiments.run_command("steam", "paper-faithful", force=True)
    assert [arg for arg in paper if arg.startswith("eval.modes=")] == ["eval.modes=[generate]"]
    assert paper[-2] == "--force"
    assert "eval.modes=[generate,score]" in experiments.run_command("lastfm", "paper-faithful", force=False)
    assert not any(arg.startswith("eval.") for arg in experiments.run_command("lastfm", "text-only", force=False))


def test_only_the_default_cell_and_baselines_run_the_zero_shot_stage_the_others_stop_at_evaluate():
    """The zero-shot row is the same in every cell, so one cell per data set pays for it."""
    assert experiments.run_command("steam", "llara-gru4rec", force=False)[-3:] == ["-S", "sr.model=gru4rec",
                                                                                 "evaluate@llara"]
    assert experiments.run_command("steam", "text-only", force=True)[-2:] == ["--force", "evaluate@llara"]
    assert experiments.run_command("steam", "llara-sasrec", force=False)[-1] == "train.eval_points=0"
    assert experiments.run_command("lastfm", "baselines", force=False)[-1] == "evaluate@zero-shot"


def test_every_param_and_every_cell_override_is_a_key_of_params_yaml():
    """`dvc exp run -S key=value` can only set a key params.yaml already has."""
    import dataclasses

    import yaml

    from stages.common import SECTIONS

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for name, cls in SECTIONS.items():
        assert {f.name for f in dataclasses.fields(cls)} == set(params[name]), name
    for overrides in [*cells.CELLS.values(), *cells.DATASET_OVERRIDES.values(), *cells.CELL_OVERRIDES.values()]:
        for override in overrides:
            section, key = override.split("=")[0].split(".")
            assert key in params[section], override


def test_the_baselines_cell_is_not_missing_once_other_cells_hold_its_zero_shot_and_morec_rows():
    popularity = [1, 1] + [0] * 8
    sasrec = fake("llara-sasrec", 0.5, [1] * 5 + [0] * 5, popularity, "lastfm")
    morec = fake("llara-morec", 0.3, [1] * 3 + [0] * 7, popularity, "lastfm")
    with_morec = {"lastfm-llara-sasrec": sasrec, "lastfm-llara-morec": morec}
    # without a zero-shot row the baselines cell still has one to give
    assert "Not run yet: paper-faithful, llara-gru4rec, llara-caser, text-only, baselines (" in tables.render(with_morec)
    sasrec["zero_shot"] = {**sasrec["metrics"], "generate.valid_ratio": 0.25}
    assert tables.rows_recorded_elsewhere("lastfm", "baselines", with_morec)
    assert not tables.rows_recorded_elsewhere("lastfm", "baselines", {"lastfm-llara-sasrec": sasrec})
    assert not tables.rows_recorded_elsewhere("lastfm", "llara-caser", with_morec)
    rq1 = tables.render(with_morec).split("## RQ1: LLaRA against its peers: lastfm")[1].split("##")[0]
    assert "Not run yet: paper-faithful, llara-gru4rec, llara-caser, text-only (`python" in rq1


def test_a_large_data_sets_rq1_asks_one_more_backbone_and_shows_the_others_when_recorded():
    popularity = [1, 1] + [0] * 8
    sasrec = fake("llara-sasrec", 0.5, [1] * 5 + [0] * 5, popularity, "movielens-loo")
    sasrec["zero_shot"] = {**sasrec["metrics"], "generate.valid_ratio": 0.25}
    assert cells.asked("rq1", "movielens-loo") == ["llara-sasrec", "paper-faithful", "llara-gru4rec", "text-only",
                                                   "baselines", "baselines-caser"]
    assert cells.asked("rq1", "movielens") == [cell for cell in cells.TABLES["rq1"] if cell != "baselines-caser"]
    rq1 = tables.render({"movielens-loo-llara-sasrec": sasrec}).split("## RQ1: LLaRA against its peers: movielens-loo")[1]
    assert "Not run yet: paper-faithful, llara-gru4rec, text-only, baselines, baselines-caser (`python" in rq1
    # Caser's SR row comes from its baselines cell, which stops before fine-tuning
    assert experiments.run_command("movielens-loo", "baselines-caser", force=False)[-3:] == [
        "-S", "sr.model=caser", "evaluate@zero-shot"]
    # a LLaRA row it does not ask for is shown once recorded, with its claim, and then gives Caser's SR row
    caser = fake("llara-caser", 0.3, [1] * 3 + [0] * 7, popularity, "movielens-loo")
    recorded = {"movielens-loo-llara-sasrec": sasrec, "movielens-loo-llara-caser": caser}
    rq1 = tables.render(recorded).split("## RQ1: LLaRA against its peers: movielens-loo")[1].split("\n## ")[0]
    assert "| LLaRA (Caser) | 0.9000 | 0.3000 [0.200, 0.400] |" in rq1 and "| llara-caser > caser | rank |" in rq1
    assert "Not run yet: paper-faithful, llara-gru4rec, text-only, baselines (`python" in rq1
    # recorded under earlier defaults, it is shown but neither judged nor asked to run again
    recorded["movielens-loo-llara-caser"] = {**caser, "settings": "an-earlier-one"}
    rq1 = tables.render(recorded).split("## RQ1: LLaRA against its peers: movielens-loo")[1].split("\n## ")[0]
    assert "| `movielens-loo-llara-caser` † (30 min) |" in rq1 and "llara-caser > caser" not in rq1
    assert ("† Kept as recorded under earlier defaults, not asked for on movielens-loo and so left out of the claims: "
            "llara-caser.") in rq1 and "Recorded under other settings" not in rq1


def test_a_record_joins_the_file_as_it_is_when_the_cell_ends(tmp_path, monkeypatch):
    results = tmp_path / "experiments.json"
    monkeypatch.setattr(experiments, "RESULTS", results)
    results.write_text('{"lastfm-text-only": {"cell": "text-only"}}')  # written while the cell ran
    experiments.record({"dataset": "steam", "cell": "direct", "wall_seconds": 60})
    assert set(experiments.load_results()) == {"lastfm-text-only", "steam-direct"}


def test_the_machines_line_names_the_few_cells_a_machine_ran_and_counts_the_many():
    results = {f"movielens-{cell}": fake(cell, 0.5, [1], [0]) for cell in ("direct", "two-stage", "text-only", "id-only")}
    results["steam-llara-morec"] = {**fake("llara-morec", 0.5, [1], [0], "steam"), "machine": "AMD EPYC, 2 CPUs, Linux, fp32"}
    assert tables.machines(results) == ("x86_64, 2 CPUs, Linux (4 cells); "
                                             "AMD EPYC, 2 CPUs, Linux, fp32 (`steam-llara-morec`)")


def test_the_script_runs_from_any_directory_with_every_cell_as_a_choice(tmp_path):
    import subprocess
    import sys

    shown = subprocess.run([sys.executable, str(REPO / "bench" / "experiments.py"), "run", "--help"], cwd=tmp_path,
                           capture_output=True, text=True, check=True).stdout
    assert "no-item-scores" in shown and "no-user-token" in shown and "movielens-llara" in shown


def test_cells_refuse_to_run_on_a_detached_head(tmp_path):
    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    git("init", "-q", "-b", "main")
    git("commit", "-q", "--allow-empty", "-m", "first")
    experiments.require_branch(tmp_path)  # on a branch: runs
    git("checkout", "-q", "--detach")
    with pytest.raises(SystemExit, match="HEAD is detached"):
        experiments.require_branch(tmp_path)
