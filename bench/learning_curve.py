"""Validation HR@1 against training prompts seen, for recorded experiments: would more budget close the gap?

    python bench/learning_curve.py [--runs movielens-llara-sasrec movielens-text-only]

Reads each run's val_curve.csv (written by finetune at train.eval_points steps, the model's one-pass
read-out on the validation users) from the experiment commit that bench/experiments.py recorded, and
writes bench/results/learning_curve.md (a table) and .png (a chart). `dvc plots diff <exp> ...` draws
the same curves from DVC's side.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import matplotlib

if __package__ in (None, ""):  # run as a script: `bench` is a package of the checkout's root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cells import backbone
from recsys import layout

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench/results/experiments.json"


def curve(result: dict) -> list[dict]:
    path = (layout.llara(result["dataset"], backbone(result["cell"])) / "val_curve.csv").as_posix()
    text = subprocess.run(["git", "show", f"{result['rev']}:{path}"], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout
    return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(io.StringIO(text))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", default=["movielens-llara-sasrec", "movielens-text-only"])
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text())
    curves = {run: curve(results[run]) for run in args.runs}
    steps = sorted({row["prompts"] for rows in curves.values() for row in rows})
    lines = ["| training prompts seen | " + " | ".join(f"`{run}` val HR@1" for run in curves) + " |",
             "|---:|" + "---:|" * len(curves)]
    for seen in steps:
        cells = [next((f"{r['val_hr@1']:.3f}" for r in rows if r["prompts"] == seen), "") for rows in curves.values()]
        lines.append(f"| {seen:.0f} | " + " | ".join(cells) + " |")
    out = ROOT / "bench/results/learning_curve"
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    fig, ax = plt.subplots(figsize=(6, 4))
    for run, rows in curves.items():
        ax.plot([r["prompts"] for r in rows], [r["val_hr@1"] for r in rows], marker="o", label=run)
    ax.set_xlabel("training prompts seen")
    ax.set_ylabel("validation HR@1 (one-pass read-out)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=120)
    print("\n".join(lines) + f"\nwritten: {out}.md, {out}.png")


if __name__ == "__main__":
    main()
