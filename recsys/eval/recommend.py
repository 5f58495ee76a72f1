"""Recommend for a history given as titles: the SR model retrieves from the whole catalogue, LLaRA re-ranks."""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from recsys.data.candidates import sample_negatives
from recsys.distributed import Ranks
from recsys.errors import InputError
from recsys.eval.match import normalise_title
from recsys.eval.score import answer_token_ids, score_candidates
from recsys.io import read_column
from recsys.llm.batches import collate
from recsys.llm.card import ModelCard
from recsys.llm.model import load_llara
from recsys.llm.ranking import choice_scores
from recsys.llm.readout import Readout
from recsys.llm.sr_signals import with_user_states
from recsys.prompts.encode import encode_examples
from recsys.prompts.order import sr_ordered
from recsys.prompts.templates import VARIANTS, item_names, render_answer
from recsys.sr.inference import load_model, retrieve


def resolve_titles(given: list[str], titles: list[str], option: str) -> list[int]:
    """Item ids of the given titles (normalised exact match); unknown ones fail listing close matches."""
    by_name: dict[str, int] = {}
    for item, title in enumerate(titles):
        by_name.setdefault(normalise_title(title), item)
    ids = []
    for text in given:
        key = normalise_title(text)
        if key not in by_name:
            close = difflib.get_close_matches(text, titles, n=3, cutoff=0.5)
            hint = f"; close matches: {', '.join(repr(c) for c in close)}" if close else ""
            raise InputError(f"{option} {text!r}", f"no item has this title{hint}")
        ids.append(by_name[key])
    return ids


@dataclass(frozen=True)
class Request:
    """A history and its candidates matched against the model's catalogue, before any model is loaded."""

    model_dir: Path
    card: ModelCard
    titles: list[str]  # the catalogue, index = item id
    typed: list[str]  # the history as typed, oldest first
    history: list[int]  # its item ids
    typed_candidates: list[str]  # the candidates as typed (none when sampled)
    typed_ids: list[int]  # their item ids, as typed
    candidates: list[int]  # every candidate, in the order the prompt lists them
    chosen: str  # how the candidates were chosen

    def matches(self) -> list[str]:
        """One line per typed title: the catalogue title it matched, so a loose match is seen."""
        return [f"{option} {text!r} -> {self.titles[item]!r} (item {item})"
                for option, typed, ids in (("--history", self.typed, self.history),
                                           ("--candidate", self.typed_candidates, self.typed_ids))
                for text, item in zip(typed, ids)]

    def warnings(self) -> list[str]:
        """What the prompt will not show as typed: a history longer than the model reads, a repeated title."""
        notes = []
        if len(self.history) > self.card.max_len:
            notes.append(f"--history has {len(self.history)} titles, this model reads the last {self.card.max_len}: "
                         f"the first {len(self.history) - self.card.max_len} are left out")
        for item, count in Counter(self.history).items():
            if count > 1:
                typed = ", ".join(repr(t) for t, i in zip(self.typed, self.history) if i == item)
                notes.append(f"--history names {self.titles[item]!r} {count} times ({typed}); the prompt shows each")
        return notes


def read_request(model_dir: Path, history: list[str], candidates: list[str] | None, k: int, seed: int,
                 sample: bool = False) -> Request:
    """Match the titles against the model card's items (no language model loaded: a typo costs no load) and choose
    the candidates: the given ones; else the SR model's top K over every item outside the history; or, with
    `sample`, K of those items drawn with `seed`, as evaluation draws them. They are listed as the model's training prompts listed them (`prompt_orders`)."""
    if not candidates and k < 1:
        raise InputError("--k", f"expected at least one candidate to rank, got {k}")
    card = ModelCard.read(model_dir)
    card.check_inputs(model_dir)
    titles = read_column(card.items, "title")
    history_ids = resolve_titles(history, titles, "--history")
    outside = len(titles) - len(set(history_ids))
    if candidates:
        candidate_ids = resolve_titles(candidates, titles, "--candidate")
        chosen = f"{len(candidate_ids)} given"
    elif k > outside:
        raise InputError("--k", f"only {outside} items lie outside the history, got {k}")
    elif sample:
        seen = np.unique(history_ids)
        drawn = sample_negatives(np.zeros(len(seen), np.int64), seen, np.zeros(1, np.int64), len(titles), k,
                                 np.random.default_rng(seed))
        candidate_ids = [int(c) for c in drawn[0]]
        chosen = f"{k} sampled with seed {seed} among the {outside} items outside the history"
    else:
        candidate_ids = retrieve(load_model(Path(card.sr_model)), history_ids, k)
        chosen = (f"the SR model's top {k} among the {outside} items outside the history ({card.sr_model}), "
                  "re-ranked below")
    if len(set(candidate_ids)) != len(candidate_ids):
        raise InputError("--candidate", "a candidate is given twice")
    if card.index_letters and len(candidate_ids) > len(card.index_letters):
        raise InputError("--candidate", f"this model's index letters name at most {len(card.index_letters)} "
                         f"candidates, got {len(candidate_ids)}")
    return Request(Path(model_dir), card, titles, list(history), history_ids, list(candidates or []),
                   candidate_ids if candidates else [], prompt_orders(card, [history_ids], [candidate_ids], seed)[0], chosen)


def prompt_orders(card: ModelCard, histories: list[list[int]], candidates: list[list[int]], seed: int
                  ) -> list[list[int]]:
    """Each history's candidates in the order the model's prompts listed them in training: best first by its SR
    model (prompts.candidate_order sr, behavioural prompts; one SR pass for all rows), else shuffled with `seed`
    (training saw the target at any letter)."""
    if card.candidate_order == "sr" and VARIANTS[card.variant].behavioural:
        rows = pa.table({"user_id": list(range(len(histories))), "history": [h[-card.max_len:] for h in histories],
                         "target": [c[0] for c in candidates], "candidates": candidates})
        return sr_ordered(rows, Path(card.sr_model)).column("candidates").to_pylist()
    return [[c[i] for i in np.random.default_rng(seed).permutation(len(c))] for c in candidates]


def prompt_table(card: ModelCard, titles: list[str], tokenizer, histories: list[list[int]],
                 candidates: list[list[int]]) -> pa.Table:
    """The prompts of the histories and their candidates, encoded as training encoded them (the target is a
    placeholder: no answer is read), with the SR model's user states where the model has a user token."""
    n = len(histories)
    rows = pa.table({"example_id": list(range(n)), "user_id": list(range(n)),
                     "history": [h[-card.max_len:] for h in histories], "candidates": candidates,
                     "target": [c[0] for c in candidates]})
    table = encode_examples(rows, titles, tokenizer, card.domain, card.variant, bool(card.index_letters),
                            user=bool(card.user_dim))
    if card.user_dim and VARIANTS[card.variant].behavioural:
        table = with_user_states(table, Path(card.sr_model))
    return table


def readout_scores(model, tokenizer, card: ModelCard, titles: list[str], histories: list[list[int]],
                   candidates: list[list[int]], batch_size: int, device, on_batch=lambda done: None) -> np.ndarray:
    """[N, K] one-pass read-out logits of each history's candidates, in `candidates`' order, `batch_size` prompts
    per forward pass."""
    table = prompt_table(card, titles, tokenizer, histories, candidates)
    ids = card.readout_ids[:len(candidates[0])] if card.readout == "letters" else card.readout_ids
    return choice_scores(model, table, np.arange(len(candidates)), Readout(card.readout, tuple(ids)),
                         VARIANTS[card.variant].spliced, tokenizer.pad_token_id, batch_size, device, on_batch)


def rank_candidates(request: Request) -> tuple[str, list[tuple[int, str, float]]]:
    """(what the score is, [(item id, title, score)] best first) for the request's candidates.

    A model with a one-pass read-out ranks by it (one forward pass); one trained on the paper's prompts
    with the answer loss alone, by the summed log-likelihood of each candidate's answer (eval.normalisation's default).
    """
    device = Ranks().device()
    model, tokenizer, card = load_llara(request.model_dir, device)
    titles, candidate_ids = request.titles, request.candidates
    if card.readout_ids:
        scores = readout_scores(model, tokenizer, card, titles, [request.history], [candidate_ids], 1, device)[0]
        what = f"{card.readout} read-out logit"
    else:
        table = prompt_table(card, titles, tokenizer, [request.history], [candidate_ids])
        splice = VARIANTS[card.variant].spliced
        names = item_names(card.variant, titles)
        batch = {k: v.to(device) for k, v in collate(table, np.array([0]), tokenizer.pad_token_id,
                                                      prompt_only=True, multiple=1).items()}
        answers = answer_token_ids(tokenizer, [render_answer(names[c], None) for c in candidate_ids])
        scores = score_candidates(model, batch["input_ids"], batch["slot_pos"], batch["slot_items"], splice, answers,
                                  tokenizer.pad_token_id, batch["user_pos"], batch.get("user_state"))[0].numpy()
        what = "summed log-likelihood"
    order = np.argsort(-scores, kind="stable")
    return what, [(candidate_ids[i], titles[candidate_ids[i]], float(scores[i])) for i in order]
