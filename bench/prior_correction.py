"""What the language model adds on top of the SR prior, from the committed run's own outputs.

    python bench/prior_correction.py [--dataset movielens] [--sr-model sasrec]

With `train.sr_prior` the rank score of candidate k is the SR model's score s_k plus the language model's
read-out l_k, so l = rank_scores - s is the correction fine-tuning learnt. This reads the evaluation's
predictions.parquet (rank_scores) and the SR model's scores_test.parquet (s, matched by item id), and reports
the two parts' spread within a prompt, their correlation, how often the correction changes the SR model's first
choice, HR@1 of the correction ranking by itself, and HR@1 of s + w·l for a few w: whether a larger
correction would have helped (w is read off the test users, so it is a diagnosis, not a method).
Writes bench/results/prior_correction.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

if __package__ in (None, ""):  # run as a script: `bench` is a package of the checkout's root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys import layout
from recsys.eval.outputs import hits_rate

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = (0.5, 2.0, 4.0)  # w = 1 is LLaRA itself


def aligned_sr_scores(candidates: list[list[int]], sr_candidates: list[list[int]], sr_scores: list[list[float]]
                      ) -> np.ndarray:
    """[N, K]: the SR model's score of each prompt candidate, in the prompt's order (scores_test lists its own)."""
    rows = []
    for shown, listed, scores in zip(candidates, sr_candidates, sr_scores):
        by_item = dict(zip(listed, scores))
        rows.append([by_item[item] for item in shown])
    return np.asarray(rows, dtype=np.float64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="movielens")
    parser.add_argument("--sr-model", default="sasrec")
    args = parser.parse_args()
    predictions = pq.read_table(ROOT / layout.metrics(args.dataset, args.sr_model) / "predictions.parquet",
                                columns=["user_id", "candidates", "target", "rank_scores"]).to_pandas()
    sr = pq.read_table(ROOT / layout.sr_model(args.dataset, args.sr_model) / "scores_test.parquet",
                       columns=["user_id", "candidates", "scores"]).to_pandas()
    run = predictions.merge(sr, on="user_id", suffixes=("", "_sr"))
    ranked = np.stack(run["rank_scores"]).astype(np.float64)  # [N, K]
    prior = aligned_sr_scores(run["candidates"], run["candidates_sr"], run["scores"])  # [N, K]
    correction = ranked - prior  # [N, K]
    target = np.array([list(c).index(t) for c, t in zip(run["candidates"], run["target"])])  # [N]
    hits = {"SR model alone (s)": prior.argmax(1) == target, "LLaRA (s + l)": ranked.argmax(1) == target,
            "the correction alone (l)": correction.argmax(1) == target}
    hits |= {f"s + {w:g}·l": (prior + w * correction).argmax(1) == target for w in WEIGHTS}
    correlation = np.mean([np.corrcoef(c, p)[0, 1] for c, p in zip(correction, prior)])
    lines = [f"`{args.dataset}`, `{args.sr_model}`, {len(target)} test users "
             f"(`python bench/prior_correction.py --dataset {args.dataset} --sr-model {args.sr_model}`)", "",
             f"- spread within a prompt (standard deviation over the K candidates, mean over users): "
             f"SR score {prior.std(1).mean():.3f}, correction {correction.std(1).mean():.3f}",
             f"- correlation of the correction with the SR score within a prompt: {correlation:.3f}",
             f"- users whose first choice the correction changes: {int((prior.argmax(1) != ranked.argmax(1)).sum())}",
             "", "| ranking | HR@1 [95% CI] |", "| --- | --- |",
             *(f"| {name} | {hits_rate(hit.astype(int))} |" for name, hit in hits.items())]
    out = ROOT / "bench/results/prior_correction.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines) + f"\nwritten: {out}")


if __name__ == "__main__":
    main()
