"""The error contract after prepare: a missing or mismatched upstream artifact, a bad param or a diverging run is
one line naming it and exit status 2; anything unexpected one line and exit status 1; a failed run writes nothing
and keeps the previous output."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch
from safetensors.torch import load_file, save_file

from helpers import finetune_inputs, link_project, run_cli
from recsys import layout
from recsys.config import EvalParams, LoraParams, TrainParams
from recsys.errors import InputError
from recsys.eval.evaluate import evaluate
from recsys.eval.recommend import read_request
from recsys.llm.card import ModelCard
from recsys.llm.finetune import Trainer, finetune
from recsys.llm.model import load_llara
from recsys.sr.inference import load_model, retrieve
from stages.common import reports_bad_input

TRAIN = TrainParams(max_steps=1, batch_size=2, grad_accum=1, precision="fp32")


@pytest.fixture(scope="module")
def model_dir(workspace, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("errors-model")
    finetune(finetune_inputs(workspace), LoraParams(r=2, alpha=4), TRAIN, out, out.with_name("errors-ckpt"),
             progress=False)
    return out


def copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_prompts_without_a_manifest_or_for_another_base_model(workspace, tmp_path, model_dir):
    inputs = finetune_inputs(workspace)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="not a prompts folder .*run `recsys materialize`"):
        Trainer(type(inputs)(empty, inputs.base, inputs.sr_model, inputs.items), LoraParams(), TRAIN, tmp_path / "c")
    other = copy(workspace / "prompts", tmp_path / "prompts")
    manifest = json.loads((other / "manifest.json").read_text())
    (other / "manifest.json").write_text(json.dumps({**manifest, "item_tokens": {"[EMB]": 7, "[PH]": 8}}))
    with pytest.raises(InputError, match="manifest.json: prompts were tokenised for item tokens"):
        Trainer(type(inputs)(other, inputs.base, inputs.sr_model, inputs.items), LoraParams(), TRAIN, tmp_path / "c")
    with pytest.raises(InputError, match="manifest.json: prompts were tokenised for item tokens"):
        evaluate(model_dir, other, workspace / "prepared", None, EvalParams(), tmp_path, progress=False)


def test_a_corrupt_adapter_is_named(model_dir, tmp_path):
    broken = copy(model_dir, tmp_path / "model")
    (broken / "adapter" / "adapter_model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(InputError, match="adapter: not a LoRA adapter for this base model"):
        load_llara(broken)


def test_an_sr_teacher_from_another_data_set(workspace, tmp_path):
    from conftest import pretrain_toy_sr

    from recsys.config import PromptParams
    from recsys.prompts.materialize import materialize

    small = tmp_path / "sr"
    pretrain_toy_sr(workspace, small, keep_items=20)
    inputs = finetune_inputs(workspace)
    with pytest.raises(InputError, match=r"prompts/manifest.json: candidates were ordered by the SR model .*llara\d*/sr, "
                                         r"this run reads .*/sr \(re-run `recsys materialize` with its sr.model\)$"):
        Trainer(type(inputs)(inputs.prompts, inputs.base, small, inputs.items), LoraParams(), TRAIN, tmp_path / "c")
    inputs = type(inputs)(tmp_path / "prompts", inputs.base, inputs.sr_model, inputs.items)  # in the drawn order:
    materialize(workspace / "prepared", inputs.base, "movie", PromptParams(train_examples=4, candidate_order="given"),
                inputs.prompts, progress=False)  # no SR model ordered them, so the next check is the items'
    with pytest.raises(InputError, match="rows but .*items.parquet has 30 items|SR model knows 20 items"):
        Trainer(type(inputs)(inputs.prompts, inputs.base, small, inputs.items), LoraParams(), TRAIN, tmp_path / "c")


def test_recommend_needs_something_to_rank(model_dir):
    with pytest.raises(InputError, match="--k: expected at least one candidate"):
        read_request(model_dir, ["Item 1"], None, 0, seed=0)
    with pytest.raises(InputError, match="--k: only 29 items lie outside the history, got 30"):
        read_request(model_dir, ["Item 1"], None, 30, seed=0)


@pytest.fixture(scope="module")
def project(workspace, tmp_path_factory) -> Path:
    """A project folder laid out as the stages expect (recsys.layout), run from with `chdir`."""
    root = tmp_path_factory.mktemp("project")
    link_project(workspace, root)
    return root


def stage(*args: str):
    """`recsys <args>` in the working directory -> the result, checked to be a clean exit or to end in one error line
    (after any progress bars of transformers), with its stderr cut to that line."""
    result = run_cli(*args)
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.exception)
    if result.exit_code:
        lines = result.stderr.splitlines()
        assert [line for line in lines if "error" in line.lower() or "Traceback" in line] == lines[-1:], lines
        assert lines[-1].startswith("error: ")
        result.stderr_bytes = (lines[-1] + "\n").encode()
    return result


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("override, expected", [
    ("train.batch_size=0", "train.batch_size: expected an integer >= 1, got 0"),
    ("train.lr=-1", "train.lr: expected a number > 0, got -1.0"),
    ("train.grad_accum=0", "train.grad_accum: expected an integer >= 1, got 0"),
    ("lora.r=0", "lora.r: expected an integer >= 1, got 0"),
    ("train.distill_temperature=0", "train.distill_temperature: expected a number > 0, got 0.0"),
    ("eval.modes=[foo]", "eval.modes[0]: expected one of rank, generate, score, catalogue, got 'foo'"),
])
def test_finetune_refuses_a_bad_param_before_anything_is_loaded(project, monkeypatch, override, expected):
    monkeypatch.chdir(project)
    result = stage("finetune", "--set", override, "--out", "refused")
    assert result.exit_code == 2 and result.stderr == f"error: params.yaml: {expected}\n"
    assert not Path("refused").exists() and not list(Path(".").glob(".refused.tmp-*"))


def test_lora_modules_the_base_model_lacks(project, monkeypatch):
    monkeypatch.chdir(project)
    result = stage("finetune", "--set", "lora.target_modules=[q_proj, qkv]", "--out", "refused")
    assert result.exit_code == 2 and "lora.target_modules: 'qkv' names no module of the base model" in result.stderr
    assert not Path("refused").exists()


def test_evaluate_refuses_a_bad_eval_section_or_dataset_before_loading(project, monkeypatch):
    monkeypatch.chdir(project)
    monkeypatch.setattr("recsys.eval.evaluate.evaluate", lambda **_: pytest.fail("evaluate ran"))
    result = stage("evaluate", "--set", "eval.modes=[rank, foo]", "--out", "refused")
    assert result.exit_code == 2 and "eval.modes[1]: expected one of rank, generate, score, catalogue, got 'foo'" in result.stderr
    result = stage("evaluate", "--set", "data.dataset=toys", "--out", "refused")
    assert result.exit_code == 2
    assert result.stderr == "error: params.yaml: data.dataset: 'toys' is not a key of the datasets section (expected " \
                            "one of toy)\n"


def test_materialize_names_a_base_model_without_tokenizer_and_items_without_titles(workspace, project, monkeypatch,
                                                                                     tmp_path):
    monkeypatch.chdir(project)
    broken = shutil.copytree(workspace / "base", layout.base_model("no-tokenizer"))
    for path in broken.glob("tokenizer*"):
        path.unlink()
    result = stage("materialize", "--set", "llm.name=no-tokenizer", "--out", str(tmp_path / "a"))
    assert result.exit_code == 2 and result.stderr.startswith(f"error: {broken}: no usable tokenizer or config (")
    prepared = shutil.copytree(workspace / "prepared", layout.prepared("untitled"))
    pq.write_table(pq.read_table(prepared / "items.parquet").drop(["title"]), prepared / "items.parquet")
    result = stage("materialize", "--set", "data.dataset=untitled", "--set", "datasets.untitled.domain=movie",
                   "--out", str(tmp_path / "b"))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {prepared / 'items.parquet'}: missing column 'title' (it has item_id")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_an_unexpected_failure_is_one_line_unless_debugging(project, monkeypatch):
    monkeypatch.chdir(project)

    def crash(*args, **kwargs):
        raise ZeroDivisionError("division by zero\nsecond line")

    monkeypatch.setattr("recsys.llm.finetune.finetune", crash)
    result = stage("finetune", "--out", "crashed")
    assert result.exit_code == 1
    assert result.stderr == "error: ZeroDivisionError: division by zero (set RECSYS_DEBUG=1 for the traceback)\n"
    monkeypatch.setenv("RECSYS_DEBUG", "1")
    assert isinstance(run_cli("finetune", "--out", "crashed").exception, ZeroDivisionError)
    assert not Path("crashed").exists()


@pytest.mark.parametrize("raised", [KeyboardInterrupt(), SystemExit(3)])
def test_ctrl_c_and_exits_pass_through(raised):
    def command():
        raise raised

    with pytest.raises(type(raised)):
        reports_bad_input(command)()


def test_sigterm_exits_143_even_where_a_library_turns_it_into_its_own_error():
    """DuckDB answers the SystemExit our SIGTERM handler raises inside a query with "Query interrupted"."""
    import os
    import signal
    import time

    def command():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        except SystemExit:
            raise RuntimeError("Query interrupted") from None

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as stopped:
        reports_bad_input(command)()
    assert stopped.value.code == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == before


def test_a_diverging_run_stops_and_a_failed_rerun_keeps_the_previous_model(project, monkeypatch):
    """A NaN loss stops training with one line; neither it nor a refused param touches the model already there
    (the stage replaces its folder whole, on success only), and each run's checkpoint is its own."""
    monkeypatch.chdir(project)
    out = layout.llara("toy", "sasrec")
    assert stage("finetune").exit_code == 0
    model, checkpoints = digest(out), digest(layout.checkpoints("toy", "sasrec"))
    assert {"adapter/adapter_model.safetensors", "projector.safetensors", "finetune.json"} <= set(model)
    result = stage("finetune", "--set", "train.lr=1.0e+30")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: train: non-finite loss (nan) at step 2 (answer nan, listwise nan, distill ")
    assert result.stderr.endswith("): lower train.lr or check the inputs\n")
    assert stage("finetune", "--set", "train.batch_size=0").exit_code == 2
    assert digest(out) == model and not list(out.parent.glob(f".{out.name}.tmp-*"))
    after = digest(layout.checkpoints("toy", "sasrec"))
    assert {k: v for k, v in after.items() if k in checkpoints} == checkpoints  # the good run's checkpoint is intact
    assert len({Path(k).parts[0] for k in after}) == 2  # the diverged run kept its own folder


def test_a_finished_run_says_so_and_still_writes_its_output(project, monkeypatch):
    monkeypatch.chdir(project)
    out = layout.llara("toy", "sasrec")
    assert stage("finetune", "--set", "train.seed=3").exit_code == 0
    written = digest(out)
    assert stage("finetune", "--set", "train.seed=4").exit_code == 0  # another run: its own checkpoint folder
    shutil.rmtree(out)
    result = stage("finetune", "--set", "train.seed=3")
    shown = " ".join(result.stdout.split())  # rich wraps at the terminal's width
    assert result.exit_code == 0 and "resumed" not in shown
    assert shown.startswith(f"already trained (checkpoint at step 2 of 2) -> {out}: final loss ")
    assert digest(out) == written


@pytest.fixture
def stage_model(project, monkeypatch) -> Path:
    """The model the finetune command writes into the project, copied to a folder of its own."""
    monkeypatch.chdir(project)
    if not (layout.llara("toy", "sasrec") / "finetune.json").is_file():
        assert stage("finetune").exit_code == 0
    return Path(shutil.copytree(layout.llara("toy", "sasrec"), project / "copies" / "m", dirs_exist_ok=True))


def test_recommend_checks_titles_before_loading_and_says_what_it_matched(stage_model, monkeypatch):
    monkeypatch.setattr("recsys.eval.recommend.load_llara", lambda *a: pytest.fail("loaded the model first"))
    result = stage("recommend", "--model", str(stage_model), "--history", "Item 1", "--history", "Itme 2")
    assert result.exit_code == 2 and result.stderr.startswith("error: --history 'Itme 2': no item has this title")
    monkeypatch.undo()
    monkeypatch.chdir(stage_model.parents[1])
    history = ['"Item 3" 🎬', "item 4!!"] + [f"Item {i}" for i in range(5, 14)] + ["Item 4"]
    result = stage("recommend", "--model", str(stage_model), *(f"--history={h}" for h in history), "--k", "3",
                   "--seed", "5", "--sample")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["--history '\"Item 3\" 🎬' -> 'Item 3' (item 2)", "--history 'item 4!!' -> 'Item 4' (item 3)"]
    assert "candidates: 3 sampled with seed 5 among the 19 items outside the history" in lines
    assert [line for line in result.stderr.splitlines() if "warning" in line] == [
        "warning: --history has 12 titles, this model reads the last 10: the first 2 are left out",
        "warning: --history names 'Item 4' 2 times ('item 4!!', 'Item 4'); the prompt shows each"]
    retrieved = stage("recommend", "--model", str(stage_model), "--history", "Item 1", "--k", "3")
    assert retrieved.exit_code == 0, retrieved.stderr
    assert "candidates: the SR model's top 3 among the 29 items outside the history" in retrieved.stdout
    top = retrieve(load_model(Path(ModelCard.read(stage_model).sr_model)), [0], 3)  # item 0 is "Item 1"
    assert read_request(stage_model, ["Item 1"], None, 3, seed=0).candidates == top  # listed best first, as trained
    given = stage("recommend", "--model", str(stage_model), "--history", "Item 1", "--candidate", "item 7",
                  "--candidate", "Item 8")
    assert "--candidate 'item 7' -> 'Item 7' (item 6)" in given.stdout and "candidates: 2 given" in given.stdout


def test_a_projector_from_elsewhere_is_named_before_the_model_loads(stage_model, model_dir, tmp_path):
    projector = stage_model / "projector.safetensors"
    good = {name: t.clone() for name, t in load_file(projector).items()}  # not a view of the file rewritten below
    for content, problem in ((b"", "empty file"), (b"garbage", "not a safetensors file")):
        projector.write_bytes(content)
        with pytest.raises(InputError, match=f"projector.safetensors: {problem}"):
            load_llara(stage_model)
    card = json.loads((stage_model / "finetune.json").read_text())
    run = {"fingerprint": card["fingerprint"], "n_items": 30, "item_dim": 8, "user_dim": card["user_dim"]}
    save_file({**good, "projector.net.0.weight": torch.zeros(32, 4)}, projector, metadata={"llara_run": json.dumps(run)})
    with pytest.raises(InputError, match=r"projector.net.0.weight: expected shape \[32, 8\], found \[32, 4\] "
                                         rf"\(finetune.json: item_dim 8, user_dim {card['user_dim']}, hidden_size 32\)"):
        load_llara(stage_model)
    save_file(good, projector)
    with pytest.raises(InputError, match="carries no run metadata"):
        load_llara(stage_model)
    shutil.copy(model_dir / "projector.safetensors", projector)  # same shapes, another run
    with pytest.raises(InputError, match="projector.safetensors: from another run: fingerprint "):
        load_llara(stage_model)


def test_a_model_card_whose_sr_model_is_gone_names_the_key(stage_model, workspace, project):
    card = json.loads((stage_model / "finetune.json").read_text())
    (stage_model / "finetune.json").write_text(json.dumps({**card, "sr_model": "models/sr/toy/gone"}))
    with pytest.raises(InputError) as err:
        load_llara(stage_model)
    assert str(err.value).startswith(f"{stage_model / 'finetune.json'}: sr_model: folder models/sr/toy/gone not found")
