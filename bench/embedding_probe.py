"""How much of the ranking an SR model's item table carries by itself, with no model and no training.

    python bench/embedding_probe.py [--runs movielens-llara-sasrec ...]
    (default: every recorded llara-* run whose experiment commit is on this machine)

The hybrid prompt hands the language model the projected item embeddings of the history and of every
candidate, and the one-pass read-out scores each candidate at its own item token. The simplest thing a
short fine-tuning can learn from those vectors is their similarity, so the probe ranks each test
user's 20 candidates by the dot product of their embeddings with the mean embedding of the user's
last k history items (k = 1 and 10) and reports HR@1 beside the run's LLaRA rank HR@1, with the
exact McNemar p-value between the two on the same users. A backbone whose table scores items only
through its encoder (the probe near popularity) leaves the language model to learn that encoder.
The last columns put the user state in the probe's place: the SR model's own sequence state · item,
which is the SR model itself (its hits.csv column), the state the user token and the SR prior hand over.

Reads each recorded run's item table, test split and hits.csv from the experiment commit that
bench/experiments.py recorded (DVC's cache holds the tables) and writes bench/results/embedding_probe.md, where
the rows of runs not probed this time (their commits gone with an earlier machine) are kept as they were.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path

import dvc.api
import numpy as np
import pyarrow.parquet as pq
from safetensors.numpy import load

if __package__ in (None, ""):  # run as a script: `bench` is a package of the checkout's root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cells import backbone as backbone_of
from recsys import layout
from recsys.embeddings import KEY
from recsys.eval.outputs import hits_rate, parse_hits
from recsys.eval.paired import compare

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench/results/experiments.json"
WINDOWS = (1, 10)


def probe_hits(table: np.ndarray, histories: list[list[int]], candidates: np.ndarray, targets: np.ndarray,
               window: int) -> np.ndarray:
    """table [n_items, d], candidates [N, C], targets [N] -> 0/1 hits [N] of the history-similarity ranker.

    An empty history scores every candidate 0 and the tie goes to the first, which is a random position."""
    empty = np.zeros(table.shape[1], dtype=table.dtype)
    users = np.stack([table[h[-window:]].mean(axis=0) if h else empty for h in histories])  # [N, d]
    scores = np.einsum("ncd,nd->nc", table[candidates], users)  # [N, C]
    picked = candidates[np.arange(len(candidates)), scores.argmax(axis=1)]  # [N]
    return (picked == targets).astype(int)


def git_show(rev: str, path: str) -> str:
    return subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def recorded_hits(rev: str, dataset: str, backbone: str, n: int) -> dict[str, np.ndarray]:
    """The run's LLaRA rank and SR model hits [n] from its hits.csv, in test.parquet's row order (= example_id)."""
    example_ids, hits = parse_hits(git_show(rev, f"{layout.metrics(dataset, backbone).as_posix()}/hits.csv"))
    order = np.argsort(example_ids)
    if [example_ids[i] for i in order] != list(range(n)):
        raise SystemExit(f"{rev}: hits.csv of {dataset}/{backbone} names other examples than its {n} test rows")
    return {method: np.asarray(hits[method])[order] for method in ("rank", "sr")}


def probe_run(result: dict) -> dict:
    rev = result["rev"]
    dataset, backbone = result["dataset"], backbone_of(result["cell"])
    table_path = (layout.sr_model(dataset, backbone) / "item_embeddings.safetensors").as_posix()
    with dvc.api.open(table_path, repo=str(ROOT), rev=rev, mode="rb") as f:
        table = load(f.read())[KEY]  # [n_items, d] float32
    with dvc.api.open((layout.prepared(dataset) / "test.parquet").as_posix(), repo=str(ROOT), rev=rev, mode="rb") as f:
        test = pq.read_table(io.BytesIO(f.read()), columns=["history", "candidates", "target"])
    histories = test.column("history").to_pylist()
    candidates = np.array(test.column("candidates").to_pylist())  # [N, C]
    targets = test.column("target").to_numpy()  # [N]
    recorded = recorded_hits(rev, dataset, backbone, len(targets))
    probes = {k: probe_hits(table, histories, candidates, targets, k) for k in WINDOWS}
    return {"dataset": dataset, "backbone": backbone, "n": len(targets), "llara": recorded["rank"],
            "sr": recorded["sr"], "probes": probes}


def on_this_machine(rev: str) -> bool:
    return subprocess.run(["git", "cat-file", "-e", f"{rev}^{{commit}}"], cwd=ROOT, capture_output=True).returncode == 0


def run_of(row: str) -> str:
    """A report row's run name, the first `quoted` cell."""
    return row.split("`")[1]


def kept_rows(report: Path, probed: list[str], columns: int) -> list[str]:
    """The table rows of an earlier report for runs other than the probed ones, '-' in columns they lack."""
    rows = report.read_text().splitlines()[2:] if report.exists() else []  # past the header and its rule
    return [row + " - |" * (columns - row.count("|") + 1) for row in rows if run_of(row) not in probed]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+")
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text())
    args.runs = args.runs or sorted(run for run, result in results.items()
                                    if result["cell"].startswith("llara-") and on_this_machine(result["rev"]))
    missing = [run for run in args.runs if run not in results]
    if missing:
        raise SystemExit(f"{RESULTS}: no recorded run {', '.join(missing)} (run it with bench/experiments.py)")
    rows = []
    for run in args.runs:
        r = probe_run(results[run])
        p = [f"{compare(r['llara'], r['probes'][k])[2]:.3g}" for k in WINDOWS]
        rows.append(f"| `{run}` | {r['n']} | " + " | ".join(hits_rate(r["probes"][k]) for k in WINDOWS)
                    + f" | {hits_rate(r['llara'])} | " + " | ".join(p)
                    + f" | {hits_rate(r['sr'])} | {compare(r['llara'], r['sr'])[2]:.3g} |")
    out = ROOT / "bench/results/embedding_probe.md"
    header = ["run", "users", *(f"probe HR@1, last {k} [95% CI]" for k in WINDOWS), "LLaRA rank HR@1 [95% CI]",
              *(f"p LLaRA vs probe last {k}" for k in WINDOWS), "SR state · item (the SR model) HR@1 [95% CI]",
              "p LLaRA vs SR state"]
    lines = ["| " + " | ".join(header) + " |", "| --- | ---: |" + " --- |" * (len(header) - 2),
             *sorted(rows + kept_rows(out, args.runs, len(header)), key=run_of)]
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines) + f"\nwritten: {out}")


if __name__ == "__main__":
    main()
