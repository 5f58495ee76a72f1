"""Paired comparisons on the same examples: is one method's HR@1 really above another's?

Exact McNemar tests on per-example hits; every LLaRA mode against the SR model and popularity.
"""

from __future__ import annotations

import numpy as np

from recsys.metrics import mcnemar_p


def paired_tests(hits: dict[str, np.ndarray], baselines: dict[str, np.ndarray]) -> dict[str, float]:
    """`paired.<mode>_vs_<baseline>.p` and the HR@1 difference for every mode x baseline pair."""
    out: dict[str, float] = {}
    for mode, mine in hits.items():
        for name, theirs in baselines.items():
            out[f"paired.{mode}_vs_{name}.p"] = mcnemar_p(mine, theirs)
            out[f"paired.{mode}_vs_{name}.diff"] = float(np.mean(mine) - np.mean(theirs))
    return out
