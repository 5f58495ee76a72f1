"""How one forward pass scores all K candidates of a prompt: the model's [B, K] choice logits.

- `letters` (LlamaRec's verbalizer): the logits of the K index letters at the position where the
  answer starts. To use it the model must find the best candidate and copy its letter: two hops
  of attention, which a pretrained model can learn (the planted-signal test) but which moved
  nothing on ML-100K within this project's CPU budget (BENCHMARKS.md).
- `slot`: the logit of READOUT_TOKEN (" Yes") at each candidate's own item token, the position
  that has read the whole history and the candidate (its behavioural token is that position's
  input). Popularity is then a linear read of the projected embedding and preference one hop of
  attention to the history; causal attention lets candidate k also see candidates before it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from recsys.prompts.manifest import PromptManifest


@dataclass(frozen=True)
class Readout:
    kind: str
    token_ids: tuple[int, ...]  # letters: the K index letters; slot: the one read-out token

    @classmethod
    def from_manifest(cls, kind: str, manifest: PromptManifest) -> Readout | None:
        """The read-out `kind` over the tokens the prompts were materialised with; None where they lack them."""
        tokens = manifest.index_letters if kind == "letters" else [manifest.readout_token]
        return cls(kind, tuple(tokens)) if tokens and None not in tokens else None


    def logits(self, lm_head: torch.nn.Module, hidden: torch.Tensor, answer_pos: torch.Tensor,
               choice_pos: torch.Tensor) -> torch.Tensor:
        """hidden [B, T, H]; answer_pos [B]; choice_pos [B, K] -> [B, K] float32 choice logits."""
        rows = torch.arange(hidden.shape[0], device=hidden.device)
        ids = torch.tensor(self.token_ids, device=hidden.device)
        if self.kind == "letters":
            return lm_head(hidden[rows, answer_pos]).float()[:, ids]  # [B, K]
        at_choices = hidden[rows[:, None], choice_pos]  # [B, K, H]
        return lm_head(at_choices).float()[..., ids[0]]  # [B, K]


def missing_readout(kind: str) -> str:
    """Why `Readout.from_manifest` found nothing to read, for an error message."""
    if kind == "letters":
        return "the letters read-out needs prompts with index letters (prompts.index_letters: true)"
    return "the slot read-out needs a tokenizer that makes ' Yes' one token (use train.readout: letters)"
