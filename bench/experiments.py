"""The paper's research questions as named DVC experiments, and the tables they fill.

    python bench/experiments.py run --dataset movielens --cells llara-sasrec text-only
    python bench/experiments.py run --dataset movielens --table rq3      # every cell of a table
    python bench/experiments.py tables                                  # rewrite EXPERIMENTS.md

`run` calls `dvc exp run --temp -n <dataset>-<cell> -S data.dataset=<dataset> -S ...` for each cell in turn (in a
temporary copy of the workspace, uncommitted changes included: an edit made while a cell is being copied becomes part
of it, one made after does not), then records the experiment's metrics.json, hits.csv and wall time in
bench/results/experiments.json. The cells, their overrides and the tables are data, in bench/cells.py. Cells already
recorded under today's settings (bench.cells.settings) are skipped unless --force; one recorded under other
defaults runs again. `tables` renders that file as Markdown with 95% intervals, paired McNemar tests
(recsys.eval) and the paper's figures beside them; every row names its experiment.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/experiments.py`: `bench` is a package of the checkout's root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cells import (CELLS, NO_LANGUAGE_MODEL, ROOT, STOPS, TABLES, ZERO_SHOT_CELLS, asked, backbone, current,
                         datasets, overrides, settings)
from bench.machine import machine
from bench.tables import ARCHIVE, render, rows_recorded_elsewhere
from recsys import layout
from recsys.eval.outputs import parse_hits
from recsys.inputs import DATA_ROOT

RESULTS = ROOT / "bench/results/experiments.json"
REPORT = ROOT / "EXPERIMENTS.md"


def load_results() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}


def record(result: dict) -> None:
    """Add one cell's record to the file as it is now, not as it was when the run began: what changed in it while
    the cell ran (another run's record, a record edited by hand) stays."""
    results = load_results() | {f"{result['dataset']}-{result['cell']}": result}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def require_branch(root: Path = ROOT) -> None:
    """Refuse to run on a detached HEAD: a `dvc exp run` stopped while it starts leaves one, and every result
    committed after it would then sit on no branch (and never reach CI)."""
    if subprocess.run(["git", "symbolic-ref", "-q", "HEAD"], cwd=root, capture_output=True).returncode:
        raise SystemExit(f"{root}: HEAD is detached (a `dvc exp run` stopped during its start leaves it so): "
                         "`git switch <branch>` before running cells")


def run_command(dataset: str, cell: str, force: bool) -> list[str]:
    """`dvc exp run --temp -n <dataset>-<cell> -S ...`, with the stage it stops at for a cell that stops early."""
    command = ["dvc", "exp", "run", "--temp", "-n", f"{dataset}-{cell}", "-S", f"data.dataset={dataset}"]
    for key, value in overrides(dataset, cell).items():
        command += ["-S", f"{key}={value}"]
    return command + (["--force"] if force else []) + ([STOPS[cell]] if cell in STOPS else [])


def run_cell(dataset: str, cell: str, force: bool) -> dict:
    """One `dvc exp run --temp`, then its metrics and hits read back from the experiment's commit."""
    command = run_command(dataset, cell, force)
    print("$ " + " ".join(command), flush=True)
    # the temporary copy runs elsewhere: relative data paths (../shared/...) are taken from this checkout
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           DATA_ROOT: str(ROOT)}
    began = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, env=env)
    return read_cell(dataset, cell, " ".join(command), round(time.perf_counter() - began))


def experiment_ref(name: str) -> str:
    """A named experiment's newest commit under refs/exps (a cell rerun on another baseline leaves the older ref)."""
    refs = [r for r in git("for-each-ref", "--sort=-creatordate", "--format=%(refname)", "refs/exps").split()
            if r.endswith(f"/{name}")]
    if not refs:
        raise SystemExit(f"experiment {name!r}: no refs/exps entry (`dvc exp run` records one; see its output)")
    return refs[0]


def read_cell(dataset: str, cell: str, command: str, seconds: int) -> dict:
    """A cell's record from its experiment's commit."""
    ref = experiment_ref(f"{dataset}-{cell}")
    zero = layout.metrics(dataset, layout.ZERO_SHOT).as_posix()
    evaluated = zero if cell in NO_LANGUAGE_MODEL else layout.metrics(dataset, backbone(cell)).as_posix()
    result = {"dataset": dataset, "cell": cell, "command": command, "rev": git("rev-parse", ref).strip(),
              "wall_seconds": seconds, "machine": machine(), "settings": settings(dataset, cell),
              "metrics": json.loads(git("show", f"{ref}:{evaluated}/metrics.json")),
              "hits": parse_hits(git("show", f"{ref}:{evaluated}/hits.csv"))[1]}
    if cell in ZERO_SHOT_CELLS:
        result["zero_shot"] = json.loads(git("show", f"{ref}:{zero}/metrics.json"))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run cells as DVC experiments and record their metrics")
    run.add_argument("--dataset", default="movielens", choices=datasets())
    run.add_argument("--cells", nargs="+", choices=sorted(CELLS), default=[])
    run.add_argument("--table", choices=sorted(TABLES), help="run every cell of this table")
    run.add_argument("--force", action="store_true", help="rerun cells already recorded")
    sub.add_parser("tables", help=f"rewrite {REPORT.name} from the recorded results")
    args = parser.parse_args()
    if args.command == "run":
        for cell in dict.fromkeys(args.cells + (asked(args.table, args.dataset) if args.table else [])):
            results = load_results()
            recorded = results.get(f"{args.dataset}-{cell}")
            if recorded and current(recorded) and not args.force:
                print(f"{args.dataset}-{cell}: recorded, skipped (--force reruns it)")
                continue
            if rows_recorded_elsewhere(args.dataset, cell, results) and not args.force:
                print(f"{args.dataset}-{cell}: its rows are recorded by other cells, skipped (--force runs it)")
                continue
            require_branch()
            record(run_cell(args.dataset, cell, args.force))
    REPORT.write_text(render(load_results(), json.loads(ARCHIVE.read_text()) if ARCHIVE.exists() else None) + "\n")
    print(f"wrote {REPORT}")


if __name__ == "__main__":
    main()
