"""Resumable training state as safetensors + JSON (no pickles): trainable weights, AdamW moments,
the LR schedule, the torch RNG and the step. Written atomically, so a kill -9 leaves the last one whole.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from recsys.io import atomic_dir

LAST = "last"


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    state = optimizer.state_dict()
    tensors = {
        f"{index}.{name}": value.detach().clone().contiguous() if torch.is_tensor(value) else torch.tensor(value)
        for index, entry in state["state"].items()
        for name, value in entry.items()
    }
    return tensors, {"param_groups": state["param_groups"]}


def save_checkpoint(root: Path, step: int, fingerprint: str, model: nn.Module, optimizer, scheduler, log: list[dict]) -> None:
    trainable = {name: p.detach().contiguous() for name, p in model.named_parameters() if p.requires_grad}
    moments, groups = _optimizer_tensors(optimizer)
    with atomic_dir(Path(root) / LAST) as tmp:
        save_file(trainable, tmp / "trainable.safetensors")
        save_file(moments, tmp / "optimizer.safetensors")
        save_file({"torch": torch.get_rng_state()}, tmp / "rng.safetensors")
        state = {"step": step, "fingerprint": fingerprint, "optimizer": groups,
                 "scheduler": scheduler.state_dict(), "log": log}
        (tmp / "state.json").write_text(json.dumps(state))


def load_checkpoint(root: Path, fingerprint: str, model: nn.Module, optimizer, scheduler) -> tuple[int, list[dict]]:
    """Restore the last checkpoint if it belongs to this exact run; -> (next step, log so far)."""
    folder = Path(root) / LAST
    if not (folder / "state.json").is_file():
        return 0, []
    state = json.loads((folder / "state.json").read_text())
    if state["fingerprint"] != fingerprint:
        return 0, []
    weights = load_file(folder / "trainable.safetensors")
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.requires_grad:
                p.copy_(weights[name])
    moments = load_file(folder / "optimizer.safetensors")
    entries: dict[int, dict] = {}
    for key, value in moments.items():
        index, name = key.split(".", 1)
        entries.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": entries, "param_groups": state["optimizer"]["param_groups"]})
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(load_file(folder / "rng.safetensors")["torch"])
    return state["step"], state["log"]
