"""Multi-process runs on torch.distributed: the process group from torchrun's environment.

A plain `python` run is one process (rank 0 of 1) and touches nothing here; under
`torchrun --nproc_per_node=N` each process joins a group (NCCL on GPUs, gloo on CPU) and works on
its share of every step.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Only the main process writes outputs, checkpoints and logs."""
        return self.rank == 0

    def device(self) -> torch.device:
        return torch.device("cuda", self.local_rank) if torch.cuda.is_available() else torch.device("cpu")


def init_ranks() -> Ranks:
    """Join the process group torchrun describes (WORLD_SIZE, RANK, LOCAL_RANK); one process without it."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Ranks()
    ranks = Ranks(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(ranks.local_rank)
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return ranks


def all_sum(values: list[float], ranks: Ranks) -> list[float]:
    """Element-wise sum over processes (identity for one process)."""
    if ranks.world == 1:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=ranks.device())
    dist.all_reduce(tensor)
    return tensor.tolist()


def gather_objects(obj, ranks: Ranks) -> list:
    """Every process's `obj`, in rank order (a one-element list for one process)."""
    if ranks.world == 1:
        return [obj]
    gathered: list = [None] * ranks.world
    dist.all_gather_object(gathered, obj)
    return gathered


def barrier(ranks: Ranks) -> None:
    if ranks.world > 1:
        dist.barrier()
