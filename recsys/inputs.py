"""The files from outside the repository that the stages read, linked under inputs/ so that dvc.yaml declares them.

DVC tracks paths, and the packaged ML-100K, GGUF model and MoRec text encoder live in site-packages, the authors'
split files in ../shared. The `inputs` stage links each file the chosen data set, language model and SR model are
read from into inputs/<dataset>/, inputs/llm/<name>/ and inputs/sr/<model>/, one link a file (DVC follows a linked file inside a folder, not a linked
folder), so a changed package or split file changes the stage's outputs and `dvc status` names it.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from recsys.config import TEXT_BACKBONES, DatasetSpec, LLMParams
from recsys.errors import InputError
from recsys.io import atomic_dir
from recsys.packaged import packaged_gguf, packaged_movielens, packaged_text_encoder

DATA_ROOT = "RECSYS_DATA_ROOT"  # where a relative datasets.<name>.path starts, when not the working directory


def with_data_root(spec: DatasetSpec) -> DatasetSpec:
    """A relative `path` is taken from $RECSYS_DATA_ROOT when set, else from the working directory.

    `dvc exp run --temp` and `dvc queue` run stages in a copy of the repository elsewhere, where a path such as
    ../shared/... no longer points at the data; bench/experiments.py sets the variable to the checkout.
    """
    root = os.environ.get(DATA_ROOT)
    if not root or spec.path is None or Path(spec.path).is_absolute():
        return spec
    return dataclasses.replace(spec, path=str(Path(root) / spec.path))


def _top_files(folder: Path, key: str) -> list[Path]:
    if not folder.is_dir():
        raise InputError(key, f"directory {folder} not found")
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def dataset_files(spec: DatasetSpec, name: str) -> list[Path]:
    """The files `prepare` reads for the data set `name` (its whole folder for the authors' split files)."""
    key = f"datasets.{name}.path"
    if spec.source == "movielens-100k":
        if spec.path is None:
            return packaged_movielens()
        return [Path(spec.path) / "u.data", Path(spec.path) / "u.item"]
    if spec.source == "llara":
        if not spec.path:
            raise InputError(key, "the llara source needs the directory of the split files")
        return _top_files(Path(spec.path), key)
    base = Path(spec.path or ".")
    return [base / spec.format.interactions, base / spec.format.items]


def llm_files(params: LLMParams) -> list[Path]:
    """The files `fetch-model` reads: the packaged GGUF, or the top-level files of llm.path's folder."""
    if params.path is not None:
        return _top_files(Path(params.path), "llm.path")
    return [packaged_gguf(params)]


def sr_files(model: str) -> list[Path]:
    """The files `pretrain` reads from outside the repository: the text encoder's for MoRec, none for ID models."""
    return _top_files(packaged_text_encoder(), "sr.model") if model in TEXT_BACKBONES else []


def link_files(files: list[Path], folder: Path, what: str) -> None:
    """`folder` as exactly one symbolic link per file (by its name, to its absolute path), replaced whole."""
    names = [f.name for f in files]
    if len(set(names)) != len(names):
        raise InputError(what, f"two inputs share a file name: {sorted(names)}")
    for file in files:
        if not file.is_file():
            raise InputError(what, f"file {file} not found")
    with atomic_dir(folder) as tmp:
        for file in files:
            (tmp / file.name).symlink_to(file.resolve())
