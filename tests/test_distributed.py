"""torchrun with 2 CPU processes (gloo): fine-tuning against one process with the same global batch,
and evaluation sharded over the processes against one process."""

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

from ddp_worker import run, run_evaluate

WORKER = Path(__file__).with_name("ddp_worker.py")


def torchrun(*args: str) -> subprocess.CompletedProcess:
    with socket.socket() as s:  # a free port for the rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={port}",
               str(WORKER), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(WORKER.parent)})


def losses(folder: Path) -> list[float]:
    lines = (folder / "train_log.csv").read_text().splitlines()
    column = lines[0].split(",").index("loss")
    return [float(line.split(",")[column]) for line in lines[1:]]


@pytest.mark.slow
def test_two_processes_train_like_one_and_resume(workspace, tmp_path):
    run(workspace, tmp_path / "single")
    done = torchrun("finetune", str(workspace), str(tmp_path / "ddp"))
    assert done.returncode == 0, done.stderr[-3000:]
    torch.testing.assert_close(losses(tmp_path / "ddp"), losses(tmp_path / "single"), rtol=1e-5, atol=1e-6)
    single = load_file(tmp_path / "single" / "adapter" / "adapter_model.safetensors")
    for name, value in load_file(tmp_path / "ddp" / "adapter" / "adapter_model.safetensors").items():
        torch.testing.assert_close(value, single[name], rtol=1e-4, atol=1e-6)

    stopped = torchrun("finetune", str(workspace), str(tmp_path / "resumed"), "2")  # both processes stop after step 2
    assert stopped.returncode != 0 and not (tmp_path / "resumed" / "train_log.csv").exists()
    done = torchrun("finetune", str(workspace), str(tmp_path / "resumed"))
    assert done.returncode == 0, done.stderr[-3000:]
    torch.testing.assert_close(losses(tmp_path / "resumed"), losses(tmp_path / "single"), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_sharded_evaluation_merges_to_the_single_process_predictions(workspace, tmp_path):
    run(workspace, tmp_path / "model")
    run_evaluate(workspace, tmp_path / "model", tmp_path / "single")
    done = torchrun("evaluate", str(workspace), str(tmp_path / "model"), str(tmp_path / "sharded"))
    assert done.returncode == 0, done.stderr[-3000:]
    single, sharded = (pq.read_table(tmp_path / d / "predictions.parquet").to_pandas() for d in ("single", "sharded"))
    assert sharded["example_id"].tolist() == single["example_id"].tolist() == list(range(10))
    assert sharded["generated"].tolist() == single["generated"].tolist()
    for column in ("rank_scores", "scores_mean", "scores_sum"):
        torch.testing.assert_close(torch.tensor(np.stack(sharded[column])), torch.tensor(np.stack(single[column])))
