"""What the language model adds on top of the SR prior, and where it overrides the SR model's first choice.

    python bench/prior_correction.py [--dataset movielens] [--sr-model sasrec]   # the workspace's run
    python bench/prior_correction.py --experiment movielens-loo-llara-sasrec     # a recorded bench/experiments.py cell

With `train.sr_prior` the rank score of candidate k is the SR model's score s_k plus the language model's
read-out l_k, so l = rank_scores - s is the correction fine-tuning learnt. This reads the evaluation's
predictions.parquet (rank_scores) and the SR model's scores_test.parquet (s, matched by item id), and reports
the two parts' spread within a prompt, their correlation, how often the correction changes the SR model's first
choice, HR@1 of the correction ranking by itself, and HR@1 of s + w·l for a few w: whether a larger
correction would have helped (w is read off the test users, so it is a diagnosis, not a method). Then the
departures (users whose first choice differs from the SR model's) by how sure the SR model was: if they paid
where its two best scores are close, a gate on that margin would lift LLaRA above its backbone.
Writes bench/results/prior_correction.md (the workspace's run) or prior_correction-<experiment>.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import yaml
from dvc.repo import Repo

if __package__ in (None, ""):  # run as a script: `bench` is a package of the checkout's root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cells import backbone
from bench.experiments import experiment_ref, git, load_results
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


def departures_by_margin(prior: np.ndarray, ranked: np.ndarray, target: np.ndarray, bins: int = 4) -> list[str]:
    """Table rows, one per quantile of the SR model's margin (its best score minus its second best; prior and ranked
    [N, K], target [N] positions): users, both first choices' HR@1, the departures, and those won / lost (the
    departure hits, or the SR model's first choice did)."""
    best_two = np.sort(prior, axis=1)[:, -2:]  # [N, 2]
    margin = best_two[:, 1] - best_two[:, 0]  # [N]
    edges = np.quantile(margin, np.linspace(0, 1, bins + 1))  # [bins + 1]
    bin_of = np.clip(np.searchsorted(edges, margin, side="right") - 1, 0, bins - 1)  # [N]
    sr_first, lm_first = prior.argmax(1), ranked.argmax(1)  # [N]
    departs = sr_first != lm_first
    rows = []
    for b in range(bins):
        users = bin_of == b
        won, lost = (int(np.sum(users & departs & (first == target))) for first in (lm_first, sr_first))
        rows.append(f"| {edges[b]:.2f} to {edges[b + 1]:.2f} | {int(users.sum())} "
                    f"| {np.mean(sr_first[users] == target[users]):.3f} | {np.mean(lm_first[users] == target[users]):.3f} "
                    f"| {int(np.sum(users & departs))} | {won} / {lost} |")
    return rows


def experiment_output(name: str, path: Path) -> Path:
    """A DVC-tracked output of a recorded experiment: the cache file of the md5 its commit's dvc.lock names."""
    lock = yaml.safe_load(git("show", f"{experiment_ref(name)}:dvc.lock"))
    md5 = next((out["md5"] for stage in lock["stages"].values() for out in stage.get("outs", [])
                if out["path"] == path.as_posix()), None)
    if md5 is None:
        raise SystemExit(f"experiment {name!r}: its dvc.lock has no output {path.as_posix()}")
    cached = Path(Repo(ROOT).cache.local.oid_to_path(md5))  # wherever this checkout's DVC cache is configured
    if not cached.is_file():
        raise SystemExit(f"experiment {name!r}: {path.as_posix()} (md5 {md5}) is not in this checkout's DVC cache")
    return cached


def output_paths(dataset: str, sr_model: str) -> tuple[Path, Path]:
    """The run's predictions and the SR model's test scores, relative to the repository."""
    return (layout.metrics(dataset, sr_model) / "predictions.parquet",
            layout.sr_model(dataset, sr_model) / "scores_test.parquet")


def sources(dataset: str, sr_model: str, experiment: str | None) -> tuple[str, str, Path, Path, str]:
    """(data set, SR model, predictions.parquet, scores_test.parquet, the command's arguments): the workspace's run,
    or a recorded experiment's from the DVC cache."""
    if experiment:
        if (record := load_results().get(experiment)) is None:
            raise SystemExit(f"bench/results/experiments.json: no experiment {experiment!r}")
        dataset, sr_model = record["dataset"], backbone(record["cell"])
        return (dataset, sr_model, *(experiment_output(experiment, path) for path in output_paths(dataset, sr_model)),
                f"--experiment {experiment}")
    paths = output_paths(dataset, sr_model)
    if missing := [path.as_posix() for path in paths if not (ROOT / path).is_file()]:
        raise SystemExit(f"{missing[0]}: not in this workspace (`dvc repro` writes it), or name a recorded --experiment")
    return dataset, sr_model, *(ROOT / path for path in paths), f"--dataset {dataset} --sr-model {sr_model}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="movielens")
    parser.add_argument("--sr-model", default="sasrec")
    parser.add_argument("--experiment", help="a cell recorded in bench/results/experiments.json, e.g. "
                        "movielens-loo-llara-sasrec (its outputs from the DVC cache)")
    args = parser.parse_args()
    dataset, sr_model, predictions_path, scores_path, command = sources(args.dataset, args.sr_model, args.experiment)
    out = ROOT / f"bench/results/prior_correction{f'-{args.experiment}' if args.experiment else ''}.md"
    predictions = pq.read_table(predictions_path, columns=["user_id", "candidates", "target", "rank_scores"]).to_pandas()
    sr = pq.read_table(scores_path, columns=["user_id", "candidates", "scores"]).to_pandas()
    run = predictions.merge(sr, on="user_id", suffixes=("", "_sr"))
    ranked = np.stack(run["rank_scores"]).astype(np.float64)  # [N, K]
    prior = aligned_sr_scores(run["candidates"], run["candidates_sr"], run["scores"])  # [N, K]
    correction = ranked - prior  # [N, K]
    target = np.array([list(c).index(t) for c, t in zip(run["candidates"], run["target"])])  # [N]
    hits = {"SR model alone (s)": prior.argmax(1) == target, "LLaRA (s + l)": ranked.argmax(1) == target,
            "the correction alone (l)": correction.argmax(1) == target}
    hits |= {f"s + {w:g}·l": (prior + w * correction).argmax(1) == target for w in WEIGHTS}
    correlation = np.mean([np.corrcoef(c, p)[0, 1] for c, p in zip(correction, prior)])
    lines = [f"`{dataset}`, `{sr_model}`, {len(target)} test users (`python bench/prior_correction.py "
             f"{command}`)", "",
             f"- spread within a prompt (standard deviation over the K candidates, mean over users): "
             f"SR score {prior.std(1).mean():.3f}, correction {correction.std(1).mean():.3f}",
             f"- correlation of the correction with the SR score within a prompt: {correlation:.3f}",
             f"- users whose first choice the correction changes: {int((prior.argmax(1) != ranked.argmax(1)).sum())}",
             "", "| ranking | HR@1 [95% CI] |", "| --- | --- |",
             *(f"| {name} | {hits_rate(hit.astype(int))} |" for name, hit in hits.items()),
             "", "Departures by the SR model's margin (its best score minus its second best), in quartiles of users:",
             "", "| SR margin | users | SR HR@1 | LLaRA HR@1 | departures | won / lost |", "|" + " --- |" * 6,
             *departures_by_margin(prior, ranked, target)]
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines) + f"\nwritten: {out}")


if __name__ == "__main__":
    main()
