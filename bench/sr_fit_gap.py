"""How much better the SR model knows the windows it was fitted on than unseen ones: its first choice's HR@1 on the
prompts of each split.

    python bench/sr_fit_gap.py [--dataset movielens] [--root .]

With `prompts.candidate_order: sr` a behavioural prompt lists the SR model's first choice first, so its HR@1 on a
split is the share of hybrid prompts whose first candidate is the target. The LM's training prompts are windows the
SR model was fitted on; the gap between them and val/test is how over-confident the SR signals the LM learns to
read there (the item scores, the user token, the prior) are against the users it is tested on: what
`train.examples_from: val` (stacking's out-of-fold rule) removes. `--root` reads another checkout's workspace, e.g.
one where `dvc exp run -S data.dataset=movielens-loo` ran. Writes bench/results/sr_fit_gap-<dataset>.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: `bench` is a package of the checkout's root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys import layout  # noqa: E402
from recsys.errors import InputError  # noqa: E402
from recsys.eval.outputs import hits_rate  # noqa: E402
from recsys.prompts.manifest import PromptManifest  # noqa: E402
from recsys.prompts.shards import read_all  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SPLITS = ("train", "val", "test")


def first_choice_hits(prompts: Path, split: str) -> np.ndarray:
    """[N] 1 where the split's hybrid prompt lists the target first (the SR model's first choice is right)."""
    table = read_all(prompts / split / "hybrid")
    first = [candidates[0] for candidates in table.column("candidates").to_pylist()]
    return (np.array(first) == np.array(table.column("target").to_pylist())).astype(int)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="movielens")
    parser.add_argument("--llm", default="smollm2-135m")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose workspace holds the prompts")
    args = parser.parse_args()
    prompts = layout.prompts(args.dataset, args.llm, args.root)
    try:
        manifest = PromptManifest.read(prompts)
    except InputError as error:
        raise SystemExit(str(error)) from None
    if manifest.candidate_order != "sr":
        raise SystemExit(f"{prompts}: candidates in the {manifest.candidate_order} order, so the first is not the SR "
                         "model's choice (materialize with prompts.candidate_order: sr)")
    lines = [f"`{args.dataset}`, {Path(manifest.order_model).name} (`python bench/sr_fit_gap.py --dataset "
             f"{args.dataset}`): the SR model's first choice on each split's prompts", "",
             "| split | prompts | SR HR@1 [95% CI] |", "| --- | ---: | --- |"]
    for split in SPLITS:
        hits = first_choice_hits(prompts, split)
        lines.append(f"| {split} | {len(hits):,} | {hits_rate(hits)} |")
    out = ROOT / f"bench/results/sr_fit_gap-{args.dataset}.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines) + f"\nwritten: {out}")


if __name__ == "__main__":
    main()
