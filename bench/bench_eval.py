"""Evaluation speed per example of each mode, measured in one run on the same prompts.

    python bench/bench_eval.py [--model models/llara/movielens/sasrec] [--examples 48]

rank (one forward pass over the prompt), generate (the prompt, then greedy decoding to EOS) and
score (the prompt once, then K answers on its KV cache), each alone, then rank and generate from one
shared prompt pass (as evaluate runs them), on the first N test prompts of the default pipeline's
model. Also how long the titles are that each scoring rule puts first (a length-normalised score
can favour long titles, a summed one short titles), against the candidates'.
Writes bench/results/eval.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import machine  # noqa: E402
from recsys import layout  # noqa: E402
from recsys.config import EvalParams  # noqa: E402
from recsys.eval.evaluate import evaluate  # noqa: E402
from recsys.io import read_json  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="movielens")
    parser.add_argument("--llm", default="smollm2-135m")
    parser.add_argument("--model", type=Path, default=layout.llara("movielens", "sasrec"))
    parser.add_argument("--examples", type=int, default=48)
    args = parser.parse_args()
    prepared = layout.prepared(args.dataset)
    timing, predictions = {}, {}
    for modes in (["rank"], ["generate"], ["score"], ["rank", "generate"]):  # each alone, then the shared pass
        with tempfile.TemporaryDirectory() as out:
            metrics = evaluate(args.model, layout.prompts(args.dataset, args.llm), prepared, None,
                               EvalParams(max_examples=args.examples, modes=modes), Path(out), progress=False)
            timing.update(read_json(Path(out) / "timing.json"))
            predictions.update(pq.read_table(Path(out) / "predictions.parquet").to_pydict())
    titles = pq.read_table(prepared / "items.parquet", columns=["title"]).column("title").to_pylist()
    chars = lambda column: float(np.mean([len(titles[c[int(np.argmax(s))]]) for c, s in  # noqa: E731
                                          zip(predictions["candidates"], predictions[column])]))
    seconds = {mode: timing[f"{mode}.seconds_per_example"] for mode in ("rank", "generate", "score", "rank+generate")}
    report = {"machine": machine(),
              "examples": metrics["n"], "seconds_per_example": seconds,
              "rank_speedup_over_generate": seconds["generate"] / seconds["rank"],
              "rank_speedup_over_score": seconds["score"] / seconds["rank"],
              "shared_pass_saving": 1 - seconds["rank+generate"] / (seconds["rank"] + seconds["generate"]),
              "title_chars": {"candidates": float(np.mean([len(titles[c]) for row in predictions["candidates"] for c in row])),
                              "picked_by_mean_score": chars("scores_mean"), "picked_by_summed_score": chars("scores_sum"),
                              "picked_by_rank": chars("rank_scores")}}
    (ROOT / "bench/results/eval.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
