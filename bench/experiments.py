"""The paper's research questions as named DVC experiments, and the tables they fill.

    python bench/experiments.py run --dataset movielens --cells llara-sasrec text-only
    python bench/experiments.py run --dataset movielens --table rq3      # every cell of a table
    python bench/experiments.py tables                                  # rewrite EXPERIMENTS.md

`run` calls `dvc exp run --temp -n <dataset>-<cell> -S data.dataset=<dataset> -S ...` for each
cell in turn (in a temporary copy of the workspace, uncommitted changes included: an edit made while
a cell is being copied becomes part of it, one made after does not), then
records the experiment's metrics.json and wall time in bench/results/experiments.json. The
`baselines` cell stops at the zero-shot stage (`dvc exp run ... zero-shot`: no fine-tuning), with
MoRec as the SR model: the zero-shot and MoRec rows of RQ1 for a few minutes of CPU; the cells
other than llara-sasrec stop at evaluate (STOPS). A data set's DATASET_OVERRIDES go under every
cell's own (Steam skips the summed-likelihood score), CELL_OVERRIDES over it. Cells already
recorded are skipped unless --force. `tables` renders that file as Markdown with 95%
intervals and the paper's figures beside them; every row names its experiment.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from recsys import layout
from recsys.llm.precision import autocast_dtype
from recsys.metrics import mcnemar_p

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench/results/experiments.json"
REPORT = ROOT / "EXPERIMENTS.md"
ARCHIVE = ROOT / "bench/results/experiments-answer-loss-1024.json"  # the regime before one-pass ranking

# The paper's recipe: its prompt (no index letters), the answer loss alone, no teacher, its LR and LoRA dropout.
PAPER_FAITHFUL = ["prompts.index_letters=false", "prompts.user_token=false", "train.listwise_weight=0",
                  "train.distill_weight=0", "train.letter_weight=0", "train.lr=0.0005", "lora.dropout=0.1",
                  "eval.modes=[generate,score]"]
ANSWER_LOSS_ONLY = ["train.listwise_weight=0", "train.distill_weight=0", "train.letter_weight=0"]
# cell -> (sr backbone, params overrides beyond data.dataset)
CELLS: dict[str, tuple[str, list[str]]] = {
    "llara-sasrec": ("sasrec", []),
    "paper-faithful": ("sasrec", PAPER_FAITHFUL),
    "llara-gru4rec": ("gru4rec", ["sr.model=gru4rec"]),
    "llara-caser": ("caser", ["sr.model=caser"]),
    "llara-morec": ("morec", ["sr.model=morec"]),
    "text-only": ("sasrec", ["train.schedule=text-only"]),
    "id-only": ("sasrec", ["train.schedule=direct", "train.hard_variant=id"]),
    "behaviour-only": ("sasrec", ["train.hard_variant=behaviour"]),
    "direct": ("sasrec", ["train.schedule=direct"]),
    "two-stage": ("sasrec", ["train.schedule=two-stage"]),
    # the levers that make the model learn at this budget, each taken away from the default
    "no-teacher": ("sasrec", ["train.distill_weight=0"]),
    "letters-readout": ("sasrec", ["train.readout=letters", "train.letter_weight=0"]),
    "answer-loss-only": ("sasrec", ANSWER_LOSS_ONLY),
    "no-user-token": ("sasrec", ["prompts.user_token=false"]),
    "no-letter-training": ("sasrec", ["train.letter_weight=0"]),
    # RQ1's baseline rows without fine-tuning: the base model zero-shot, MoRec and popularity
    "baselines": ("morec", ["sr.model=morec"]),
}
# data set -> overrides under every cell's own: Steam's 1,194 test users make the summed-likelihood score (20
# continuations per user) a 25-minute pass per stage on 2 CPUs, so its cells rank and generate only
DATASET_OVERRIDES = {"steam": ["eval.modes=[rank,generate]"]}
# (data set, cell) -> overrides over the cell's own: the paper's recipe has no read-out to rank by, so on Steam it
# generates only
CELL_OVERRIDES = {("steam", "paper-faithful"): ["eval.modes=[generate]"]}
NO_LANGUAGE_MODEL = ("baselines",)  # cells without a fine-tuned row: their SR backbone and the zero-shot base model
ZERO_SHOT_CELLS = ("llara-sasrec", *NO_LANGUAGE_MODEL)  # the cells that record the zero-shot row
# cell -> the DVC stage it stops at. The zero-shot row is the same in every cell, so only ZERO_SHOT_CELLS run it: the
# run cache restores it for new training params, but the stage's key holds sr.model (for its paired test against
# the SR model), so each other backbone would re-run it (23 minutes on Steam).
STOPS = {cell: "zero-shot" if cell in NO_LANGUAGE_MODEL else "evaluate" for cell in CELLS if cell != "llara-sasrec"}
LLARA_CELLS = ("llara-sasrec", "llara-gru4rec", "llara-caser", "llara-morec")  # the cells whose SR backbone is a row
TABLES = {
    "rq1": ["llara-sasrec", "paper-faithful", "llara-gru4rec", "llara-caser", "llara-morec", "text-only", "baselines"],
    "rq2": ["id-only", "text-only", "behaviour-only", "llara-sasrec"],
    "rq3": ["direct", "two-stage", "llara-sasrec"],
    "levers": ["llara-sasrec", "no-user-token", "no-letter-training", "no-teacher", "letters-readout", "answer-loss-only",
               "paper-faithful"],
}
# The paper's ValidRatio / HitRatio@1 (Liao et al., 2024, Tables 2 and 4).
PAPER_RQ1 = {
    "movielens": {"popularity": None, "zero-shot": (.4421, .0421), "gpt-4": (.9895, .2000), "morec": (1.0, .2822), "gru4rec": (1.0, .3750), "caser": (1.0, .3861), "sasrec": (1.0, .3444),
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
# the authors' own MovieLens split (source: llara) is compared with the paper's MovieLens figures
PAPER_DATA = {"movielens-llara": "movielens"}
DATASETS = ("movielens", "movielens-llara", "lastfm", "steam")
PAPER_RQ3 = {"movielens": {"direct": .4211, "two-stage": .4316, "llara-sasrec": .4421},
             "steam": {"direct": .4899, "two-stage": .4840, "llara-sasrec": .4949},
             "lastfm": {"direct": .4508, "two-stage": .4344, "llara-sasrec": .4508}}
LABELS = {"llara-sasrec": "LLaRA (SASRec), hybrid, curriculum", "llara-gru4rec": "LLaRA (GRU4Rec)",
          "paper-faithful": "LLaRA (SASRec), the paper's recipe (title answer, answer loss, no teacher)",
          "llara-caser": "LLaRA (Caser)", "llara-morec": "LLaRA (MoRec: SASRec over MiniLM title features)", "text-only": "text only (TALLRec-like: same LM, text prompts)",
          "id-only": "ID index only (\"item 14\")", "behaviour-only": "behaviour token only",
          "direct": "direct (hybrid from step 0)", "two-stage": "two-stage (text, then hybrid)",
          "no-teacher": "without the SR teacher (distill_weight 0)",
          "letters-readout": "letters read-out (LlamaRec's verbalizer) instead of the slot read-out",
          "answer-loss-only": "answer loss only (no listwise, no teacher; ranked by its letters)"}


def load_results() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def experiment_ref(name: str) -> str:
    refs = [r for r in git("for-each-ref", "--format=%(refname)", "refs/exps").split() if r.endswith(f"/{name}")]
    if not refs:
        raise SystemExit(f"experiment {name!r}: no refs/exps entry after `dvc exp run` (see its output above)")
    return refs[-1]


def run_command(dataset: str, cell: str, force: bool) -> list[str]:
    """`dvc exp run --temp -n <dataset>-<cell> -S ...`, with the stage it stops at for a cell that stops early."""
    command = ["dvc", "exp", "run", "--temp", "-n", f"{dataset}-{cell}", "-S", f"data.dataset={dataset}"]
    layers = DATASET_OVERRIDES.get(dataset, []) + CELLS[cell][1] + CELL_OVERRIDES.get((dataset, cell), [])
    overrides = dict(override.split("=", 1) for override in layers)  # a later layer's value of a key wins
    for key, value in overrides.items():
        command += ["-S", f"{key}={value}"]
    return command + (["--force"] if force else []) + ([STOPS[cell]] if cell in STOPS else [])


def run_cell(dataset: str, cell: str, force: bool) -> dict:
    """One `dvc exp run --temp`, then its metrics read back from the experiment's commit."""
    backbone, name, command = CELLS[cell][0], f"{dataset}-{cell}", run_command(dataset, cell, force)
    print("$ " + " ".join(command), flush=True)
    # the temporary copy runs elsewhere: relative data paths (../shared/...) are taken from this checkout
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "RECSYS_DATA_ROOT": str(ROOT)}
    began = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, env=env)
    seconds = time.perf_counter() - began
    ref = experiment_ref(name)
    zero = layout.metrics(dataset, layout.ZERO_SHOT).as_posix()
    evaluated = zero if cell in NO_LANGUAGE_MODEL else layout.metrics(dataset, backbone).as_posix()
    metrics = json.loads(git("show", f"{ref}:{evaluated}/metrics.json"))
    hits = git("show", f"{ref}:{evaluated}/hits.csv")
    record = {"dataset": dataset, "cell": cell, "command": " ".join(command), "rev": git("rev-parse", ref).strip(),
              "wall_seconds": round(seconds), "machine": machine(), "metrics": metrics, "hits": parse_hits(hits)}
    if cell in ZERO_SHOT_CELLS:
        record["zero_shot"] = json.loads(git("show", f"{ref}:{zero}/metrics.json"))
    return record


def parse_hits(text: str) -> dict[str, list[int]]:
    """hits.csv (example_id, then a 0/1 column per method) -> {method: hits in example order}."""
    header, *rows = [line.split(",") for line in text.strip().splitlines()]
    return {name: [int(row[i]) for row in rows] for i, name in enumerate(header) if name != "example_id"}


def machine() -> str:
    """The processor and the precision `auto` computes in on it: cells from different machines differ in both
    (fp32 where a CPU has no AMX tiles), which a wall time or a small HR@1 difference can reflect."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    processor = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model()
    precision = "bf16 autocast" if autocast_dtype("auto", device) else "fp32"
    return f"{processor}, {os.cpu_count()} CPUs, {platform.system()}, {precision}"


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
             if line.startswith("model name")] if cpuinfo.exists() else []
    return names[0] if names else platform.processor() or platform.machine()


def rate(metrics: dict, key: str) -> str:
    if key not in metrics:
        return "-"
    return f"{metrics[key]:.4f} [{metrics[key + '.ci_low']:.3f}, {metrics[key + '.ci_high']:.3f}]"


def summed_score(metrics: dict) -> str:
    """HR@1 of the summed log-likelihood ranking: `score_sum.*` where the run scored by the mean (the earlier default)."""
    return rate(metrics, "score_sum.hr@1" if "score_sum.hr@1" in metrics else "score.hr@1")


def paper_cell(values) -> str:
    if values is None:
        return "-"
    return f"{values[0]:.4f} / {values[1]:.4f}" if isinstance(values, tuple) else f"{values:.4f}"


REFERENCE = {"rq1": "text-only", "rq2": "llara-sasrec", "rq3": "llara-sasrec", "levers": "llara-sasrec"}  # what each table's p column tests against


def primary(metrics: dict) -> str:
    """The mode a row is judged by: one-pass ranking where it ran, else the paper's generation."""
    return "rank" if "rank.hr@1" in metrics else "generate"


def p_value(a: list[int], b: list[int]) -> str:
    return f"{mcnemar_p(np.array(a), np.array(b)):.3g}"


def wall(result: dict) -> str:
    """A cell that DVC restored from its run cache (the workspace's own `dvc repro` ran it) took no time here."""
    seconds = result["wall_seconds"]
    return f"{seconds / 60:.0f} min" if seconds >= 60 else "restored from the run cache of the workspace's dvc repro"


def paired_tests(cell: str, result: dict, reference_cell: str, reference: dict | None) -> dict[str, tuple]:
    """The row against popularity, its SR backbone and the table's reference row (when that is another row), on the
    same users in the row's own mode (a generation-only row against generation): {other: (its HR@1, theirs, McNemar
    p)}. Computed once per row, for the table's p columns and the claims in words alike."""
    mode = primary(result["metrics"])
    mine = np.array(result["hits"][mode])
    others = {"popularity": result["hits"]["popularity"], CELLS[cell][0]: result["hits"]["sr"]}
    if reference is not None and cell != reference_cell:
        others[reference_cell] = reference["hits"][mode]
    return {other: (mine.mean(), np.mean(theirs), mcnemar_p(mine, np.array(theirs))) for other, theirs in others.items()}


def llm_row(label: str, cell: str, result: dict, paper, tests: dict, reference_cell: str) -> str:
    m = result["metrics"]
    popularity, backbone = tests["popularity"][2], tests[CELLS[cell][0]][2]
    versus = f"{tests[reference_cell][2]:.3g}" if reference_cell in tests else "-"
    valid = f"{m['generate.valid_ratio']:.4f}" if "generate.valid_ratio" in m else "-"
    return (f"| {label} | {valid} | {rate(m, 'rank.hr@1')} | {rate(m, 'generate.hr@1')} | {summed_score(m)} "
            f"| {popularity:.3g} | {backbone:.3g} | {versus} "
            f"| {paper_cell(paper)} | `{result['dataset']}-{result['cell']}` ({wall(result)}) |")


def verdicts(name: str, done: dict, tests: dict) -> list[str]:
    """Each claim the table makes, in words, and whether it is significant at 0.05: RQ1 sets every language-model row
    against popularity and its SR backbone; every table sets each row against its reference row."""
    lines = []
    for cell, against in tests.items():
        mode = primary(done[cell]["metrics"])
        users = len(done[cell]["hits"][mode])
        for other, (mine, theirs, p) in against.items():
            if name != "rq1" and other != REFERENCE[name]:
                continue
            direction = "higher" if mine > theirs else "lower"
            verdict = f"{cell} is significantly {direction}" if p < 0.05 else "no significant difference"
            lines.append(f"- {cell} vs {other} ({mode}): HR@1 {mine:.3f} vs {theirs:.3f} on the "
                         f"same {users} users, p = {p:.3g}: {verdict} at 0.05.")
    return lines


def table(name: str, dataset: str, results: dict) -> list[str]:
    done = {cell: results[f"{dataset}-{cell}"] for cell in TABLES[name] if f"{dataset}-{cell}" in results}
    if not done:
        return []
    reference = done.get(REFERENCE[name])
    paper_data = PAPER_DATA.get(dataset, dataset)
    header = [f"| method | ValidRatio | HR@1 rank [95% CI] | HR@1 generate | HR@1 score | p vs popularity "
              f"| p vs its SR backbone | p vs {REFERENCE[name]} | paper Valid / HR@1 | experiment (wall) |",
              "|" + " --- |" * 10]
    rows = baseline_rows(dataset, done, PAPER_RQ1[paper_data]) if name == "rq1" else []
    paper = PAPER_RQ1[paper_data] if name == "rq1" else PAPER_RQ3[paper_data] if name == "rq3" else {}
    tests = {cell: paired_tests(cell, result, REFERENCE[name], reference)
             for cell, result in done.items() if cell not in NO_LANGUAGE_MODEL}
    rows += [llm_row(LABELS[cell], cell, done[cell], paper.get(cell), tests[cell], REFERENCE[name]) for cell in tests]
    return header + rows + ["", *verdicts(name, done, tests)]


def baseline_rows(dataset: str, done: dict, paper: dict) -> list[str]:
    """Popularity, the zero-shot base model, GPT-4 (the paper's figure) and each SR backbone, each from the first
    recorded cell that ran it (a LLaRA cell over that backbone, else the baselines cell)."""
    sources = [cell for cell in (*LLARA_CELLS, *NO_LANGUAGE_MODEL) if cell in done]
    if not sources:
        return []
    first = sources[0]
    rows = [f"| popularity | 1.0000 | {rate(done[first]['metrics'], 'sr.popularity.test.hr@1')} | - | - | - | - | - | - "
            f"| `{dataset}-{first}` |"]
    if zero_cell := next((cell for cell in sources if done[cell].get("zero_shot")), None):
        zero = done[zero_cell]["zero_shot"]
        rows.append(f"| zero-shot base model (text prompts) | {zero['generate.valid_ratio']:.4f} "
                    f"| {rate(zero, 'rank.hr@1')} | {rate(zero, 'generate.hr@1')} | {summed_score(zero)} "
                    f"| {_paired(zero, 'popularity')} | - | - | {paper_cell(paper['zero-shot'])} | `{dataset}-{zero_cell}` |")
    rows.append(f"| GPT-4 (not run here: no network) | - | - | - | - | - | - | - | {paper_cell(paper['gpt-4'])} | - |")
    by_backbone = {}
    for cell in sources:
        by_backbone.setdefault(CELLS[cell][0], cell)
    for backbone, cell in by_backbone.items():
        m, hits = done[cell]["metrics"], done[cell]["hits"]
        rows.append(f"| {backbone} | 1.0000 | {rate(m, 'sr.test.hr@1')} | - | - | {p_value(hits['sr'], hits['popularity'])} "
                    f"| - | - | {paper_cell(paper[backbone])} | `{dataset}-{cell}` |")
    return rows


def _paired(metrics: dict, baseline: str) -> str:
    key = f"paired.{primary(metrics)}_vs_{baseline}.p"
    return f"{metrics[key]:.3g}" if key in metrics else "-"


def archived_rows(archived: dict) -> list[str]:
    """The earlier regime's cells (generation and scoring only; no per-user hits were kept)."""
    rows = ["| data set | cell | ValidRatio | HR@1 generate [95% CI] | HR@1 score [95% CI] | experiment (wall) |",
            "|" + " --- |" * 6]
    for key, result in sorted(archived.items()):
        m = result["metrics"]
        rows.append(f"| {result['dataset']} | {LABELS[result['cell']]} | {m['generate.valid_ratio']:.4f} "
                    f"| {rate(m, 'generate.hr@1')} | {summed_score(m)} | `{key}` ({result['wall_seconds'] / 60:.0f} min) |")
    return rows


def rows_recorded_elsewhere(dataset: str, cell: str, results: dict) -> bool:
    """A baselines cell adds nothing once other recorded cells hold both its rows: the zero-shot row (a
    ZERO_SHOT_CELLS cell) and its backbone's (the LLaRA cell over that backbone), so it is neither run nor missing."""
    if cell not in NO_LANGUAGE_MODEL:
        return False
    zero_shot = any(results.get(f"{dataset}-{other}", {}).get("zero_shot") for other in ZERO_SHOT_CELLS if other != cell)
    backbone = any(f"{dataset}-{other}" in results for other in LLARA_CELLS if CELLS[other][0] == CELLS[cell][0])
    return zero_shot and backbone


def machines(results: dict) -> str:
    """Each machine with the cells it ran: named where they are few, else counted."""
    by_machine: dict[str, list[str]] = {}
    for name, result in sorted(results.items()):
        by_machine.setdefault(result["machine"], []).append(name)
    described = []
    for machine, names in sorted(by_machine.items(), key=lambda item: -len(item[1])):
        cells = ", ".join(f"`{name}`" for name in names) if len(names) <= 3 else f"{len(names)} cells"
        described.append(f"{machine} ({cells})")
    return "; ".join(described) or "-"


def budget(params_file: Path = ROOT / "params.yaml") -> str:
    """The default params' training budget, as every row but its overrides ran it."""
    params = yaml.safe_load(params_file.read_text())
    prompts, train = params["prompts"]["train_examples"], params["train"]
    per_step = train["batch_size"] * train["grad_accum"]
    return (f"the default params ({params['llm']['name']}, {prompts:,} training prompts, {-(-prompts // per_step)} "
            f"optimiser steps of {per_step})")


def render(results: dict, archived: dict | None = None) -> str:
    titles = {"rq1": "RQ1: LLaRA against its peers", "rq2": "RQ2: item representation (SASRec tokens, curriculum)",
              "rq3": "RQ3: training schedule (hybrid prompts, SASRec tokens)",
              "levers": "What makes the model learn on a CPU: each lever taken away from the default"}
    lines = ["# Experiments", "",
             "Generated by `python bench/experiments.py tables` from bench/results/experiments.json; each row "
             "names the DVC experiment (`dvc exp run --temp -n <name> -S data.dataset=<dataset> ...`, the "
             "overrides are in the script's CELLS) that produced it, rerun with "
             "`python bench/experiments.py run --dataset <dataset> --cells <cell> --force`. Test split, 20 "
             "candidates; HR@1 rank reads the model's one-pass score of every candidate, HR@1 generate is the "
             "paper's protocol (an invalid answer is a miss), HR@1 score ranks all 20 candidates by the summed "
             "log-likelihood of their answers (not run on Steam: 20 continuations for each of 1,194 users). "
             "Intervals: Wilson 95%. p: exact two-sided McNemar test on the same users' HR@1 hits (rank mode where "
             "the row has it, else generation), against popularity, the row's own SR backbone and the table's "
             "reference row in the same mode; under each table the same tests in words. The p-values are per "
             "comparison, not corrected for the dozens a table makes: one in twenty true nulls falls under 0.05, so "
             "a p near 0.05 is weak evidence, and the claims the tables were built for (LLaRA against popularity "
             "and its backbone, hybrid against text, the curriculum against direct and two-stage) are the ones "
             "read as tests.", ""]
    lines += [f"Machines: {machines(results)}. Budget: {budget()}, not the paper's Llama-2-7B for 5 epochs.", ""]
    for dataset in DATASETS:
        for name, title in titles.items():
            body = table(name, dataset, results)
            if body:
                lines += [f"## {title}: {dataset}", "", *body, ""]
                missing = [cell for cell in TABLES[name]
                           if f"{dataset}-{cell}" not in results and not rows_recorded_elsewhere(dataset, cell, results)]
                if missing:
                    lines += [f"Not run yet: {', '.join(missing)} (`python bench/experiments.py run --dataset "
                              f"{dataset} --cells {' '.join(missing)}`).", ""]
    if archived:
        lines += ["## The earlier regime: the paper's answer loss alone, 1,024 prompts, 64 steps", "",
                  f"From {ARCHIVE.relative_to(ROOT)}: every language-model cell lies between HR@1 0.04 and 0.14, "
                  "below popularity (0.20 on ML-100K), which is what the one-pass read-out, the listwise objective and "
                  "the SR teacher were built to change.", "", *archived_rows(archived), ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run cells as DVC experiments and record their metrics")
    run.add_argument("--dataset", default="movielens", choices=DATASETS)
    run.add_argument("--cells", nargs="+", choices=sorted(CELLS), default=[])
    run.add_argument("--table", choices=sorted(TABLES), help="run every cell of this table")
    run.add_argument("--force", action="store_true", help="rerun cells already recorded")
    sub.add_parser("tables", help=f"rewrite {REPORT.name} from the recorded results")
    args = parser.parse_args()
    if args.command == "run":
        results = load_results()
        for cell in dict.fromkeys(args.cells + TABLES.get(args.table, [])):
            if f"{args.dataset}-{cell}" in results and not args.force:
                print(f"{args.dataset}-{cell}: recorded, skipped (--force reruns it)")
                continue
            if rows_recorded_elsewhere(args.dataset, cell, results) and not args.force:
                print(f"{args.dataset}-{cell}: its rows are recorded by other cells, skipped (--force runs it)")
                continue
            results[f"{args.dataset}-{cell}"] = run_cell(args.dataset, cell, args.force)
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    archived = json.loads(ARCHIVE.read_text()) if ARCHIVE.exists() else None
    REPORT.write_text(render(load_results(), archived) + "\n")
    print(f"wrote {REPORT}")


if __name__ == "__main__":
    main()
