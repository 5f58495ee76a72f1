"""The contract between the two stages: the SR item embedding table, one float32 row per item id."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from recsys.errors import InputError

KEY = "item_embeddings"


def save_item_embeddings(table: torch.Tensor, path: Path) -> None:
    """table [n_items, d]; row i is item id i."""
    save_file({KEY: table.detach().float().contiguous()}, str(path))


def load_item_embeddings(path: Path, items_parquet: Path) -> torch.Tensor:
    """[n_items, d] embeddings, checked to have exactly one row per item of items.parquet."""
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "file not found (run `recsys pretrain`)")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as err:
        raise InputError(str(path), f"not a safetensors file ({err})") from None
    if KEY not in tensors:
        raise InputError(str(path), f"no tensor named {KEY!r}")
    table = tensors[KEY]
    n_items = pq.read_metadata(items_parquet).num_rows
    if table.ndim != 2 or table.shape[0] != n_items:
        raise InputError(str(path), f"{table.shape[0]} embedding rows but {items_parquet} has {n_items} items "
                                    "(pretrain on the same prepared data)")
    return table
