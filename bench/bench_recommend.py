"""Batch recommend against the single-history command: seconds per history, one run each.

    python bench/bench_recommend.py [--n 100] [--model models/llara/movielens/sasrec] [--dataset movielens]

batch: `recsys recommend --from-file` as a function (read the file, load the SR model and LLaRA once, score the N
prompts in batches, write the ranking) over N histories of the prepared test split, drawn with seed 0 (with
replacement when the split has fewer); single: `recsys recommend --history` as a function (match the titles,
load the models, rank one history), which every single call pays in full. Batch runs first, so single finds the
files in the page cache: the comparison does not flatter batch. Writes bench/results/recommend.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch

if __package__ in (None, ""):  # run as `python bench/<script>.py`: `bench` is a package of the checkout's root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import machine  # noqa: E402
from recsys import layout  # noqa: E402
from recsys.eval.batch import read_batch, recommend_batch, write_parquet  # noqa: E402
from recsys.eval.recommend import rank_candidates, read_request  # noqa: E402
from recsys.io import read_column  # noqa: E402
from recsys.llm.card import ModelCard  # noqa: E402
from stages.common import read_sections  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def draw_histories(test: Path, n: int) -> tuple[list[list[int]], bool]:
    """(n histories of the split's `history` column drawn with seed 0, whether drawn with replacement)."""
    histories = [h for h in pq.read_table(test, columns=["history"]).column("history").to_pylist() if h]
    replace = n > len(histories)
    picked = np.random.default_rng(0).choice(len(histories), n, replace=replace)
    return [histories[i] for i in picked], replace


def time_batch(model: Path, histories: list[list[int]], k: int, batch_size: int) -> float:
    """Seconds for the whole file: reading it, both model loads, scoring and the atomic write."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "histories.jsonl"
        source.write_text("".join(json.dumps({"user_id": i, "item_ids": h}) + "\n" for i, h in enumerate(histories)))
        began = time.perf_counter()
        batch = read_batch(model, source, k)
        write_parquet(recommend_batch(batch, seed=0, batch_size=batch_size, progress=False), Path(tmp) / "out.parquet")
        seconds = time.perf_counter() - began
    if batch.skipped:
        raise SystemExit(f"{len(batch.skipped)} histories skipped, e.g. {batch.skipped[0]}")
    return seconds


def time_single(model: Path, history: list[int], k: int) -> float:
    """Seconds for one `recommend --history` call on the history typed as its titles, model load included."""
    titles = read_column(ModelCard.read(model).items, "title")
    began = time.perf_counter()
    rank_candidates(read_request(model, [titles[i] for i in history], None, k, seed=0))
    return time.perf_counter() - began


def report(args: argparse.Namespace, k: int, replace: bool, single: float, batch: float) -> str:
    """The markdown written to bench/results/recommend.md."""
    per_batch = batch / args.n
    drawn = "with replacement: the split has fewer" if replace else "without replacement"
    return "\n".join([
        "## Batch recommend against single-history recommend",
        "",
        f"`python bench/bench_recommend.py --n {args.n}`: {args.model}, K = {k} candidates, batch size "
        f"{args.batch_size}; {args.n} histories of {args.test} drawn with seed 0 ({drawn}); one run each.",
        f"Machine: {machine()}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads).",
        "",
        "| mode | histories | seconds | seconds per history |",
        "|---|---:|---:|---:|",
        f"| single (`--history`, model load included) | 1 | {single:.2f} | {single:.3f} |",
        f"| batch (`--from-file`, one model load) | {args.n} | {batch:.2f} | {per_batch:.3f} |",
        "",
        f"Batch is {single / per_batch:.1f}x faster per history.",
        ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="histories in the batch")
    parser.add_argument("--dataset", default="movielens")
    parser.add_argument("--model", type=Path, default=layout.llara("movielens", "sasrec"))
    parser.add_argument("--test", type=Path, help="split to draw from [default: data/prepared/<dataset>/test.parquet]")
    parser.add_argument("--k", type=int, help="candidates per history [default: data.n_candidates of params.yaml]")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/recommend.md")
    args = parser.parse_args()
    args.test = args.test or layout.prepared(args.dataset) / "test.parquet"
    k = args.k or read_sections(Path("params.yaml"), [], "data")[0].n_candidates
    histories, replace = draw_histories(args.test, args.n)
    batch = time_batch(args.model, histories, k, args.batch_size)
    single = time_single(args.model, histories[0], k)
    text = report(args, k, replace, single, batch)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
