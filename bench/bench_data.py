"""Time the data stages (`recsys prepare`, `recsys materialize`) and measure their peak memory.

    python bench/bench_data.py                                   # ML-100K + 1M and 10M synthetic interactions
    python bench/bench_data.py --sizes 30000000 --memory-limit 1GB

Each stage runs as a fresh process; peak memory is that process's max RSS. The synthetic log has
Zipf-distributed item popularity over a catalogue of --items items (a million by default), ~100
interactions per user and integer timestamps. materialize needs the base model's tokenizer
(models/base/<llm>, made by `dvc repro fetch-model`).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

if __package__ in (None, ""):  # run as `python bench/<script>.py`: `bench` is a package of the checkout's root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import machine  # noqa: E402
from recsys import layout  # noqa: E402
from recsys.data.stats import PreparedStats  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).parent / "out" / "data"
MEASURE = (
    "import resource, sys, time; t = time.perf_counter(); from stages.cli import app\n"
    "try:\n    app(sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code\n"
    "print('BENCH', time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)"
)


def synthetic_log(root: Path, n_interactions: int, n_items: int, seed: int = 0) -> None:
    """Write inter.parquet and items.parquet: ~100 interactions per user, Zipf item popularity."""
    rng = np.random.default_rng(seed)
    n_users = max(n_interactions // 100, 10)
    root.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(root / "inter.parquet", pa.schema(
            [("user_id", pa.int64()), ("item_id", pa.int64()), ("timestamp", pa.int64())])) as writer:
        for start in range(0, n_interactions, 1_000_000):
            n = min(1_000_000, n_interactions - start)
            writer.write_table(pa.table({"user_id": rng.integers(0, n_users, n),
                                         "item_id": (rng.zipf(1.2, n) - 1) % n_items,
                                         "timestamp": rng.integers(0, 10**9, n)}))
    ids = np.arange(n_items)
    pq.write_table(pa.table({"item_id": ids, "title": pa.array([f"Item {i}" for i in ids])}), root / "items.parquet")


def run_stage(workdir: Path, *args: str) -> tuple[float, float]:
    """-> (wall seconds, peak RSS in MiB) of one `recsys <args>` process run in `workdir`."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", MEASURE, *args], cwd=workdir, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    line = [l for l in done.stderr.splitlines() if l.startswith("BENCH")][-1].split()
    return float(line[1]), float(line[2]) / 1024


def bench(name: str, workdir: Path, dataset: dict, memory_limit: str) -> dict:
    """prepare then materialize one dataset in `workdir`; -> a row of the table."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "params.yaml").write_text(yaml.safe_dump({"data": {"dataset": "bench"}, "datasets": {"bench": dataset}}))
    base = layout.base_model("any", workdir).parent  # the folder of every base model, shared with the checkout
    if not base.exists():
        base.parent.mkdir(parents=True, exist_ok=True)
        base.symlink_to(layout.base_model("any", ROOT).parent, target_is_directory=True)
    prepare = run_stage(workdir, "prepare", "--memory-limit", memory_limit)
    materialize = run_stage(workdir, "materialize")
    stats = PreparedStats.read(layout.prepared("bench", workdir))
    return {"name": name, "stats": stats, "prepare": prepare, "materialize": materialize}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument("--items", type=int, default=1_000_000, help="items in the synthetic catalogue")
    parser.add_argument("--memory-limit", default="2GB", help="prepare's DuckDB memory cap")
    parser.add_argument("--skip-movielens", action="store_true")
    args = parser.parse_args()
    if not (ROOT / "models" / "base").is_dir():
        raise SystemExit(f"{ROOT / 'models/base'}: missing; run `dvc repro fetch-model` first (materialize needs the tokenizer)")
    rows = []
    if not args.skip_movielens:
        rows.append(bench("ML-100K (packaged)", OUT / "ml100k", {"source": "movielens-100k"}, args.memory_limit))
    for size in args.sizes:
        root = OUT / f"synthetic-{size}-{args.items}"
        if not (root / "items.parquet").exists():
            synthetic_log(root, size, args.items)
        fmt = {"interactions": "inter.parquet", "items": "items.parquet"}
        dataset = {"source": "interactions", "path": str(root.resolve()), "format": fmt}
        rows.append(bench(f"synthetic {size:,}", root, dataset, args.memory_limit))
    _, import_rss = run_stage(ROOT, "--help")
    print(f"machine: {machine()}, Python {platform.python_version()}")
    print(f"prepare --memory-limit {args.memory_limit}; importing the recsys command alone: {import_rss:,.0f} MiB RSS")
    print("| data | interactions | users | items | train windows | prepare (s) | prepare peak RSS (MiB) "
          "| materialize (s) | materialize peak RSS (MiB) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        s, (pw, pr), (mw, mr) = row["stats"], row["prepare"], row["materialize"]
        print(f"| {row['name']} | {s.interactions:,} | {s.users:,} | {s.items:,} | {s.examples['train']:,} "
              f"| {pw:.1f} | {pr:,.0f} | {mw:.1f} | {mr:,.0f} |")


if __name__ == "__main__":
    main()
