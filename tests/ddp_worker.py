"""Fine-tune the test workspace's tiny model as one torchrun process (see test_distributed.py).

    python -m torch.distributed.run --nproc_per_node=2 tests/ddp_worker.py finetune <workspace> <out> <grad_accum> [stop_after]
    python -m torch.distributed.run --nproc_per_node=2 tests/ddp_worker.py evaluate <workspace> <model> <out>

With stop_after, every process makes that many steps (checkpointing) and exits 3 without saving: a crash.
"""

from __future__ import annotations

import sys
from pathlib import Path

from helpers import finetune_inputs, train_then_stop
from recsys.config import EvalParams, LoraParams, TrainParams
from recsys.distributed import init_ranks
from recsys.eval.evaluate import evaluate
from recsys.llm.finetune import finetune

# No dropout, so one process and two see exactly the same computation.
LORA = LoraParams(r=2, alpha=4, dropout=0.0)
LR = 1e-2


def train_params(grad_accum: int) -> TrainParams:
    return TrainParams(schedule="curriculum", max_steps=4, batch_size=2, grad_accum=grad_accum, lr=LR,
                       checkpoint_every=1, precision="fp32")
EVAL = EvalParams(modes=["rank", "generate", "score"], batch_size=3, max_new_tokens=4, precision="fp32")


def run_evaluate(root: Path, model: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    evaluate(model, root / "prompts", root / "prepared", root / "sr", EVAL, out, progress=False, ranks=init_ranks())


def run(root: Path, out: Path, grad_accum: int, stop_after: int | None = None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    checkpoints = out.with_name(out.name + "-ckpt")
    if stop_after is not None:
        train_then_stop(root, train_params(grad_accum), checkpoints, stop_after, init_ranks(), LORA)
        sys.exit(3)
    finetune(finetune_inputs(root), LORA, train_params(grad_accum), out, checkpoints, progress=False,
             ranks=init_ranks())


if __name__ == "__main__":
    if sys.argv[1] == "evaluate":
        run_evaluate(*map(Path, sys.argv[2:5]))
    else:
        run(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]) if len(sys.argv) > 5 else None)
