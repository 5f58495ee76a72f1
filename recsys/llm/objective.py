"""The fine-tuning objective: what the model is asked to get right on each training prompt.

- `answer`: cross-entropy over the answer tokens (" B. Heat (1995)" + EOS), the paper's loss.
  Choosing the candidate is one token of it; the rest teaches copying a title.
- `listwise`: cross-entropy over the K candidates' one-pass scores (recsys.llm.readout), so every
  prompt trains the choice among all K candidates directly (LlamaRec's verbalizer as a loss).
- distillation: KL(teacher || model) between the SR model's and the language model's distributions
  over the same K candidates, at a temperature: K soft targets per prompt instead of one hard one
  (as LLM-SRec / SLMRec distil the sequential recommender into the language model).
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
    temperature: float

    @classmethod
    def from_params(cls, train: TrainParams) -> Objective:
        return cls(answer_weight=float(train.objective in ("answer", "both")),
                   listwise_weight=float(train.objective in ("listwise", "both")),
                   distill_weight=train.distill_weight, temperature=train.distill_temperature)

    @property
    def reads_choices(self) -> bool:
        """Whether the loss needs the candidates' one-pass scores."""
        return self.listwise_weight > 0 or self.distill_weight > 0


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """student, teacher [B, K] logits -> KL(softmax(teacher / T) || softmax(student / T)) * T^2, batch mean.

    The T^2 keeps the gradient's scale independent of T (Hinton et al., 2015).
    """
    log_student = F.log_softmax(student / temperature, dim=-1)
    log_teacher = F.log_softmax(teacher / temperature, dim=-1)
    return F.kl_div(log_student, log_teacher, log_target=True, reduction="batchmean") * temperature**2


class TrainingLoss(nn.Module):
    """The objective as a forward over a Llara (what DistributedDataParallel hooks into).

    Returns the weighted total and its parts (detached), all from one pass over the prompt.
    """

    def __init__(self, model: Llara, objective: Objective, readout: Readout | None):
        super().__init__()
        if objective.reads_choices and readout is None:
            raise ValueError("the listwise and distillation terms need a read-out")
        self.model, self.objective, self.readout = model, objective, readout

    def forward(self, input_ids, attention_mask, slot_pos, slot_items, labels, answer_pos, choice_pos, target_index,
                splice: bool, teacher: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        hidden = self.model.hidden_states(input_ids, attention_mask, slot_pos, slot_items, splice)  # [B, T, H]
        goal = self.objective
        terms: dict[str, tuple[float, torch.Tensor]] = {}
        if goal.answer_weight:
            terms["answer"] = goal.answer_weight, self.model.answer_token_loss(hidden, labels)
        if goal.reads_choices:
            logits = self.model.choice_logits(hidden, self.readout, answer_pos, choice_pos)  # [B, K]
            if goal.listwise_weight:
                terms["listwise"] = goal.listwise_weight, F.cross_entropy(logits, target_index)
            if goal.distill_weight:
                terms["distill"] = goal.distill_weight, distillation_loss(logits, teacher, goal.temperature)
        total = sum(weight * value for weight, value in terms.values())
        return total, {name: float(value.detach()) for name, (_, value) in terms.items()}
