"""Where every artifact lives, written once: the stages, `recsys report`, `recsys recommend` and the
benches take their paths from here, and tests/test_layout.py checks that dvc.yaml's templates agree.

All paths are relative to the project directory (`root`), as dvc.yaml's are.
"""

from __future__ import annotations

from pathlib import Path


def raw_inputs(dataset: str, root: Path = Path(".")) -> Path:
    """A link to each file the data set is prepared from, wherever it lives (inputs)."""
    return root / "inputs" / dataset


def llm_inputs(llm: str, root: Path = Path(".")) -> Path:
    """A link to each file the base language model is provisioned from (inputs)."""
    return root / "inputs" / "llm" / llm


def sr_inputs(sr_model: str, root: Path = Path(".")) -> Path:
    """A link to each file the SR model reads from outside the repository (inputs): MoRec's text encoder."""
    return root / "inputs" / "sr" / sr_model


def prepared(dataset: str, root: Path = Path(".")) -> Path:
    """items/train/val/test.parquet and stats.json (prepare)."""
    return root / "data" / "prepared" / dataset


def sr_model(dataset: str, model: str, root: Path = Path(".")) -> Path:
    """The SR model, its item embedding table, candidate scores and metrics (pretrain)."""
    return root / "models" / "sr" / dataset / model


def base_model(llm: str, root: Path = Path(".")) -> Path:
    """The base language model as a plain Hugging Face folder (fetch-model)."""
    return root / "models" / "base" / llm


def prompts(dataset: str, llm: str, root: Path = Path(".")) -> Path:
    """The tokenised prompt shards of every split and variant (materialize)."""
    return root / "data" / "prompts" / dataset / llm


def llara(dataset: str, model: str, root: Path = Path(".")) -> Path:
    """The fine-tuned adapter, projector and model card (finetune)."""
    return root / "models" / "llara" / dataset / model


def checkpoints(dataset: str, model: str, root: Path = Path(".")) -> Path:
    """Resumable fine-tuning state, outside DVC's outputs so a rerun after a crash can resume: one folder per run
    in it, named by the run's fingerprint (recsys.llm.finetune.Trainer), so runs with other params keep theirs."""
    return root / "checkpoints" / "finetune" / dataset / model


def metrics(dataset: str, name: str, root: Path = Path(".")) -> Path:
    """An evaluation's outputs; `name` is the SR backbone of the LLaRA evaluated, or "zero-shot"."""
    return root / "metrics" / dataset / name


ZERO_SHOT = "zero-shot"
