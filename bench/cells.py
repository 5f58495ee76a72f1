"""The experiments as data: each cell's params overrides, the tables they fill, their labels and the paper's
figures beside them. bench/experiments.py runs and renders them; a cell's SR backbone is its `sr.model`
override, or the default params' (`backbone`)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from functools import cache
from pathlib import Path

from recsys.config import SECTIONS, DataParams, SRParams, dataset_spec, load_params, section

ROOT = Path(__file__).resolve().parents[1]

# The paper's recipe: its prompt (no index letters), the answer loss alone, no teacher, its LR and LoRA dropout.
PAPER_FAITHFUL = ["prompts.index_letters=false", "prompts.user_token=false", "prompts.candidate_order=given",
                  "train.item_scores=false", "train.sr_prior=false",
                  "train.listwise_weight=0", "train.distill_weight=0", "train.letter_weight=0", "train.lr=0.0005",
                  "lora.dropout=0.1", "eval.modes=[generate,score]"]
ANSWER_LOSS_ONLY = ["train.listwise_weight=0", "train.distill_weight=0", "train.letter_weight=0"]
# cell -> params overrides beyond data.dataset
CELLS: dict[str, list[str]] = {
    "llara-sasrec": [],
    "paper-faithful": PAPER_FAITHFUL,
    "llara-gru4rec": ["sr.model=gru4rec"],
    "llara-caser": ["sr.model=caser"],
    "llara-morec": ["sr.model=morec"],
    "text-only": ["train.schedule=text-only"],
    "id-only": ["train.schedule=direct", "train.hard_variant=id"],
    "behaviour-only": ["train.hard_variant=behaviour"],
    "user-token-only": ["train.hard_variant=text-user"],
    "direct": ["train.schedule=direct"],
    # the default trained on the val windows, which the SR model never fitted (its first choice is right on 65% of
    # its own training windows, 51% of unseen ones): stacking's out-of-fold rule
    "out-of-fold": ["train.examples_from=val", "train.eval_points=0"],
    "two-stage": ["train.schedule=two-stage"],
    # the levers that make the model learn at this budget, each taken away from the default
    "no-teacher": ["train.distill_weight=0"],
    "letters-readout": ["train.readout=letters", "train.letter_weight=0", "train.sr_prior=false"],
    "answer-loss-only": ANSWER_LOSS_ONLY,
    # the item scores and the SR prior need the user token's states
    "no-user-token": ["prompts.user_token=false", "train.item_scores=false", "train.sr_prior=false"],
    "no-sr-prior": ["train.sr_prior=false"],
    "no-item-scores": ["train.item_scores=false"],
    "no-letter-training": ["train.letter_weight=0"],
    "given-order": ["prompts.candidate_order=given"],
    # RQ1's baseline rows without fine-tuning: the base model zero-shot, MoRec and popularity; Caser's where no LLaRA
    # row runs over it
    "baselines": ["sr.model=morec"],
    "baselines-caser": ["sr.model=caser"],
}
# data set -> overrides under every cell's own: Steam's 1,194 test users make the summed-likelihood score (20
# continuations per user) a 25-minute pass per stage on 2 CPUs, so its cells rank and generate only. Steam's and ML-100K
# LOO's validation users (as many as their test users) would make each learning-curve point a pass as long as
# evaluation's ranking, so their cells draw none: the curve never changes the model (tests/test_finetune.py)
DATASET_OVERRIDES = {"steam": ["eval.modes=[rank,generate]", "train.eval_points=0"],
                     "movielens-loo": ["eval.modes=[rank,generate]", "train.eval_points=0"]}
# (data set, cell) -> overrides over the cell's own: the paper's recipe has no read-out to rank by, so on Steam it
# generates only
CELL_OVERRIDES = {("steam", "paper-faithful"): ["eval.modes=[generate]"]}
# cells without a fine-tuned row: their SR backbone and the zero-shot base model
NO_LANGUAGE_MODEL = ("baselines", "baselines-caser")
ZERO_SHOT_CELLS = ("llara-sasrec", *NO_LANGUAGE_MODEL)  # the cells that record the zero-shot row
# cell -> the DVC stage it stops at. The zero-shot row is the same in every cell, so only ZERO_SHOT_CELLS run it: the
# run cache restores it for new training params, but the stage's key holds sr.model (for its paired test against
# the SR model), so each other backbone would re-run it (23 minutes on Steam).
STOPS = {cell: "evaluate@zero-shot" if cell in NO_LANGUAGE_MODEL else "evaluate@llara" for cell in CELLS
         if cell != "llara-sasrec"}
LLARA_CELLS = ("llara-sasrec", "llara-gru4rec", "llara-caser", "llara-morec")  # the cells whose SR backbone is a row
TABLES = {
    "rq1": ["llara-sasrec", "paper-faithful", "llara-gru4rec", "llara-caser", "llara-morec", "text-only", "baselines",
            "baselines-caser"],
    "rq2": ["id-only", "text-only", "behaviour-only", "user-token-only", "no-user-token", "llara-sasrec"],
    "rq3": ["direct", "two-stage", "llara-sasrec"],
    "backbone": ["out-of-fold"],
    "levers": ["llara-sasrec", "no-sr-prior", "given-order", "no-user-token", "no-item-scores", "no-letter-training",
               "no-teacher", "letters-readout", "answer-loss-only", "paper-faithful"],
}
# table -> the claims it was built to decide, each (row, what it should beat: a cell, or the row's SR backbone), the
# paper's for RQ1-RQ3 (LLaRA above its backbones and text-only; the hybrid prompt above the other representations; the
# curriculum above direct and two-stage training) and, for the levers, that taking each one away costs users
CLAIMS = {
    "rq1": [("llara-sasrec", "sasrec"), ("llara-gru4rec", "gru4rec"), ("llara-caser", "caser"),
            ("llara-morec", "morec"), ("llara-sasrec", "text-only")],
    "rq2": [("llara-sasrec", cell) for cell in ("text-only", "id-only", "behaviour-only", "user-token-only",
                                                "no-user-token")],
    "rq3": [("llara-sasrec", "direct"), ("llara-sasrec", "two-stage")],
    "backbone": [("out-of-fold", "sasrec"), ("out-of-fold", "llara-sasrec")],
    "levers": [("llara-sasrec", cell) for cell in TABLES["levers"][1:]],
}
# RQ1 asks for LLaRA over every backbone on the small test sets; on these large ones over SASRec and one more (GRU4Rec),
# with Caser's and MoRec's SR rows from the cells that stop before fine-tuning (10-25 minutes against 40-95 for a
# LLaRA cell there). Rows a table does not ask for are shown when recorded.
ONE_MORE_BACKBONE = ("movielens-loo", "steam")
TITLES = {"rq1": "RQ1: LLaRA against its peers",
          "rq2": "RQ2: item representation (SASRec tokens, curriculum; hybrid without and with the user token)",
          "rq3": "RQ3: training schedule (hybrid prompts, SASRec tokens)",
          "backbone": "Above the backbone? The default trained on windows the SR model never fitted",
          "levers": "What makes the model learn on a CPU: each lever taken away from the default"}
REFERENCE = {"rq1": "text-only", "rq2": "llara-sasrec", "rq3": "llara-sasrec", "backbone": "llara-sasrec",
             "levers": "llara-sasrec"}  # p column
# The paper's ValidRatio / HitRatio@1 (Liao et al., 2024, Tables 2 and 4).
PAPER_RQ1 = {
    "movielens": {"popularity": None, "zero-shot": (.4421, .0421), "gpt-4": (.9895, .2000), "morec": (1.0, .2822),
                  "gru4rec": (1.0, .3750), "caser": (1.0, .3861), "sasrec": (1.0, .3444),
                  "text-only": (.9263, .3895), "llara-gru4rec": (.9684, .4421), "llara-caser": (.9684, .4737),
                  "llara-sasrec": (.9684, .4421)},
    "steam": {"popularity": None, "zero-shot": (.1653, .0135), "gpt-4": (.9798, .3626), "morec": (1.0, .3911),
              "gru4rec": (1.0, .4168), "caser": (1.0, .4368), "sasrec": (1.0, .4010),
              "text-only": (.9840, .4637), "llara-gru4rec": (.9975, .4924), "llara-caser": (.9966, .4874),
              "llara-sasrec": (.9975, .4949)},
    "lastfm": {"popularity": None, "zero-shot": (.3443, .0246), "gpt-4": (1.0, .3770), "morec": (1.0, .1652),
               "gru4rec": (1.0, .2616), "caser": (1.0, .2233), "sasrec": (1.0, .2233),
               "text-only": (.9836, .4180), "llara-gru4rec": (.9836, .4344), "llara-caser": (.9918, .4344),
               "llara-sasrec": (1.0, .4508)},
}
PAPER_RQ3 = {"movielens": {"direct": .4211, "two-stage": .4316, "llara-sasrec": .4421},
             "steam": {"direct": .4899, "two-stage": .4840, "llara-sasrec": .4949},
             "lastfm": {"direct": .4508, "two-stage": .4344, "llara-sasrec": .4508}}
# the paper's MovieLens figures beside our ML-100K splits too: the authors' own, and leave-one-out
PAPER_DATA = {"movielens-llara": "movielens", "movielens-loo": "movielens"}
LABELS = {"llara-sasrec": "LLaRA (SASRec), hybrid, curriculum", "llara-gru4rec": "LLaRA (GRU4Rec)",
          "paper-faithful": "LLaRA (SASRec), the paper's recipe (title answer, answer loss, no teacher)",
          "llara-caser": "LLaRA (Caser)", "llara-morec": "LLaRA (MoRec: SASRec over MiniLM title features)",
          "text-only": "text only (TALLRec-like: same LM, text prompts)",
          "id-only": "ID index only (\"item 14\")", "behaviour-only": "behaviour token only",
          "user-token-only": "the user token alone (text prompt: titles and [PH], the SR state in the user token)",
          "direct": "direct (hybrid from step 0)", "two-stage": "two-stage (text, then hybrid)",
          "out-of-fold": "LLaRA (SASRec) trained on the val windows the SR model never fitted (examples_from val)",
          "no-teacher": "without the SR teacher (distill_weight 0)",
          "letters-readout": "letters read-out (LlamaRec's verbalizer) instead of the slot read-out",
          "answer-loss-only": "answer loss only (no listwise, teacher or letter term: ranked by the SR prior plus an "
                              "untrained slot read-out)",
          "no-user-token": "hybrid without the user token (nor the item scores and SR prior that need it)",
          "no-item-scores": "without the SR model's item scores on the item tokens",
          "no-sr-prior": "the read-out alone, without the SR model's candidate scores added",
          "no-letter-training": "without the letter term (letter_weight 0)",
          "given-order": "candidates in the drawn order (the paper's), not the SR model's"}


@cache
def default_params() -> dict:
    """params.yaml as the stages read it: the values every cell starts from."""
    return load_params(ROOT / "params.yaml")


def datasets() -> tuple[str, ...]:
    return tuple(default_params()["datasets"])


def overrides(dataset: str, cell: str) -> dict[str, str]:
    """key -> value of a cell on a data set: the data set's, the cell's, then the pair's (a later layer wins)."""
    layers = DATASET_OVERRIDES.get(dataset, []) + CELLS[cell] + CELL_OVERRIDES.get((dataset, cell), [])
    return dict(override.split("=", 1) for override in layers)


def asked(table: str, dataset: str) -> list[str]:
    """The cells a table asks for on a data set: `run --table` runs them, and the tables name those not yet run."""
    unasked = ("llara-caser", "llara-morec") if dataset in ONE_MORE_BACKBONE else ("baselines-caser",)
    return [cell for cell in TABLES[table] if cell not in unasked]


def backbone(cell: str) -> str:
    """The SR model a cell runs over: its `sr.model` override, else the default params'."""
    model = dict(override.split("=", 1) for override in CELLS[cell]).get("sr.model")
    return model or section(default_params(), "sr", SRParams).model


@cache
def settings(dataset: str, cell: str) -> str:
    """A fingerprint of every setting a cell runs with today: params.yaml under the data set's and the cell's
    overrides, each section filled in with its defaults. A record whose fingerprint differs ran under other defaults."""
    params = load_params(ROOT / "params.yaml", [f"data.dataset={dataset}",
                                                *(f"{key}={value}" for key, value in overrides(dataset, cell).items())])
    resolved = {name: dataclasses.asdict(section(params, name, cls)) for name, cls in SECTIONS.items()}
    resolved["datasets"] = dataclasses.asdict(dataset_spec(params, section(params, "data", DataParams)))
    return hashlib.sha256(json.dumps(resolved, sort_keys=True).encode()).hexdigest()[:12]


def current(result: dict) -> bool:
    """Whether a recorded cell ran under today's settings (records from before fingerprints were kept did not)."""
    return result.get("settings") == settings(result["dataset"], result["cell"])
