"""The materialize stage's work: prepared splits -> tokenised prompt shards, one set per prompt variant."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rich.progress import Progress
from transformers import AutoConfig, AutoTokenizer

from recsys.config import PromptParams
from recsys.data.candidates import build_candidates, example_item_pairs
from recsys.data.stats import PreparedStats
from recsys.errors import InputError
from recsys.io import read_column
from recsys.prompts.encode import check_context, encode_examples, letter_token_ids, single_token_id
from recsys.prompts.manifest import PromptManifest
from recsys.prompts.order import sr_ordered
from recsys.prompts.shards import write_shard
from recsys.prompts.templates import ITEM_TOKENS, READOUT_TOKEN, VARIANTS, templates

SPLITS = ("train", "val", "test")
_BATCH_ROWS = 64 * 1024


def _train_batches(path: Path) -> Iterator[tuple[int, pa.RecordBatch]]:
    """(first row index, batch) over train.parquet, one bounded batch at a time."""
    start = 0
    for batch in pq.ParquetFile(path, pre_buffer=False).iter_batches(batch_size=_BATCH_ROWS):
        yield start, batch
        start += batch.num_rows


def training_rows(train_path: Path, n_items: int, k: int, params: PromptParams) -> pa.Table:
    """A seeded subset of training windows, each with its own K candidates.

    Negatives avoid everything the window's user touched in any training window, so a training
    prompt looks exactly like an evaluation one. Two streaming passes over the file keep memory to
    the sampled windows and their users' items, however many windows there are.
    """
    rng = np.random.default_rng([params.seed, 2])
    n = pq.ParquetFile(train_path).metadata.num_rows
    keep = np.arange(n)
    if params.train_examples is not None and params.train_examples < n:
        keep = np.sort(rng.choice(n, params.train_examples, replace=False))
    chosen = []
    for start, batch in _train_batches(train_path):
        mine = keep[(keep >= start) & (keep < start + batch.num_rows)] - start
        chosen.append(pa.Table.from_batches([batch]).take(pa.array(mine)))
    # one chunk: a shard is written as one record batch per chunk, so this keeps shards byte-stable
    chosen = pa.concat_tables(chosen or [pq.ParquetFile(train_path).schema_arrow.empty_table()]).combine_chunks()
    chosen_users = np.unique(chosen.column("user_id").to_numpy())
    seen_users, seen_items = [], []  # every item of the chosen users' windows
    for _, batch in _train_batches(train_path):
        windows = pa.Table.from_batches([batch])
        windows = windows.filter(pa.array(np.isin(windows.column("user_id").to_numpy(), chosen_users)))
        rows, items = example_item_pairs(windows)
        seen_users.append(windows.column("user_id").to_numpy()[rows])
        seen_items.append(items)
    candidates = build_candidates(  # [N, K]
        chosen.column("target").to_numpy(), np.concatenate(seen_users), np.concatenate(seen_items), n_items, k, rng,
        row_group=chosen.column("user_id").to_numpy(), describe_row=lambda row: f"train window {keep[row]}",
    )
    offsets = pa.array(np.arange(0, candidates.size + 1, k, dtype=np.int32))
    return chosen.append_column("example_id", pa.array(keep, pa.int64())).append_column(
        "candidates", pa.ListArray.from_arrays(offsets, pa.array(candidates.ravel()))
    )


def eval_rows(table: pa.Table) -> pa.Table:
    return table.append_column("example_id", pa.array(np.arange(table.num_rows), pa.int64()))


def _tokenizer_and_context(base: Path) -> tuple[object, int]:
    """The base model's tokenizer and context length; a folder without them is named, not a transformers error."""
    if not (Path(base) / "config.json").is_file():
        raise InputError(str(base), "base model folder not found (run `recsys fetch-model`)")
    try:
        tokenizer = AutoTokenizer.from_pretrained(base, trust_remote_code=False)
        context = AutoConfig.from_pretrained(base, trust_remote_code=False).max_position_embeddings
    except (OSError, ValueError) as err:
        raise InputError(str(base), f"no usable tokenizer or config ({str(err).splitlines()[0]}; re-run "
                         "`recsys fetch-model`)") from None
    return tokenizer, context


def materialize(
    prepared: Path, base: Path, domain: str, params: PromptParams, out: Path, sr_model: Path | None = None,
    progress: bool = True,
) -> PromptManifest:
    """Write out/<split>/<variant>/shard-*.arrow and out/manifest.json; returns the manifest.

    The manifest's statistics are per split and variant (a behaviour prompt is shorter than a hybrid one).
    With `params.candidate_order` sr, behavioural prompts list the candidates as `sr_model` ranks them
    (recsys.prompts.order).
    """
    if params.candidate_order == "sr" and sr_model is None:
        raise ValueError("prompts.candidate_order sr needs the SR model")
    tokenizer, context = _tokenizer_and_context(base)
    titles = read_column(prepared / "items.parquet", "title")
    val = pq.read_table(prepared / "val.parquet")
    k = len(val.column("candidates")[0])
    letters = letter_token_ids(tokenizer, k) if params.index_letters else None
    splits = {
        "train": training_rows(prepared / "train.parquet", len(titles), k, params),
        "val": eval_rows(val),
        "test": eval_rows(pq.read_table(prepared / "test.parquet")),
    }
    max_len = PreparedStats.read(prepared).max_len
    statistics: dict = {}
    total = sum(-(-t.num_rows // params.shard_rows) for t in splits.values()) * len(VARIANTS)
    with Progress(disable=not progress) as bar:
        task = bar.add_task("materialize", total=total)
        for split, table in splits.items():
            ordered = {False: table, True: sr_ordered(table, sr_model) if params.candidate_order == "sr" else table}
            lengths: dict[str, list] = {v: [] for v in VARIANTS}
            answers: dict[str, list] = {v: [] for v in VARIANTS}
            for index, start in enumerate(range(0, table.num_rows, params.shard_rows)):
                for variant, spec in VARIANTS.items():
                    chunk = ordered[spec.behavioural].slice(start, params.shard_rows)
                    shard = encode_examples(chunk, titles, tokenizer, domain, variant, params.index_letters,
                                            params.user_token)
                    sizes = np.diff(shard.column("input_ids").combine_chunks().offsets.to_numpy())  # [N] tokens
                    check_context(shard, sizes, context, f"{split}/{variant}")
                    write_shard(out / split / variant, index, shard)
                    lengths[variant].extend(sizes)
                    answers[variant].extend(sizes - shard.column("answer_start").to_numpy())
                    bar.advance(task)
            statistics[split] = {"examples": table.num_rows, "variants": {
                v: {"mean_tokens": round(float(np.mean(lengths[v])), 2), "max_tokens": int(np.max(lengths[v])),
                    "mean_answer_tokens": round(float(np.mean(answers[v])), 2)} for v in VARIANTS}}
    manifest = PromptManifest(domain=domain, template=templates()[domain], n_candidates=k, max_len=max_len,
                              item_tokens={t: tokenizer.convert_tokens_to_ids(t) for t in ITEM_TOKENS},
                              index_letters=letters, readout_token=single_token_id(tokenizer, READOUT_TOKEN),
                              user_token=params.user_token, candidate_order=params.candidate_order,
                              order_model=str(sr_model) if params.candidate_order == "sr" else None,
                              splits=statistics)
    manifest.write(out)
    return manifest
