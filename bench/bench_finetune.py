"""Fine-tuning throughput and memory of the real training step, per compute setting.

    python bench/bench_finetune.py [--steps 6] [--configs bf16-eager fp32-sdpa-dropout ...]

Each setting runs in a fresh process (so its peak RSS is its own): `Trainer.step`, the recipe's own
optimiser step (LoRA + projector, hybrid task, the default objective with the SR teacher), on the
materialised ML-100K training prompts, the same micro-batches in every setting. The first step warms
up and is not timed. Reports tokens/s, peak RSS and the per-step losses, so bf16 can be checked to
train like fp32. Writes bench/results/finetune.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/<script>.py`: `bench` is a package of the checkout's root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# name -> (train.precision, attention, lora.dropout, gradient checkpointing)
CONFIGS = {
    "fp32-sdpa-dropout": ("fp32", "sdpa", 0.1, False),  # the earlier default (paper's LoRA dropout)
    "fp32-eager": ("fp32", "eager", 0.0, False),
    "bf16-sdpa": ("bf16", "sdpa", 0.0, False),
    "bf16-eager": ("bf16", "eager", 0.0, False),  # the default on this CPU
    "bf16-eager-dropout": ("bf16", "eager", 0.1, False),
    "bf16-eager-checkpointing": ("bf16", "eager", 0.0, True),
}


def run_one(name: str, steps: int, batch_size: int) -> dict:
    """One setting in this process -> its measurements."""
    import numpy as np
    import torch

    import recsys.llm.base_model as base_model
    from recsys import layout
    from recsys.config import LoraParams, TrainParams
    from recsys.llm.finetune import FinetuneInputs, Trainer

    precision, attention, dropout, checkpointing = CONFIGS[name]
    base_model.attention_implementation = lambda device: attention  # the bench's one override of the device rule
    inputs = FinetuneInputs(prompts=layout.prompts("movielens", "smollm2-135m", ROOT),
                            base=layout.base_model("smollm2-135m", ROOT), sr_model=layout.sr_model("movielens", "sasrec", ROOT),
                            items=layout.prepared("movielens", ROOT) / "items.parquet")
    train = TrainParams(schedule="direct", max_steps=steps + 1, batch_size=batch_size, grad_accum=1,
                        precision=precision, gradient_checkpointing=checkpointing, eval_points=0)
    with tempfile.TemporaryDirectory() as checkpoints:
        trainer = Trainer(inputs, LoraParams(dropout=dropout), train, Path(checkpoints))
        rows = [trainer.step(step) for step in range(steps + 1)]
    timed = rows[1:]
    return {"config": name, "precision": precision, "attention": attention, "lora_dropout": dropout,
            "gradient_checkpointing": checkpointing, "batch_size": batch_size,
            "tokens_per_s": sum(r["tokens"] for r in timed) / sum(r["seconds"] for r in timed),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "losses": [round(r["loss"], 4) for r in rows], "threads": torch.get_num_threads(),
            "mean_prompt_tokens": float(np.mean([r["tokens"] / r["prompts"] for r in rows]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one setting, print its JSON
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.steps, args.batch_size)))
        return
    results = []
    for name in args.configs:
        done = subprocess.run([sys.executable, __file__, "--one", name, "--steps", str(args.steps), "--batch-size",
                               str(args.batch_size)], cwd=ROOT, capture_output=True, text=True, check=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"{name:26s} {results[-1]['tokens_per_s']:6.0f} tokens/s  peak RSS {results[-1]['peak_rss_mib']:6.0f} MiB"
              f"  losses {results[-1]['losses']}", flush=True)
    report = {"machine": f"{machine()}, Python {platform.python_version()}",
              "steps_timed": args.steps, "results": results}
    out = ROOT / "bench/results/finetune.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written: {out}")


if __name__ == "__main__":
    main()
