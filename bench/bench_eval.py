"""Evaluation speed per example: scoring mode (all K candidates, KV cache) vs generation mode.

    python bench/bench_eval.py [--model models/llara/movielens/sasrec] [--examples 32]

Both modes run on the same first N test prompts of the default pipeline's model, in one process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from pathlib import Path

import torch

from recsys.config import EvalParams
from recsys.eval.evaluate import evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="movielens")
    parser.add_argument("--llm", default="smollm2-135m")
    parser.add_argument("--model", type=Path, default=Path("models/llara/movielens/sasrec"))
    parser.add_argument("--examples", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        metrics = evaluate(args.model, Path("data/prompts") / args.dataset / args.llm,
                           Path("data/prepared") / args.dataset, None, EvalParams(max_examples=args.examples),
                           Path(out), progress=False)
    generate, score = metrics["generate.seconds_per_example"], metrics["score.seconds_per_example"]
    print(json.dumps({
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}",
        "examples": metrics["n"], "generate_seconds_per_example": generate,
        "score_seconds_per_example": score, "score_speedup": generate / score,
    }, indent=2))


if __name__ == "__main__":
    main()
