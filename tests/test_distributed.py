"""torchrun with 2 CPU processes (gloo): fine-tuning against one process with the same global batch,
and evaluation sharded over the processes against one process.

Like is compared with like: every run, the single-process reference included, is a fresh process with one
thread (OMP_NUM_THREADS=1), so both sides run the same kernels in the same order. What is left is how the
micro-batch gradients are summed:
- one micro-batch per process (grad_accum = 2 = processes): one process accumulates g0/2 + g1/2, DDP averages
  (g0 + g1) / 2. Halving is exact in binary floating point and a sum of two is commutative, so the runs are
  bitwise equal on any CPU: the test asserts equality.
- two per process (grad_accum = 4, DDP's no_sync path): one process sums ((g0 + g1) + g2) + g3, DDP
  (g0 + g2) + (g1 + g3), which differ in the last bit (about 1e-7 relative). AdamW turns a gradient into a
  step of about lr per weight whatever its size, so a rounding difference moves a weight by a small fraction
  of lr over 4 steps, while a wrong gradient (a missed sync, a wrong scale) moves it by up to lr per step:
  the test allows lr / 100.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import pyarrow.parquet as pq

from ddp_worker import LR

WORKER = Path(__file__).with_name("ddp_worker.py")


def worker(processes: int, *args: str) -> subprocess.CompletedProcess:
    """ddp_worker.py as one plain process or under torchrun, each process with one thread."""
    if processes == 1:
        launcher = []
    else:
        with socket.socket() as s:  # a free port for the rendezvous
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        launcher = ["-m", "torch.distributed.run", f"--nproc_per_node={processes}", f"--master_port={port}"]
    return subprocess.run([sys.executable, *launcher, str(WORKER), *args], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(WORKER.parent)})


def finetuned(processes: int, workspace: Path, out: Path, grad_accum: int) -> Path:
    done = worker(processes, "finetune", str(workspace), str(out), str(grad_accum))
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def losses(folder: Path) -> list[float]:
    lines = (folder / "train_log.csv").read_text().splitlines()
    column = lines[0].split(",").index("loss")
    return [float(line.split(",")[column]) for line in lines[1:]]


def assert_same_training(run: Path, reference: Path, atol: float = 0.0) -> None:
    """The two runs' step losses and LoRA weights agree within `atol` (0: bitwise)."""
    torch.testing.assert_close(losses(run), losses(reference), rtol=0, atol=atol)
    expected = load_file(reference / "adapter" / "adapter_model.safetensors")
    for name, value in load_file(run / "adapter" / "adapter_model.safetensors").items():
        torch.testing.assert_close(value, expected[name], rtol=0, atol=atol, msg=name)


@pytest.mark.slow
def test_one_micro_batch_per_process_trains_bitwise_like_one_process(workspace, tmp_path):
    single = finetuned(1, workspace, tmp_path / "single", grad_accum=2)
    assert_same_training(finetuned(2, workspace, tmp_path / "ddp", grad_accum=2), single)


@pytest.mark.slow
def test_accumulating_processes_train_like_one_and_resume_exactly(workspace, tmp_path):
    single = finetuned(1, workspace, tmp_path / "single", grad_accum=4)
    ddp = finetuned(2, workspace, tmp_path / "ddp", grad_accum=4)
    assert_same_training(ddp, single, atol=LR / 100)

    stopped = worker(2, "finetune", str(workspace), str(tmp_path / "resumed"), "4", "2")  # both stop after step 2
    assert stopped.returncode != 0 and not (tmp_path / "resumed" / "train_log.csv").exists()
    # the same processes in the same order: nothing may differ
    assert_same_training(finetuned(2, workspace, tmp_path / "resumed", grad_accum=4), ddp)


@pytest.mark.slow
def test_sharded_evaluation_merges_to_the_single_process_predictions(workspace, tmp_path):
    model = finetuned(1, workspace, tmp_path / "model", grad_accum=4)
    for processes, out in ((1, "single"), (2, "sharded")):
        done = worker(processes, "evaluate", str(workspace), str(model), str(tmp_path / out))
        assert done.returncode == 0, done.stderr[-3000:]
    single, sharded = (pq.read_table(tmp_path / d / "predictions.parquet").to_pandas() for d in ("single", "sharded"))
    assert sharded["example_id"].tolist() == single["example_id"].tolist() == list(range(10))
    assert sharded["generated"].tolist() == single["generated"].tolist()
    for column in ("rank_scores", "scores_mean", "scores_sum"):
        torch.testing.assert_close(torch.tensor(np.stack(sharded[column])), torch.tensor(np.stack(single[column])))
