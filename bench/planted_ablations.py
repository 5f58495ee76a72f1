"""What the user token needs, on the planted sequences of tests/test_planted_sequence.py: each piece taken away once.

    python bench/planted_ablations.py        # about 5 minutes on 2 CPU cores; writes bench/results/planted_ablations.md

The planted data make the embedding probe sit at chance while a pretrained SASRec gets >= 0.95, so only the SR state
can decide the choice. Arms: the user token; the same with the `[USR]` slot left at its token embedding (no user
splice); with the user projector frozen at its initialisation (no gradient); with the item scores; and, for the
item-score model trained with the letter term, the index letters' own HR@1 (what generation's first token reads).
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

from bench.machine import machine  # noqa: E402
from helpers import planted_hr1  # noqa: E402
from recsys.llm import behaviour  # noqa: E402
from recsys.llm.model import load_llara  # noqa: E402
from recsys.llm.ranking import choice_scores  # noqa: E402
from recsys.llm.readout import Readout  # noqa: E402
from recsys.llm.sr_signals import prompt_table  # noqa: E402
from recsys.prompts.manifest import PromptManifest  # noqa: E402
from test_planted_sequence import TRAIN, planted_sequences  # noqa: E402

OUT = ROOT / "bench/results/planted_ablations.md"


def without_user_splice(splice):
    def patched(self, embeds, slot_pos, slot_items, user_pos=None, user_state=None):
        return splice(self, embeds, slot_pos, slot_items, None, None)
    return patched


def with_frozen_user_projector(init):
    def patched(self, *args, **kwargs):
        init(self, *args, **kwargs)
        if self.user_projector is not None:
            self.user_projector.requires_grad_(False)
    return patched


def letters_hr1(root: Path, name: str) -> float:
    """Validation HR@1 of the index letters' logits where the answer starts, for the model trained as `name`."""
    prompts = root / "prompts-user"
    model, tokenizer, card = load_llara(root / name)
    table = prompt_table(prompts / "val" / card.variant, root / "sr", PromptManifest.read(prompts))
    letters = Readout("letters", tuple(card.index_letters))
    scores = choice_scores(model, table, np.arange(table.num_rows), letters, True, tokenizer.pad_token_id, 50)
    candidates = np.array(table.column("candidates").to_pylist())
    return float(np.mean(candidates[np.arange(len(scores)), scores.argmax(1)] == table.column("target").to_numpy()))


def main() -> None:
    root = Path(tempfile.mkdtemp())
    planted_sequences(root)
    user = dataclasses.replace(TRAIN, item_scores=False)
    rows = [("user token", 80, planted_hr1(root, root / "prompts-user", user, "user"))]
    splice, init = behaviour.BehaviourTokens.splice, behaviour.BehaviourTokens.__init__
    behaviour.BehaviourTokens.splice = without_user_splice(splice)
    rows.append(("no user splice ([USR] keeps its token embedding)", 80,
                 planted_hr1(root, root / "prompts-user", user, "no-splice")))
    behaviour.BehaviourTokens.splice = splice
    behaviour.BehaviourTokens.__init__ = with_frozen_user_projector(init)
    rows.append(("user projector frozen (no gradient)", 80, planted_hr1(root, root / "prompts-user", user, "frozen")))
    behaviour.BehaviourTokens.__init__ = init
    rows.append(("user token, 40 steps", 40, planted_hr1(root, root / "prompts-user",
                                                         dataclasses.replace(user, max_steps=40), "user-40")))
    scores = dataclasses.replace(TRAIN, item_scores=True, max_steps=40, answer_weight=1.0, letter_weight=1.0)
    rows.append(("item scores (+ answer and letter terms), slot read-out", 40,
                 planted_hr1(root, root / "prompts-user", scores, "scores")))
    rows.append(("the same model's index letters (generation's first token)", 40, letters_hr1(root, "scores")))
    lines = ["| arm | steps | validation HR@1 |", "|---|---:|---:|"] + [f"| {a} | {s} | {hr:.2f} |" for a, s, hr in rows]
    OUT.write_text(f"Planted sequences (`python bench/planted_ablations.py` on {machine()}), 100 validation users, "
                   "5 candidates (chance 0.20):\n\n" + "\n".join(lines) + "\n")
    print(OUT.read_text())


if __name__ == "__main__":
    main()
