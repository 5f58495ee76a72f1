"""`recsys finetune`: curriculum LoRA + projector tuning -> models/llara/<dataset>/<sr-model>/."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Optional

import typer
from rich import print as rprint

from recsys import layout
from recsys.config import LoraParams, TrainParams, dataset_spec, describe
from stages.common import ParamsOption, SetOption, help_with_params, read_sections, reports_bad_input

HELP = help_with_params(
    "Tune LoRA adapters and the behavioural projector on the materialised prompts, drawing the "
    "hard task (train.hard_variant) with the schedule's probability at every step. Resumes from the last checkpoint "
    "of the same params in checkpoints/finetune/<dataset>/<sr-model>/<fingerprint>/. Runs unchanged under "
    "`torchrun --nproc_per_node=N -m stages.cli finetune` (gloo on CPU, NCCL on GPUs).",
    describe(TrainParams, "train"),
    describe(LoraParams, "lora"),
    "data.dataset, llm.name, sr.model: choose the inputs (see the other stages' --help)",
)


@reports_bad_input
def command(
    params_file: Path = ParamsOption,
    overrides: list[str] = SetOption,
    out: Optional[Path] = typer.Option(None, help="output directory [default: models/llara/<dataset>/<sr-model>]"),
) -> None:
    from recsys.distributed import init_ranks
    from recsys.io import atomic_dir
    from recsys.llm.finetune import FinetuneInputs, finetune

    # eval too: a section evaluate would refuse stops the pipeline before training, not after it
    data, llm, sr, lora, train, _, params = read_sections(params_file, overrides, "data", "llm", "sr", "lora", "train",
                                                          "eval")
    dataset_spec(params, data, str(params_file))  # an unknown data.dataset is named, not a missing prompts folder
    out = out or layout.llara(data.dataset, sr.model)
    ranks = init_ranks()  # one process, or one of torchrun's; only the main one writes `out`
    with atomic_dir(out) if ranks.main else nullcontext(out) as tmp:
        inputs = FinetuneInputs(prompts=layout.prompts(data.dataset, llm.name), base=layout.base_model(llm.name),
                                sr_model=layout.sr_model(data.dataset, sr.model),
                                items=layout.prepared(data.dataset) / "items.parquet")
        summary = finetune(inputs, lora, train, tmp, layout.checkpoints(data.dataset, sr.model), ranks=ranks,
                           llm_dtype=llm.dtype)
    if ranks.main:
        start, steps = summary["resumed_at"], summary["steps"]
        val = f", val HR@1 {summary['val_hr@1']:.3f}" if summary["val_hr@1"] is not None else ""
        if start == steps:
            rprint(f"[green]already trained[/green] (checkpoint at step {start} of {steps}) -> {out}: final loss "
                   f"{summary['final_loss']:.3f}{val}")
            return
        resumed = f"resumed at step {start}, " if start else ""
        rprint(f"[green]fine-tuned[/green] -> {out}: {steps} steps ({resumed}final loss "
               f"{summary['final_loss']:.3f}{val}), {summary['tokens_per_s']:.0f} tokens/s on {ranks.world} process(es)")
