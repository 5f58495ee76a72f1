"""`recsys evaluate`: the fine-tuned model on the stored candidates -> metrics/<dataset>/<sr-model>/."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Optional

import typer
from rich import print as rprint

from recsys import layout
from recsys.config import EvalParams, dataset_spec, describe
from recsys.errors import InputError
from stages.common import ParamsOption, SetOption, help_with_params, read_sections, reports_bad_input

HELP = help_with_params(
    "Evaluate the fine-tuned LLaRA on the stored candidates: one-pass ranking by index letters and candidate "
    "scoring (HR@1/3/5, NDCG@3/5), generation (ValidRatio, HitRatio@1), each with 95% intervals, next to the SR "
    "model and popularity with paired McNemar tests on the same examples.",
    describe(EvalParams, "eval"),
    "data.dataset, llm.name, sr.model: choose the inputs (see the other stages' --help)",
)


@reports_bad_input
def command(
    params_file: Path = ParamsOption,
    overrides: list[str] = SetOption,
    model: Optional[Path] = typer.Option(None, help="fine-tuned model [default: models/llara/<dataset>/<sr-model>]"),
    zero_shot: bool = typer.Option(False, "--zero-shot", help="evaluate the base model itself: no adapter, no "
                                   "projector, text prompts [output default: metrics/<dataset>/zero-shot]"),
    out: Optional[Path] = typer.Option(None, help="output directory [default: metrics/<dataset>/<sr-model>]"),
) -> None:
    from recsys.distributed import init_ranks
    from recsys.eval.evaluate import evaluate
    from recsys.io import atomic_dir

    data, llm, sr, evaluation, params = read_sections(params_file, overrides, "data", "llm", "sr", "eval")
    dataset_spec(params, data, str(params_file))  # an unknown data.dataset is named, not a missing prompts folder
    if zero_shot and model is not None:
        raise InputError("--zero-shot", "evaluates the base model, so it takes no --model")
    out = out or layout.metrics(data.dataset, layout.ZERO_SHOT if zero_shot else sr.model)
    ranks = init_ranks()  # under torchrun each process scores its share; the main one writes `out`
    with atomic_dir(out) if ranks.main else nullcontext(out) as tmp:
        metrics = evaluate(
            model_dir=None if zero_shot else model or layout.llara(data.dataset, sr.model),
            prompts=layout.prompts(data.dataset, llm.name),
            prepared=layout.prepared(data.dataset),
            sr_model=layout.sr_model(data.dataset, sr.model),
            params=evaluation, out=tmp, ranks=ranks, llm_dtype=llm.dtype, base=layout.base_model(llm.name),
        )
    if not ranks.main:
        return
    shown = {k: round(v, 4) for k, v in metrics.items() if k.endswith("hr@1") or k.endswith("valid_ratio")}
    rprint(f"[green]evaluated[/green] {metrics['n']} {evaluation.split} examples -> {out}: {shown}")
