"""Batch recommend: every history of a file re-ranked as `recsys recommend` re-ranks one, with the SR model and
LLaRA loaded once for the file and the prompts scored in batches, so the ~20 s model load is paid once.

Reading (`read_batch`) loads no model, so a missing column or a file of bad rows costs no load; a bad row is
skipped with its reason (the file and its 1-based line), a bad file refused.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from recsys.distributed import Ranks
from recsys.errors import InputError
from recsys.eval.recommend import prompt_orders, readout_scores, resolve_titles
from recsys.io import read_column, scratch_dir
from recsys.llm.card import ModelCard
from recsys.llm.model import load_llara
from recsys.progress import Steps
from recsys.sr.inference import load_model, retrieve

USER = "user_id"
HISTORY_COLUMNS = ("titles", "item_ids")  # a history as titles or as item ids (0-based, as prepare writes them)
SEPARATOR = "|"  # between a CSV cell's titles or item ids


@dataclass(frozen=True)
class Row:
    """One input row as read, not yet matched against the catalogue."""

    where: str  # "PATH line N" (JSONL, CSV) or "PATH row N" (Parquet), 1-based
    user_id: str | None  # as text, so the three formats agree
    history: object  # the history column's value: a list where the row is well formed
    problem: str = ""  # why the row could not be read at all (a JSONL line that is no JSON object)


def _text_user(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def _jsonl(path: Path) -> tuple[set[str], list[tuple[int, dict | None]]]:
    records = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                value = json.loads(line)
            except ValueError:
                value = None
            records.append((n, value if isinstance(value, dict) else None))
    return {key for _, r in records if r for key in r}, records


def _csv_cell(column: str, text: str | None) -> list:
    """A `|`-separated CSV cell as a list: titles as text, item ids as ints (what does not parse is kept as text,
    for the row's check to name)."""
    parts = [part.strip() for part in (text or "").split(SEPARATOR) if part.strip()]
    if column == "titles":
        return parts
    return [int(part) if part.lstrip("-").isdigit() else part for part in parts]


def _csv(path: Path) -> tuple[set[str], list[tuple[int, dict | None]]]:
    with path.open(newline="") as file:
        reader = csv.DictReader(file)
        records = [(reader.line_num, {key: _csv_cell(key, value) if key in HISTORY_COLUMNS else value
                                      for key, value in row.items()}) for row in reader]
        return set(reader.fieldnames or []), records


def _parquet(path: Path) -> tuple[set[str], list[tuple[int, dict | None]]]:
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as err:
        raise InputError(str(path), f"not a readable Parquet file ({str(err).splitlines()[0]})") from None
    return set(table.column_names), list(enumerate(table.to_pylist(), 1))


READERS = {".jsonl": (_jsonl, "line"), ".csv": (_csv, "line"), ".parquet": (_parquet, "row")}


def _history_column(path: Path, columns: set[str]) -> str:
    """The one history column the file has; none, or both, is an InputError naming the file."""
    present = [c for c in HISTORY_COLUMNS if c in columns]
    listed = ", ".join(sorted(columns)) or "none"
    if USER not in columns:
        raise InputError(str(path), f"missing column {USER!r} (it has {listed})")
    if not present:
        raise InputError(str(path), f"missing column 'titles' or 'item_ids' (it has {listed})")
    if len(present) > 1:
        raise InputError(str(path), "has both a 'titles' and an 'item_ids' column: give the history in one")
    return present[0]


def read_rows(path: Path) -> tuple[str, list[Row]]:
    """(the history column, the rows) of a .jsonl, .csv or .parquet file, chosen by extension; a missing or
    unreadable file, another extension or a missing column is an InputError naming the file (and the column)."""
    path = Path(path)
    if path.suffix.lower() not in READERS:
        raise InputError(str(path), f"expected a {', '.join(READERS)} file, got {path.suffix or 'no extension'!r}")
    if not path.is_file():
        raise InputError(str(path), "file not found")
    reader, unit = READERS[path.suffix.lower()]
    try:
        columns, records = reader(path)
    except (UnicodeDecodeError, csv.Error) as err:
        raise InputError(str(path), f"not readable as {path.suffix[1:]} ({err})") from None
    column = _history_column(path, columns)
    return column, [Row(f"{path} {unit} {n}", _text_user(r.get(USER)), r.get(column)) if r is not None else
                    Row(f"{path} {unit} {n}", None, None, "not a JSON object") for n, r in records]


def _item_ids(given: list, n_items: int) -> list[int]:
    for item in given:
        if not isinstance(item, int) or isinstance(item, bool):
            raise InputError(f"item id {item!r}", "not an integer")
        if not 0 <= item < n_items:
            raise InputError(f"item id {item}", f"outside the catalogue (0..{n_items - 1})")
    return list(given)


def history_ids(row: Row, column: str, titles: list[str], k: int) -> list[int]:
    """The row's history as item ids, checked as `read_request` checks a typed one; a bad row raises an
    InputError saying why."""
    if row.problem or row.user_id is None:
        raise InputError(row.where, row.problem or f"no {USER}")
    if not isinstance(row.history, list) or not row.history:
        raise InputError(row.where, f"empty history (no {column})" if not row.history else f"{column} is not a list")
    try:
        ids = (resolve_titles([str(t) for t in row.history], titles, "title") if column == "titles" else
               _item_ids(row.history, len(titles)))
    except InputError as err:
        raise InputError(row.where, str(err)) from None
    outside = len(titles) - len(set(ids))
    if k > outside:
        raise InputError(row.where, f"only {outside} items lie outside the history, --k is {k}")
    return ids


@dataclass(frozen=True)
class Batch:
    """The file's good rows matched against the model's catalogue, and the bad rows' reasons; no model loaded."""

    model_dir: Path
    card: ModelCard
    titles: list[str]  # the catalogue, index = item id
    k: int  # candidates per history
    users: list[str]
    histories: list[list[int]]  # item ids, oldest first
    skipped: list[str]  # one line per bad row: where it is and why it was skipped
    rows: int  # rows in the file, good and bad


def _check_model(model_dir: Path, card: ModelCard, k: int) -> None:
    if k < 1:
        raise InputError("--k", f"expected at least one candidate to rank, got {k}")
    if not card.readout_ids:
        raise InputError(str(model_dir), "batch recommend ranks by the one-pass read-out; this model was trained "
                         "without one (train.readout): recommend for it one --history at a time")
    if card.index_letters and k > len(card.index_letters):
        raise InputError("--k", f"this model's index letters name at most {len(card.index_letters)} candidates, "
                         f"got {k}")


def read_batch(model_dir: Path, path: Path, k: int) -> Batch:
    """Read the histories file, then the model card, and match every row; the bad rows are kept as reasons."""
    column, rows = read_rows(path)
    card = ModelCard.read(model_dir)
    card.check_inputs(model_dir)
    _check_model(model_dir, card, k)
    titles = read_column(card.items, "title")
    users, histories, skipped = [], [], []
    for row in rows:
        try:
            histories.append(history_ids(row, column, titles, k))
            users.append(row.user_id)
        except InputError as err:
            skipped.append(str(err))
    return Batch(Path(model_dir), card, titles, k, users, histories, skipped, len(rows))


def batch_scores(batch: Batch, candidates: list[list[int]], batch_size: int, progress: bool) -> np.ndarray:
    """[N, K] one-pass read-out logits of each history's candidates (in `candidates`' order), LLaRA loaded once."""
    device = Ranks().device()
    model, tokenizer, card = load_llara(batch.model_dir, device)
    with Steps("recommend", len(candidates), enabled=progress) as steps:
        return readout_scores(model, tokenizer, card, batch.titles, batch.histories, candidates, batch_size, device,
                              on_batch=steps.advance)


def recommend_batch(batch: Batch, seed: int, batch_size: int = 16, progress: bool = True) -> pa.Table:
    """One row per (user, candidate): user_id, rank (1..K, best first), item_id, title, score: the SR model's top K
    outside each history, listed as the model was trained on them, re-ranked by LLaRA's one-pass read-out."""
    sr = load_model(Path(batch.card.sr_model))
    retrieved = [retrieve(sr, history, batch.k) for history in batch.histories]
    candidates = prompt_orders(batch.card, batch.histories, retrieved, seed)
    scores = batch_scores(batch, candidates, batch_size, progress)  # [N, K]
    order = np.argsort(-scores, axis=1, kind="stable")  # [N, K], best first, ties in prompt order
    items = np.take_along_axis(np.asarray(candidates, np.int64), order, axis=1).ravel()  # [N * K]
    return pa.table({"user_id": pa.array(np.repeat(batch.users, batch.k).tolist(), pa.string()),
                     "rank": np.tile(np.arange(1, batch.k + 1, dtype=np.int32), len(batch.users)),
                     "item_id": items, "title": [batch.titles[i] for i in items],
                     "score": np.take_along_axis(scores, order, axis=1).ravel()})


def write_parquet(table: pa.Table, out: Path) -> None:
    """`out` whole or not at all: written in a scratch folder beside it (io.scratch_dir, removed whatever
    happens), then renamed over it."""
    out = Path(out)
    with scratch_dir(out.parent, f".{out.name}.tmp-") as tmp:
        pq.write_table(table, tmp / out.name)
        os.replace(tmp / out.name, out)
