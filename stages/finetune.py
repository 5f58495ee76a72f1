"""`recsys finetune`: curriculum LoRA + projector tuning -> models/llara/<dataset>/<sr-model>/."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich import print as rprint

from recsys.config import LoraParams, TrainParams, describe
from recsys.io import atomic_dir
from recsys.llm.finetune import finetune
from stages.common import ParamsOption, SetOption, help_with_params, read_sections, reports_bad_input

HELP = help_with_params(
    "Tune LoRA adapters and the behavioural projector on the materialised prompts, drawing the "
    "hybrid task with the schedule's probability at every step. Resumes from the last checkpoint "
    "in checkpoints/finetune/<dataset>/<sr-model>/ when the params are unchanged.",
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
    with atomic_dir(out) as tmp:
        summary = finetune(
            prompts=Path("data/prompts") / data.dataset / llm.name,
            base=Path("models/base") / llm.name,
            item_embeddings=Path("models/sr") / data.dataset / sr.model / "item_embeddings.safetensors",
            items_parquet=Path("data/prepared") / data.dataset / "items.parquet",
            lora=lora, train=train, out=tmp,
            checkpoints=Path("checkpoints/finetune") / data.dataset / sr.model,
        )
    rprint(f"[green]fine-tuned[/green] -> {out}: {summary['steps']} steps, final loss {summary['final_loss']:.3f}, "
           f"{summary['mean_tokens_per_s']:.0f} tokens/s")
