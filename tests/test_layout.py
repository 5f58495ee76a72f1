"""dvc.yaml's templated paths and recsys/layout.py name the same places, so a layout change is made once."""

from __future__ import annotations

import re

import yaml

from helpers import REPO
from recsys import layout


def rendered_stages(dataset: str = "books", llm: str = "tiny-llm", sr: str = "caser") -> dict:
    values = {"data.dataset": dataset, "llm.name": llm, "sr.model": sr, "eval.split": "test"}
    text = re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], (REPO / "dvc.yaml").read_text())
    return yaml.safe_load(text)["stages"]


def paths(entries: list) -> set[str]:
    return {next(iter(e)) if isinstance(e, dict) else e for e in entries}


def test_every_stage_output_is_where_layout_puts_it():
    stages = rendered_stages()
    assert paths(stages["prepare"]["outs"]) == {str(layout.prepared("books"))}
    assert paths(stages["fetch-model"]["outs"]) == {str(layout.base_model("tiny-llm"))}
    assert paths(stages["materialize"]["outs"]) == {str(layout.prompts("books", "tiny-llm"))}
    for stage, folder in (("pretrain", layout.sr_model("books", "caser")), ("finetune", layout.llara("books", "caser")),
                          ("evaluate", layout.metrics("books", "caser")),
                          ("zero-shot", layout.metrics("books", layout.ZERO_SHOT))):
        outputs = paths(stages[stage]["outs"]) | paths(stages[stage].get("metrics", []))
        assert outputs and {str(type(folder)(o).parent) for o in outputs} == {str(folder)}


def test_every_stage_reads_its_inputs_from_layout_places():
    stages = rendered_stages()
    data_deps = {s: {d for d in paths(stages[s]["deps"]) if not d.startswith(("recsys", "stages"))} for s in stages}
    assert data_deps["pretrain"] == {str(layout.prepared("books")), str(layout.sr_inputs("caser"))}
    sr = layout.sr_model("books", "caser")
    assert data_deps["materialize"] == {str(layout.prepared("books")), str(layout.base_model("tiny-llm")),
                                        *(str(sr / f) for f in ("model.safetensors", "model_args.json"))}
    assert data_deps["finetune"] == {str(layout.prompts("books", "tiny-llm")), str(layout.base_model("tiny-llm")),
                                     str(layout.prepared("books") / "items.parquet"),
                                     *(str(sr / f) for f in ("item_embeddings.safetensors", "model.safetensors",
                                                              "model_args.json"))}
    llara = layout.llara("books", "caser")
    evaluated = {str(layout.prompts("books", "tiny-llm")), str(layout.base_model("tiny-llm")),
                 str(layout.prepared("books")),
                 *(str(sr / f) for f in ("item_embeddings.safetensors", "scores_test.parquet", "metrics.json"))}
    assert data_deps["evaluate"] == evaluated | {str(llara / f) for f in ("adapter", "projector.safetensors",
                                                                          "finetune.json")} | {
        str(sr / f) for f in ("model.safetensors", "model_args.json")}  # the user token's SR states
    assert data_deps["zero-shot"] == evaluated


def test_no_stage_has_an_uncached_entry_under_outs_so_the_run_cache_can_restore_every_stage():
    """DVC never saves a stage with a `cache: false` entry under `outs:` to its run cache (uncached metrics and
    plots are fine), so such a stage re-runs in every experiment that changes anything upstream. The one exception
    is `inputs`, which only writes links to files outside the repository (cached, the GGUF would be copied whole)
    and re-runs in under a second."""
    for name, stage in rendered_stages().items():
        if name == "inputs":
            assert all(next(iter(e.values())).get("cache") is False for e in stage["outs"])
            continue
        uncached = [e for e in stage["outs"] if isinstance(e, dict) and next(iter(e.values())).get("cache") is False]
        assert not uncached, f"{name}: {uncached}"
