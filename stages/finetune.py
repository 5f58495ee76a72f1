"""`recsys finetune`: curriculum LoRA + projector tuning -> models/llara/<dataset>/<sr-model>/."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Optional

import typer
from rich import print as rprint

from recsys.config import LoraParams, TrainParams, describe
from recsys.distributed import init_ranks
from recsys.io import atomic_dir
from recsys.llm.finetune import finetune
from stages.common import ParamsOption, SetOption, help_with_params, read_sections, reports_bad_input

HELP = help_with_params(
    "Tune LoRA adapters and the behavioural projector on the materialised prompts, drawing the "
    "hard task (train.hard_variant) with the schedule's probability at every step. Resumes from the last checkpoint "
    "in checkpoints/finetune/<dataset>/<sr-model>/ when the params are unchanged. Runs unchanged under "
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
    data, llm, sr, lora, train, _ = read_sections(params_file, overrides, "data", "llm", "sr", "lora", "train")
    out = out or Path("models/llara") / data.dataset / sr.model
    ranks = init_ranks()  # one process, or one of torchrun's; only the main one writes `out`
    with atomic_dir(out) if ranks.main else nullcontext(out) as tmp:
        summary = finetune(
            prompts=Path("data/prompts") / data.dataset / llm.name,
            base=Path("models/base") / llm.name,
            item_embeddings=Path("models/sr") / data.dataset / sr.model / "item_embeddings.safetensors",
            items_parquet=Path("data/prepared") / data.dataset / "items.parquet",
            lora=lora, train=train, out=tmp,
            checkpoints=Path("checkpoints/finetune") / data.dataset / sr.model, ranks=ranks,
        )
    if ranks.main:
        rprint(f"[green]fine-tuned[/green] -> {out}: {summary['steps']} steps, final loss {summary['final_loss']:.3f}, "
               f"{summary['mean_tokens_per_s']:.0f} tokens/s on {ranks.world} process(es)")
