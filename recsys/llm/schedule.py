"""Which task an optimiser step trains: a pure function of the global step (and the seed).

The authors' code kept the curriculum counter inside data-loader workers that restart each epoch,
so p never reached 1; here p depends only on the step, and the draw on (seed, step), so a resumed
or multi-process run makes exactly the same choices.
"""

from __future__ import annotations

import numpy as np

from recsys.config import TrainParams


def hard_probability(step: int, total_steps: int, params: TrainParams) -> float:
    """p(step) of drawing the hard (behavioural) task; curriculum: 0 at the first step, 1 at the last."""
    if params.schedule == "curriculum":
        return step / max(total_steps - 1, 1)
    if params.schedule == "direct":
        return 1.0
    if params.schedule == "two-stage":
        return float(step >= params.two_stage_fraction * total_steps)
    return 0.0


def draw_task(step: int, total_steps: int, params: TrainParams) -> tuple[str, float]:
    """(prompt variant, p) for this step: `params.hard_variant` with probability p, else text."""
    p = hard_probability(step, total_steps, params)
    u = np.random.default_rng([params.seed, step]).random()
    return (params.hard_variant if u < p else "text"), p
