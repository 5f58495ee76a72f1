"""The fine-tuning objective: what the model is asked to get right on each training prompt, four weighted terms.

- `answer`: cross-entropy over the answer tokens (" B. Heat (1995)" + EOS), the paper's loss.
  Choosing the candidate is one token of it; the rest teaches copying a title.
- `listwise`: cross-entropy over the K candidates' one-pass scores (recsys.llm.readout), so every
  prompt trains the choice among all K candidates directly (LlamaRec's verbalizer as a loss).
- `distill`: KL(teacher || model) between the SR model's and the language model's distributions
  over the same K candidates, at a temperature: K soft targets per prompt instead of one hard one
  (as LLM-SRec / SLMRec distil the sequential recommender into the language model).
- `letters`: KL(read-out || letters) from the one-pass read-out's distribution (held fixed) to the K
  index letters' distribution where the answer starts, so that greedy decoding writes the letter of
  the candidate the ranking puts first: generation follows what the read-out learnt, instead of
  learning the choice a second time from one answer token.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from recsys.config import TrainParams
from recsys.llm.model import Llara
from recsys.llm.readout import Readout


@dataclass(frozen=True)
class Objective:
    answer_weight: float
    listwise_weight: float
    distill_weight: float
    letter_weight: float
    temperature: float

    @classmethod
    def from_params(cls, train: TrainParams) -> Objective:
        return cls(answer_weight=train.answer_weight, listwise_weight=train.listwise_weight,
                   distill_weight=train.distill_weight, letter_weight=train.letter_weight,
                   temperature=train.distill_temperature)

    @property
    def reads_choices(self) -> bool:
        """Whether the loss needs the candidates' one-pass scores."""
        return self.listwise_weight > 0 or self.distill_weight > 0 or self.letter_weight > 0


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """student, teacher [B, K] logits -> KL(softmax(teacher / T) || softmax(student / T)) * T^2, batch mean.

    The T^2 keeps the gradient's scale independent of T (Hinton et al., 2015).
    """
    log_student = F.log_softmax(student / temperature, dim=-1)
    log_teacher = F.log_softmax(teacher / temperature, dim=-1)
    return F.kl_div(log_student, log_teacher, log_target=True, reduction="batchmean") * temperature**2


class TrainingLoss(nn.Module):
    """The objective as a forward over a Llara (what DistributedDataParallel hooks into).

    Returns the weighted total and its parts (detached), all from one pass over the prompt. `letters` is the
    index letters' read-out the `letters` term trains (None: the prompts have no index letters).
    """

    def __init__(self, model: Llara, objective: Objective, readout: Readout | None, letters: Readout | None = None):
        super().__init__()
        if objective.reads_choices and readout is None:
            raise ValueError("the listwise, distillation and letter terms need a read-out")
        if objective.letter_weight and (letters is None or readout.kind == "letters"):
            raise ValueError("the letter term needs index letters and a read-out other than theirs")
        self.model, self.objective, self.readout, self.letters = model, objective, readout, letters

    def forward(self, input_ids, attention_mask, slot_pos, slot_items, labels, answer_pos, choice_pos, target_index,
                splice: bool, user_pos: torch.Tensor | None = None, user_state: torch.Tensor | None = None,
                teacher: torch.Tensor | None = None, candidate_items: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, dict[str, float]]:
        hidden = self.model.hidden_states(input_ids, attention_mask, slot_pos, slot_items, splice, user_pos,
                                          user_state)  # [B, T, H]
        goal = self.objective
        terms: dict[str, tuple[float, torch.Tensor]] = {}
        if goal.answer_weight:
            terms["answer"] = goal.answer_weight, self.model.answer_token_loss(hidden, labels)
        if goal.reads_choices:
            logits = self.model.choice_logits(hidden, self.readout, answer_pos, choice_pos, candidate_items,
                                              user_state)  # [B, K]
            if goal.listwise_weight:
                terms["listwise"] = goal.listwise_weight, F.cross_entropy(logits, target_index)
            if goal.distill_weight:
                terms["distill"] = goal.distill_weight, distillation_loss(logits, teacher, goal.temperature)
            if goal.letter_weight:
                letter_logits = self.model.choice_logits(hidden, self.letters, answer_pos, choice_pos)  # [B, K]
                terms["letters"] = goal.letter_weight, distillation_loss(letter_logits, logits.detach(), 1.0)
        total = sum(weight * value for weight, value in terms.values())
        return total, {name: float(value.detach()) for name, (_, value) in terms.items()}
