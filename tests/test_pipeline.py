"""The whole DVC chain, run by `dvc repro` on a tiny profile: toy data, tiny Llama, a few steps."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import REPO, run_tool as run
from recsys import layout
from tiny_llm import tiny_llama_folder


def tiny_params(root: Path) -> dict:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"].update(dataset="toy", n_candidates=5)
    params["datasets"] = {"toy": {"source": "interactions", "path": "raw", "domain": "movie", "format": {
        "interactions": "inter.csv", "items": "items.csv", "user_col": "user", "item_col": "item"}}}
    params["sr"].update(epochs=2, patience=1, hidden_size=8, batch_size=32)
    params["llm"].update(name="tiny", path=str(root / "tiny"))
    params["prompts"].update(train_examples=12, shard_rows=8)
    params["train"].update(max_steps=2, batch_size=2, grad_accum=1, checkpoint_every=1)
    params["lora"].update(r=2, alpha=4)
    params["eval"].update(max_new_tokens=4, modes=["rank", "generate", "score", "catalogue"])  # every mode
    return params


def write_toy_raw(raw: Path) -> None:
    raw.mkdir()
    rows = ["user,item,timestamp"] + [f"u{u},{(u * 7 + j * 3) % 40 + 1},{j}" for u in range(30) for j in range(8)]
    (raw / "inter.csv").write_text("\n".join(rows) + "\n")
    (raw / "items.csv").write_text("item_id,title\n" + "".join(f"{i},Film {i}\n" for i in range(1, 41)))


@pytest.mark.slow
def test_dvc_repro_runs_every_stage_on_a_tiny_profile(tmp_path):
    for name in ("recsys", "stages"):
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "dvc.yaml", tmp_path / "dvc.yaml")
    tiny_llama_folder(tmp_path / "tiny")
    write_toy_raw(tmp_path / "raw")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(tiny_params(tmp_path), sort_keys=False))
    run(["git", "init", "-q"], tmp_path)
    run(["dvc", "init", "-q"], tmp_path)
    run(["dvc", "config", "core.analytics", "false"], tmp_path)
    run(["dvc", "repro"], tmp_path)
    metrics = json.loads((tmp_path / "metrics" / "toy" / "sasrec" / "metrics.json").read_text())
    assert metrics["n"] == 3 and 0.0 <= metrics["score.hr@1"] <= 1.0 and 0.0 <= metrics["rank.hr@1"] <= 1.0
    assert "sr.test.hr@1" in metrics and "generate.valid_ratio" in metrics and "paired.rank_vs_popularity.p" in metrics
    assert "catalogue.llara.hr@10" in metrics and "paired.catalogue_vs_sr.p" in metrics
    assert (tmp_path / "inputs" / "toy" / "inter.csv").resolve() == (tmp_path / "raw" / "inter.csv").resolve()
    zero_shot = json.loads((tmp_path / "metrics" / "toy" / "zero-shot" / "metrics.json").read_text())
    assert zero_shot["n"] == 3 and zero_shot["variant"] == "text" and "rank.hr@1" in zero_shot
    hits = (tmp_path / "metrics" / "toy" / "sasrec" / "hits.csv").read_text().splitlines()
    assert hits[0] == "example_id,rank,generate,score,sr,popularity" and len(hits) == 4
    shown = run(["dvc", "metrics", "show", "--json"], tmp_path).stdout
    assert "score.hr@1" in shown and "test.hr@1" in shown
    status = run(["dvc", "status"], tmp_path).stdout
    assert "up to date" in status
    report = run(["recsys", "report", "--dataset", "toy"], tmp_path).stdout
    assert "LLaRA (sasrec), one-pass rank" in report and "zero-shot base model, generate" in report
    assert "| sasrec top 5 -> LLaRA |" in report  # the whole-catalogue table
    assert (tmp_path / "reports" / "toy-test.png").is_file()
    ranked = run(["recsys", "recommend", "--model", "models/llara/toy/sasrec", "--history", "Film 3",
                  "--history", "film 10", "--k", "4"], tmp_path).stdout
    assert "--history 'film 10' -> 'Film 10' (item 9)" in ranked and "candidates: the SR model's top 4" in ranked
    assert ranked.split("candidates:")[1].count("Film") == 4


def test_a_failed_dvc_repro_of_finetune_keeps_the_previous_model(workspace, tmp_path):
    """DVC deletes a stage's outputs before running it unless they persist: finetune's do, so a rerun that fails
    (here on a refused param, as a NaN loss or Ctrl-C would) leaves the model of the last good run in place."""
    from helpers import link_project

    for name in ("recsys", "stages"):
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"finetune": stages["finetune"]}}, sort_keys=False))
    params = link_project(workspace, tmp_path)
    for link in [p for p in tmp_path.rglob("*") if p.is_symlink()]:  # DVC hashes plain files
        target = link.resolve()
        link.unlink()
        shutil.copytree(target, link)
    manifest = layout.prompts("toy", "tiny", tmp_path) / "manifest.json"  # ordered by this project's SR model now
    manifest.write_text(manifest.read_text().replace(str(workspace / "sr"), str(layout.sr_model("toy", "sasrec"))))
    for command in (["git", "init", "-q"], ["dvc", "init", "-q"], ["dvc", "config", "core.analytics", "false"],
                    ["dvc", "repro", "finetune"]):
        run(command, tmp_path)
    model = tmp_path / "models" / "llara" / "toy" / "sasrec"
    before = {p.relative_to(model): p.read_bytes() for p in model.rglob("*") if p.is_file()}
    assert {Path("finetune.json"), Path("projector.safetensors"), Path("train_log.csv")} <= set(before)
    params.write_text(params.read_text().replace("batch_size: 2", "batch_size: 0"))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    failed = subprocess.run(["dvc", "repro", "finetune"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert failed.returncode != 0
    output = failed.stdout + failed.stderr
    assert "error: params.yaml: train.batch_size: expected an integer >= 1, got 0" in output
    assert "Traceback" not in output
    assert {p.relative_to(model): p.read_bytes() for p in model.rglob("*") if p.is_file()} == before
