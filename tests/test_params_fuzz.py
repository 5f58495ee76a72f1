"""Seeded random values for the keys finetune and evaluate read: each run is refused with one line naming a key it
changed (exit 2), or gets through everything before the first forward pass (finetune: its whole set-up; evaluate:
the model loaded and checked against the prompts), where the test stops it; never a traceback, never another error,
never an output."""

from __future__ import annotations

import dataclasses
import shutil
import typing
from pathlib import Path

import numpy as np
import pytest
import yaml

from helpers import link_project, run_cli
from recsys.config import EvalParams, LoraParams, Range, TrainParams
from recsys.errors import InputError

CASES = {"finetune": 60, "evaluate": 30}
SECTIONS = {"finetune": {"train": TrainParams, "lora": LoraParams, "eval": EvalParams}, "evaluate": {"eval": EvalParams}}
STOPPED = "error: fuzz: stopped before the work"
VALUES = ["abc", "", [1, 2], {"a": 1}, True, None, 0, -1, 1, 2, 3, 0.5, 1.0, 1.5, -0.5, 1e-12, 10**9, 2**40,
          float("nan"), float("inf"), -float("inf"), "1e-3", [], ["rank"], ["foo"], ["q_proj"], ["nope"], ["rank", 3]]
RAW = ["[1", "{", "'", "a: b: c", "1e30", "\t1"]  # --set values as typed, some of them not YAML


@pytest.fixture(scope="module")
def project(workspace, tmp_path_factory) -> Path:
    """A project with a fine-tuned model in place, for evaluate, and no checkpoint (a case whose params equal these
    would find its run finished and write a model)."""
    root = tmp_path_factory.mktemp("fuzz")
    link_project(workspace, root)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        assert run_cli("finetune").exit_code == 0
    shutil.rmtree(root / "checkpoints")
    return root


def _inside(rng: np.random.Generator, bounds: Range, kind: type) -> float:
    """A number at or near the low end of `bounds`."""
    low = bounds.low or 0
    if kind is int:
        return int(low + rng.integers(0, 4))
    return float(rng.uniform(low, bounds.high) if bounds.high is not None else low + rng.exponential())


def _value(rng: np.random.Generator, field: dataclasses.Field, kind: type):
    """Two times in five a plausible value (the default, a choice, a number in the key's range, a list of names),
    else one of any type, a word that is no choice, or a random number."""
    default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
    choices, bounds = field.metadata.get("choices") or (), field.metadata.get("bounds")
    plausible = [default, *([[c] for c in choices] if isinstance(default, list) else choices)]
    if bounds is not None and kind in (int, float):
        plausible += [_inside(rng, bounds, kind)] * 2
    if isinstance(default, list):  # one of its own elements, or a name that looks like one
        plausible += [default[:1], ["nope"], default[1:] + ["nope"]]
    pool = plausible if rng.random() < 0.4 else VALUES + ["sl0t", float(rng.normal(0, 10)), int(rng.integers(-5, 50))]
    return pool[int(rng.integers(len(pool)))]


def case(seed: int, stage: str, params: dict) -> tuple[dict, list[str], list[str]]:
    """(params with 1-2 seeded changes, --set arguments, the keys changed)."""
    rng = np.random.default_rng([seed, len(stage)])
    params, overrides, changed = {**params}, [], []
    for _ in range(int(rng.integers(1, 3))):
        name = str(rng.choice(list(SECTIONS[stage])))
        fields = dataclasses.fields(SECTIONS[stage][name])
        roll = rng.random()
        if roll < 0.05:
            params[name], key = str(rng.choice(["5", "[x]", "oops"])), name  # a section that is not a mapping
        elif roll < 0.1:
            key = f"{name}.{fields[int(rng.integers(len(fields)))].name}x"  # a misspelt key
            overrides.append(f"{key}=1")
        elif roll < 0.2:
            key = f"{name}.{fields[int(rng.integers(len(fields)))].name}"
            overrides.append(f"{key}={RAW[int(rng.integers(len(RAW)))]}")
        else:
            field = fields[int(rng.integers(len(fields)))]
            key = f"{name}.{field.name}"
            section = params[name] if isinstance(params.get(name), dict) else {}
            kind = typing.get_type_hints(SECTIONS[stage][name])[field.name]
            kind = ([a for a in typing.get_args(kind) if a is not type(None)] or [kind])[0]
            params[name] = {**section, field.name: _value(rng, field, kind)}
        changed.append(key)
    return params, overrides, changed


def outcome(root: Path, stage: str, seed: int) -> str:
    """Run case `seed` of `stage` in `root`, check the contract -> "refused" or "accepted"."""
    base = yaml.safe_load((root / "params.yaml").read_text())
    params, overrides, changed = case(seed, stage, base)
    path = root / f"case-{stage}-{seed}.yaml"
    path.write_text(yaml.safe_dump(params))
    out = root / f"out-{stage}-{seed}"
    result = run_cli(stage, "--params", str(path), *(a for o in overrides for a in ("--set", o)), "--out", str(out))
    shown = (params, overrides)
    assert result.exit_code == 2, (shown, result.exit_code, result.stderr[-2000:], result.exception)
    lines = result.stderr.splitlines()
    error = [line for line in lines if "error" in line.lower() or "Traceback" in line]
    assert error == lines[-1:] and error[0].startswith("error: "), (shown, lines)
    assert not out.exists() and not list(root.glob(f".{out.name}.tmp-*")), shown
    if error[0] == STOPPED:
        return "accepted"
    named = [key for key in changed if f"{key}:" in error[0] or f"{key}[" in error[0] or f"--set {key}=" in error[0]]
    assert named, (shown, error[0])  # a refusal names what was changed, not some other key or file
    return "refused"


def stop(*args, **kwargs):
    raise InputError("fuzz", "stopped before the work")


@pytest.mark.parametrize("stage", sorted(CASES))
def test_random_params_are_refused_in_one_line_or_reach_the_work(project, monkeypatch, stage):
    monkeypatch.chdir(project)
    for name in ("step", "validate"):  # finetune: set up, then stopped
        monkeypatch.setattr(f"recsys.llm.finetune.Trainer.{name}", stop)
    monkeypatch.setattr("recsys.eval.evaluate.Runner", stop)  # evaluate: model loaded and checked, then stopped
    outcomes = [outcome(project, stage, seed) for seed in range(CASES[stage])]
    # Both branches of the contract are exercised (a generator too harsh or too mild would test one).
    assert 3 <= outcomes.count("accepted") <= CASES[stage] - 3, outcomes
