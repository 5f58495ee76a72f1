"""Paired comparisons on the same examples: is one method's HR@1 really above another's?

Exact McNemar tests on per-example hits: every LLaRA mode against the SR model and popularity in the
evaluate stage, and any two recorded runs in the benches, through `compare`; `holm` corrects a family of them.
"""

from __future__ import annotations

import numpy as np

from recsys.eval.outputs import paired_key
from recsys.metrics import mcnemar_p


def compare(mine, theirs) -> tuple[float, float, float]:
    """Two methods' 0/1 hits on the same examples -> (HR@1 of mine, HR@1 of theirs, exact McNemar p)."""
    mine, theirs = np.asarray(mine), np.asarray(theirs)
    return float(np.mean(mine)), float(np.mean(theirs)), mcnemar_p(mine, theirs)


def paired_tests(hits: dict[str, np.ndarray], baselines: dict[str, np.ndarray]) -> dict[str, float]:
    """`paired.<mode>_vs_<baseline>.p` and the HR@1 difference for every mode x baseline pair."""
    out: dict[str, float] = {}
    for mode, mine in hits.items():
        for name, theirs in baselines.items():
            ours, others, p = compare(mine, theirs)
            out[paired_key(mode, name)] = p
            out[paired_key(mode, name, "diff")] = ours - others
    return out


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjustment, in the input order: the k-th smallest of m p-values is multiplied by m - k + 1
    and kept at least as large as the one before it, so rejecting where the result is < alpha controls the
    family-wise error rate at alpha over all m claims."""
    order = np.argsort(pvalues, kind="stable")
    adjusted, running = [0.0] * len(pvalues), 0.0
    for k, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - k) * pvalues[i]))
        adjusted[i] = running
    return adjusted
