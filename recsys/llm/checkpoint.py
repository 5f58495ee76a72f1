"""Resumable training state as safetensors + JSON (no pickles): trainable weights, AdamW moments,
the LR schedule, the torch RNG and the step. Written atomically, so a kill -9 leaves the last one whole.

The per-step log lives beside the checkpoint as JSON lines, appended one step at a time (a checkpoint
never rewrites it, so its cost does not grow with the run); a resume keeps the lines up to its step.
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
        f"{index}.{name}": value.detach().cpu().clone().contiguous() if torch.is_tensor(value) else torch.tensor(value)
        for index, entry in state["state"].items()
        for name, value in entry.items()
    }
    return tensors, {"param_groups": state["param_groups"]}


def save_checkpoint(root: Path, step: int, fingerprint: str, model: nn.Module, optimizer, scheduler) -> None:
    trainable = {name: p.detach().cpu().contiguous() for name, p in model.named_parameters() if p.requires_grad}
    moments, groups = _optimizer_tensors(optimizer)
    with atomic_dir(Path(root) / LAST) as tmp:
        save_file(trainable, tmp / "trainable.safetensors")
        save_file(moments, tmp / "optimizer.safetensors")
        save_file({"torch": torch.get_rng_state()}, tmp / "rng.safetensors")
        state = {"step": step, "fingerprint": fingerprint, "optimizer": groups, "scheduler": scheduler.state_dict()}
        (tmp / "state.json").write_text(json.dumps(state))


def load_checkpoint(root: Path, fingerprint: str, model: nn.Module, optimizer, scheduler) -> int:
    """Restore the last checkpoint if it belongs to this exact run; -> the next step (0: start afresh)."""
    folder = Path(root) / LAST
    if not (folder / "state.json").is_file():
        return 0
    state = json.loads((folder / "state.json").read_text())
    if state["fingerprint"] != fingerprint:
        return 0
    weights = load_file(folder / "trainable.safetensors")
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.requires_grad:
                p.copy_(weights[name])
    moments = load_file(folder / "optimizer.safetensors")
    entries: dict[int, dict] = {}
    device = next(p.device for p in model.parameters() if p.requires_grad)
    for key, value in moments.items():
        index, name = key.split(".", 1)
        entries.setdefault(int(index), {})[name] = value if name == "step" else value.to(device)
    optimizer.load_state_dict({"state": entries, "param_groups": state["optimizer"]["param_groups"]})
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(load_file(folder / "rng.safetensors")["torch"])
    return state["step"]


CURVE_FIELDS = ("step", "prompts", "val_hr@1", "val_ndcg@5")  # val_curve.csv's columns, points or none


class StepLog:
    """The run's step rows and validation curve: JSON lines under `root`, appended as the run goes."""

    def __init__(self, root: Path, fields: list[str], start: int, enabled: bool = True):
        self.steps_path, self.curve_path = Path(root) / "steps.jsonl", Path(root) / "val_curve.jsonl"
        self.fields, self.enabled = fields, enabled
        self.rows = [r for r in _read_lines(self.steps_path) if r["step"] <= start] if start else []
        self.curve = [r for r in _read_lines(self.curve_path) if r["step"] <= start] if start else []
        if enabled:  # drop what a killed run logged past its last checkpoint (or everything, starting afresh)
            Path(root).mkdir(parents=True, exist_ok=True)
            for path, rows in ((self.steps_path, self.rows), (self.curve_path, self.curve)):
                path.write_text("".join(json.dumps(r) + "\n" for r in rows))

    def append(self, row: dict) -> None:
        self.rows.append(row)
        if self.enabled:
            with self.steps_path.open("a") as handle:
                handle.write(json.dumps(row) + "\n")

    def write_curve(self, csv_path: Path | None = None) -> None:
        """Append the newest validation point; with `csv_path`, write the whole curve as CSV there (its header
        alone when the run had no read-out to validate, so the stage's declared output always exists)."""
        if not self.enabled:
            return
        if csv_path is None:
            with self.curve_path.open("a") as handle:
                handle.write(json.dumps(self.curve[-1]) + "\n")
        else:
            _write_csv(csv_path, self.curve, list(CURVE_FIELDS))

    def write_csv(self, path: Path, exclude: tuple[str, ...] = ("seconds",)) -> None:
        """The step log as CSV, without wall-clock columns, so the same run gives the same bytes."""
        _write_csv(path, self.rows, [f for f in self.fields if f not in exclude and any(f in r for r in self.rows)])

    def last(self, name: str) -> float:
        return self.rows[-1][name] if self.rows else float("nan")


def _read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def _write_csv(path: Path, rows: list[dict], header: list[str]) -> None:
    lines = [",".join(header)] + [",".join(str(row.get(h, "")) for h in header) for row in rows]
    Path(path).write_text("\n".join(lines) + "\n")
