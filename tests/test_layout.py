"""dvc.yaml's templated paths and recsys/layout.py name the same places, so a layout change is made once."""

from __future__ import annotations

from helpers import dvc_stages
from recsys import layout


def rendered_stages() -> dict:
    return dvc_stages({"data.dataset": "books", "llm.name": "tiny-llm", "sr.model": "caser", "eval.split": "test"})


def paths(entries: list) -> set[str]:
    return {next(iter(e)) if isinstance(e, dict) else e for e in entries}


def test_every_stage_output_is_where_layout_puts_it():
    stages = rendered_stages()
    assert paths(stages["prepare"]["outs"]) == {str(layout.prepared("books"))}
    assert paths(stages["fetch-model"]["outs"]) == {str(layout.base_model("tiny-llm"))}
    assert paths(stages["materialize"]["outs"]) == {str(layout.prompts("books", "tiny-llm"))}
    for stage, folder in (("pretrain", layout.sr_model("books", "caser")), ("finetune", layout.llara("books", "caser")),
                          ("evaluate@llara", layout.metrics("books", "caser")),
                          ("evaluate@zero-shot", layout.metrics("books", layout.ZERO_SHOT))):
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
    evaluated = {str(layout.prompts("books", "tiny-llm")), str(layout.base_model("tiny-llm")),
                 str(layout.prepared("books")),
                 *(str(sr / f) for f in ("item_embeddings.safetensors", "scores_test.parquet", "metrics.json",
                                         "model.safetensors", "model_args.json"))}  # the last two: the user token
    assert data_deps["evaluate@llara"] == evaluated | {str(layout.llara("books", "caser"))}
    assert data_deps["evaluate@zero-shot"] == evaluated


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
