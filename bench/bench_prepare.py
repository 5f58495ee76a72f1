"""Time `recsys prepare` and measure its peak memory on ML-100K and on synthetic logs.

    python bench/bench_prepare.py                    # ML-100K + 1M and 10M synthetic interactions
    python bench/bench_prepare.py --sizes 1000000    # a chosen set of synthetic sizes

Each run is a fresh `recsys prepare` process; peak memory is that process's max RSS. The synthetic
log has Zipf-distributed item popularity, users of varying length and integer timestamps.
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

OUT = Path(__file__).parent / "out" / "prepare"


def synthetic_log(root: Path, n_interactions: int, n_items: int, seed: int = 0) -> None:
    """Write inter.parquet and items.parquet: ~100 interactions per user, Zipf item popularity."""
    rng = np.random.default_rng(seed)
    n_users = max(n_interactions // 100, 10)
    users = rng.integers(0, n_users, n_interactions)
    items = (rng.zipf(1.2, n_interactions) - 1) % n_items
    stamps = rng.integers(0, 10**9, n_interactions)
    root.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"user_id": users, "item_id": items, "timestamp": stamps}), root / "inter.parquet")
    ids = np.arange(n_items)
    pq.write_table(pa.table({"item_id": ids, "title": pa.array([f"Item {i}" for i in ids])}), root / "items.parquet")


def run_prepare(params: dict, workdir: Path) -> tuple[float, float, dict]:
    """-> (wall seconds, peak RSS in MiB, stats.json) of one `recsys prepare` process."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    script = (
        "import resource, sys, time; from stages.cli import app; t = time.perf_counter()\n"
        "try:\n    app(['prepare', '--params', 'params.yaml', '--out', 'prepared'])\n"
        "except SystemExit as e:\n    code = e.code\n"
        "print('BENCH', time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
        "sys.exit(code)"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=workdir, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    line = [l for l in done.stderr.splitlines() if l.startswith("BENCH")][-1].split()
    stats = yaml.safe_load((workdir / "prepared" / "stats.json").read_text())
    return float(line[1]), float(line[2]) / 1024, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument("--items", type=int, default=100_000, help="items in the synthetic catalogue")
    args = parser.parse_args()
    rows = []
    wall, rss, stats = run_prepare(
        {"data": {"dataset": "movielens"}, "datasets": {"movielens": {"source": "movielens-100k"}}}, OUT / "ml100k"
    )
    rows.append(("ML-100K (packaged)", stats, wall, rss))
    for size in args.sizes:
        root = OUT / f"synthetic-{size}-{args.items}"  # the cached log depends on both
        if not (root / "inter.parquet").exists():
            synthetic_log(root, size, args.items)
        fmt = {"interactions": "inter.parquet", "items": "items.parquet"}
        params = {"data": {"dataset": "synthetic"},
                  "datasets": {"synthetic": {"source": "interactions", "path": str(root.resolve()), "format": fmt}}}
        wall, rss, stats = run_prepare(params, root)
        rows.append((f"synthetic {size:,}", stats, wall, rss))
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}")
    print("| data | interactions | users | items | train examples | wall (s) | peak RSS (MiB) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, stats, wall, rss in rows:
        print(f"| {name} | {stats['interactions']:,} | {stats['users']:,} | {stats['items']:,} | "
              f"{stats['examples']['train']:,} | {wall:.1f} | {rss:,.0f} |")


if __name__ == "__main__":
    main()
