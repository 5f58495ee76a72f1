"""train.sr_prior: the slot read-out plus the SR model's own score of each candidate."""

from __future__ import annotations

import numpy as np
import torch

from helpers import build_model
from recsys.config import TrainParams
from recsys.llm.ranking import choice_scores
from recsys.llm.readout import Readout
from recsys.llm.sr_signals import teacher_logits, with_user_states
from recsys.prompts.manifest import PromptManifest
from recsys.prompts.shards import read_all


def test_the_prior_adds_exactly_the_sr_models_candidate_scores(workspace):
    model, tokenizer = build_model(workspace, seed=1)
    manifest = PromptManifest.read(workspace / "prompts")
    table = with_user_states(read_all(workspace / "prompts" / "test" / "hybrid"), workspace / "sr")
    rows = np.arange(table.num_rows)
    slot, letters = Readout.from_manifest("slot", manifest), Readout.from_manifest("letters", manifest)
    alone = choice_scores(model, table, rows, slot, True, tokenizer.pad_token_id, batch_size=3)  # [N, K]
    alone_letters = choice_scores(model, table, rows, letters, True, tokenizer.pad_token_id, batch_size=3)
    model.sr_prior = True
    with_prior = choice_scores(model, table, rows, slot, True, tokenizer.pad_token_id, batch_size=3)
    sr = teacher_logits(workspace / "sr", table).numpy()  # [N, K]: the SR model's score_candidates
    assert np.abs(sr).max() > 0.1  # a prior that could be told from none
    np.testing.assert_allclose(with_prior - alone, sr, atol=1e-4)
    # generation's letters are the model's own: the prior never reaches them
    np.testing.assert_array_equal(choice_scores(model, table, rows, letters, True, tokenizer.pad_token_id, 3),
                                  alone_letters)
    # prompts without SR states (text-only) keep the read-out alone
    text = read_all(workspace / "prompts" / "test" / "text")
    model.sr_prior = False
    text_alone = choice_scores(model, text, rows[:2], slot, False, tokenizer.pad_token_id, 3)
    model.sr_prior = True
    assert torch.equal(torch.from_numpy(choice_scores(model, text, rows[:2], slot, False, tokenizer.pad_token_id, 3)),
                       torch.from_numpy(text_alone))


def test_a_prior_over_the_letters_readout_is_refused_at_load():
    assert "readout: slot" in TrainParams(sr_prior=True, readout="letters", letter_weight=0.0).inconsistency()
    assert TrainParams(sr_prior=True).inconsistency() is None
