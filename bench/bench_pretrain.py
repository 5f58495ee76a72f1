"""Benchmark stage 1: train SASRec, GRU4Rec and Caser (MoRec with --models morec) with the default
`sr` params and print a Markdown table of wall time, peak memory and test metrics.

    python bench/bench_pretrain.py --prepared data/prepared/movielens [--models morec] [--set lr=0.002 ...]

Each training runs in its own process, so its peak resident memory (getrusage maxrss) is its
own. data/prepared/lastfm is added when it exists. Paper figures: the MovieLens and LastFM HR@1 (20
candidates) of the conventional recommenders in LLaRA (Liao et al., 2024).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/<script>.py`: `bench` is a package of the checkout's root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import machine  # noqa: E402
from recsys import layout  # noqa: E402
from recsys.eval.outputs import rate, sr_hr1  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PAPER_HR1 = {
    "movielens": {"gru4rec": 0.3750, "caser": 0.3861, "sasrec": 0.3444},
    "lastfm": {"gru4rec": 0.2616, "caser": 0.2233, "sasrec": 0.2233},
}
CONVENTIONAL = ("sasrec", "gru4rec", "caser")
MODELS = (*CONVENTIONAL, "morec")  # MoRec on request: --models morec


def train_one(model: str, prepared: Path, overrides: list[str]) -> dict:
    """Run in the worker process: train one model into a scratch directory, report as a dict."""
    import resource
    import tempfile
    import time

    import torch

    from recsys.config import SRParams, build, parse_override
    from recsys.sr import pretrain

    values = {"model": model}
    for text in overrides:
        keys, value = parse_override(text)
        values[keys[-1]] = value
    params = build(SRParams, values, "--set")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        metrics = pretrain(params, prepared, Path(out), progress=False)
    return {
        **metrics,
        "wall_seconds": time.perf_counter() - start,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }


def run_worker(model: str, prepared: Path, overrides: list[str]) -> dict:
    command = [sys.executable, __file__, "--worker", model, "--prepared", str(prepared)]
    for text in overrides:
        command += ["--set", text]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{model} on {prepared} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def row(dataset: str, model: str, r: dict) -> str:
    paper = PAPER_HR1.get(dataset, {}).get(model)
    cells = [
        dataset, model, f"{r['wall_seconds']:.0f}", f"{r['epochs_run']} ({r['best_epoch']})",
        f"{r['peak_rss_mib']:.0f}", f"{r['val.hr@1']:.4f}", rate(r, sr_hr1("test")), f"{r['test.ndcg@5']:.4f}",
        f"{r['test.full.hr@10']:.4f}", f"{r['popularity.test.hr@1']:.4f}",
        "-" if paper is None else f"{paper:.4f}", str(r["test.n"]),
    ]
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepared", type=Path, action="append", help="prepared dataset dir")
    parser.add_argument("--models", nargs="+", default=list(CONVENTIONAL), choices=MODELS)
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="override an sr param, e.g. --set lr=0.002")
    parser.add_argument("--worker", choices=MODELS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    prepared = args.prepared or [layout.prepared("movielens", ROOT)]
    if args.worker:
        print(json.dumps(train_one(args.worker, prepared[0], args.overrides)))
        return
    lastfm = layout.prepared("lastfm", ROOT)
    if lastfm.is_dir() and lastfm.resolve() not in {p.resolve() for p in prepared}:
        prepared.append(lastfm)

    lines = [
        "| dataset | model | wall s | epochs (best) | peak RSS MiB | val HR@1 | test HR@1 [95% CI] "
        "| test NDCG@5 | test full HR@10 | popularity HR@1 | paper HR@1 | n test |",
        "|" + " --- |" * 12,
    ]
    for directory in prepared:
        for model in args.models:
            result = run_worker(model, directory, args.overrides)
            lines.append(row(directory.name, model, result))
            print(lines[-1], file=sys.stderr, flush=True)
    print(f"Machine: {machine()}, torch {result['torch']} with {result['torch_threads']} "
          f"threads. Overrides: {' '.join(args.overrides) or 'none (defaults)'}.\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
