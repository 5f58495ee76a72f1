"""Prompt shards, the behavioural splice, the schedule and resumable fine-tuning on the tiny Llama."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch
from safetensors.torch import load_file

from helpers import answer_loss, build_model, finetune_inputs, lm_inputs, train_then_stop
from recsys.config import LoraParams, TrainParams
from recsys.llm.base_model import load_base
from recsys.llm.batches import IGNORE, collate
from recsys.llm.finetune import finetune
from recsys.llm.schedule import draw_task, hard_probability
from recsys.prompts.manifest import PromptManifest
from recsys.prompts.shards import SCHEMA, read_all, write_shard
from recsys.prompts.templates import VARIANTS


def test_shards_hold_both_variants_in_bounded_files(workspace):
    prompts = workspace / "prompts"
    assert len(list((prompts / "train" / "text").glob("shard-*.arrow"))) == 3  # 12 rows, 5 per shard
    text, hybrid = read_all(prompts / "train" / "text"), read_all(prompts / "train" / "hybrid")
    assert text.num_rows == hybrid.num_rows == 12
    # the same items at the same places, the hybrid prompt opening with the user's slot (prompts.user_token)
    for t, h, user in zip(*(c.to_pylist() for c in (text.column("slot_positions"), hybrid.column("slot_positions"),
                                                     hybrid.column("user_position")))):
        assert 0 < user < h[0] and np.all(np.subtract(h, t) == h[0] - t[0])
    assert set(text.column("user_position").to_pylist()) == {-1}
    row = hybrid.slice(0, 1).to_pylist()[0]
    assert len(row["slot_items"]) == len(row["candidates"]) + row["text"].count("[EMB]") - 5
    assert row["slot_items"][-5:] == row["candidates"] and row["target"] in row["candidates"]
    assert "The 5 movie title candidates are" in row["text"]


def test_variants_name_items_as_rq2_compares_them(workspace):
    rows = {v: read_all(workspace / "prompts" / "val" / v).slice(0, 1).to_pylist()[0] for v in VARIANTS}
    hybrid, behaviour, index, text = (rows[v] for v in ("hybrid", "behaviour", "id", "text"))
    assert behaviour["slot_items"] == hybrid["slot_items"] and text["slot_items"] == index["slot_items"]
    assert sorted(hybrid["slot_items"]) == sorted(text["slot_items"])  # the same items; only the order may differ
    assert behaviour["text"].count("[EMB]") == len(behaviour["slot_items"])
    assert "Item" not in behaviour["text"].split("The answer is")[0]
    assert text["text"].count("[PH]") == len(text["slot_items"]) and "[EMB]" not in text["text"]
    assert index["text"].count("[PH]") == len(index["slot_items"]) and "Item" not in index["text"]
    first, second = index["candidates"][:2]
    assert f"candidates are A. item {first}[PH] B. item {second}[PH] C. " in index["text"]
    letter = "ABCDE"[index["candidates"].index(index["target"])]
    assert index["text"].endswith(f"The answer is {letter}. item {index['target']}")
    assert behaviour["text"].endswith(hybrid["text"][hybrid["text"].rindex("The answer is"):])  # title answer
    user_alone = rows["text-user"]  # the hybrid prompt with the items' behaviour taken out, the user token kept
    assert user_alone["text"] == hybrid["text"].replace("[EMB]", "[PH]")
    assert user_alone["text"].startswith("This user's behaviour: [USR]. ")
    for column in ("slot_positions", "slot_items", "user_position", "candidates"):
        assert user_alone[column] == hybrid[column], column


def test_paper_prompt_has_no_index_letters(workspace, tmp_path):
    from recsys.config import PromptParams
    from recsys.prompts.materialize import materialize

    manifest = materialize(workspace / "prepared", workspace / "base", "movie",
                           PromptParams(train_examples=4, index_letters=False), tmp_path / "prompts", workspace / "sr",
                           progress=False)
    row = read_all(tmp_path / "prompts" / "val" / "hybrid").slice(0, 1).to_pylist()[0]
    first, second = row["candidates"][:2]
    assert manifest.index_letters is None and "A. " not in row["text"]
    assert row["text"].endswith(f"The answer is Item {row['target'] + 1}")  # toy titles are "Item <id + 1>"
    assert f"candidates are Item {first + 1}[EMB], Item {second + 1}[EMB], " in row["text"]


def test_behavioural_prompts_list_the_candidates_best_first_by_the_sr_model(workspace):
    """prompts.candidate_order sr: hybrid, behaviour and text-user prompts list the prepared candidates sorted by the
    SR model's score for the history shown, with the answer's letter following the target; text and id prompts keep the
    prepared order, and the manifest names the SR model, so prompts ordered by another one are refused."""
    import pytest

    from recsys.errors import InputError
    from recsys.sr.data import examples_from_table
    from recsys.sr.inference import load_model, score_examples

    prepared = pq.read_table(workspace / "prepared" / "val.parquet")
    model = load_model(workspace / "sr")
    scores, _ = score_examples(model, examples_from_table(prepared, model.n_items, model.max_len, True, workspace))
    expected = [[c[i] for i in np.argsort(-s, kind="stable")] for c, s in
                zip(prepared.column("candidates").to_pylist(), scores)]
    shown = {v: read_all(workspace / "prompts" / "val" / v) for v in VARIANTS}
    for variant, table in shown.items():
        want = expected if VARIANTS[variant].behavioural else prepared.column("candidates").to_pylist()
        assert table.column("candidates").to_pylist() == want, variant
    row = shown["hybrid"].slice(0, 1).to_pylist()[0]
    assert expected[0] != prepared.column("candidates")[0].as_py()  # the order changed, so the check has teeth
    assert row["text"].endswith(f"The answer is {'ABCDE'[row['candidates'].index(row['target'])]}. "
                                f"Item {row['target'] + 1}")
    manifest = PromptManifest.read(workspace / "prompts")
    assert (manifest.candidate_order, manifest.order_model) == ("sr", str(workspace / "sr"))
    manifest.check_order(workspace / "sr", workspace / "prompts")
    with pytest.raises(InputError, match=r"manifest.json: candidates were ordered by the SR model .*, this run reads "
                                         r".*other \(re-run `recsys materialize` with its sr.model\)$"):
        manifest.check_order(workspace / "other", workspace / "prompts")


def test_a_prompt_longer_than_the_context_is_an_error_naming_it(workspace, tmp_path):
    import json
    import shutil

    import pytest

    from recsys.config import PromptParams
    from recsys.errors import InputError
    from recsys.prompts.materialize import materialize

    base = shutil.copytree(workspace / "base", tmp_path / "base")
    longest = PromptManifest.read(workspace / "prompts").splits["train"]["variants"]
    config = json.loads((base / "config.json").read_text())
    (base / "config.json").write_text(json.dumps({**config, "max_position_embeddings": longest["text"]["max_tokens"] - 1}))
    with pytest.raises(InputError, match=r"^train/text example \d+ \(prepared user index \d+\): \d+ tokens, longer "
                                         r"than the base model's context of \d+ \(lower data.max_title_chars"):
        materialize(workspace / "prepared", base, "movie", PromptParams(train_examples=12, shard_rows=5),
                    tmp_path / "prompts", workspace / "sr", progress=False)


def test_shard_round_trip(tmp_path, workspace):
    table = read_all(workspace / "prompts" / "val" / "hybrid")
    write_shard(tmp_path, 0, table)
    assert read_all(tmp_path).equals(table.cast(SCHEMA))


def test_labels_cover_exactly_the_answer(workspace):
    _, tokenizer = load_base(workspace / "base")
    table = read_all(workspace / "prompts" / "train" / "hybrid")
    batch = collate(table, np.array([0, 1, 2]), tokenizer.pad_token_id)
    for b, row in enumerate(table.slice(0, 3).to_pylist()):
        n, start = len(row["input_ids"]), row["answer_start"]
        labels = batch["labels"][b]
        assert (labels[:start] == IGNORE).all() and (labels[n:] == IGNORE).all()
        assert labels[start:n].tolist() == row["input_ids"][start:]
        titles = pq.read_table(workspace / "prepared" / "items.parquet").column("title").to_pylist()
        letter = "ABCDE"[row["candidates"].index(row["target"])]
        assert tokenizer.decode(row["input_ids"][start:]) == f" {letter}. {titles[row['target']]}{tokenizer.eos_token}"


def test_slot_embeddings_reach_the_model(workspace):
    model, tokenizer = build_model(workspace)
    table = read_all(workspace / "prompts" / "val" / "hybrid")
    batch = collate(table, np.array([0]), tokenizer.pad_token_id)
    in_prompt = int(batch["slot_items"][0, 0])
    absent = next(i for i in range(30) if i not in batch["slot_items"][0].tolist())

    def logits() -> torch.Tensor:
        with torch.no_grad():
            return model(**lm_inputs(batch), splice=True).logits

    before = logits()
    model.behaviour.item_table[absent] += 1.0
    torch.testing.assert_close(logits(), before, rtol=0, atol=0)
    model.behaviour.item_table[in_prompt] += 1.0
    assert not torch.allclose(logits(), before)
    with torch.no_grad():  # the text task ignores the item table altogether
        assert torch.equal(model(**lm_inputs(batch), splice=False).logits,
                           model(**lm_inputs(batch), splice=False).logits)


def test_schedule_is_a_pure_function_of_the_step():
    params = TrainParams(schedule="curriculum")
    assert hard_probability(0, 11, params) == 0.0 and hard_probability(10, 11, params) == 1.0
    assert hard_probability(5, 11, params) == 0.5
    assert draw_task(0, 11, params)[0] == "text" and draw_task(10, 11, params)[0] == "hybrid"
    behaviour = TrainParams(schedule="direct", hard_variant="behaviour")
    assert {draw_task(s, 4, behaviour)[0] for s in range(4)} == {"behaviour"}
    assert [draw_task(s, 11, params) for s in range(11)] == [draw_task(s, 11, params) for s in range(11)]
    two = TrainParams(schedule="two-stage", two_stage_fraction=0.5)
    assert [hard_probability(s, 4, two) for s in range(4)] == [0.0, 0.0, 1.0, 1.0]
    assert hard_probability(0, 4, TrainParams(schedule="direct")) == 1.0
    assert hard_probability(3, 4, TrainParams(schedule="text-only")) == 0.0


def run_finetune(root: Path, out: str, train: TrainParams):
    return finetune(finetune_inputs(root), LoraParams(r=2, alpha=4, dropout=0.1), train, _fresh(root / out),
                    root / f"{out}-ckpt", progress=False)


def _fresh(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_text_task_never_updates_the_projector(workspace):
    train = TrainParams(schedule="text-only", max_steps=2, batch_size=2, grad_accum=1, lr=1e-2, checkpoint_every=5)
    run_finetune(workspace, "text-only", train)
    model, _ = build_model(workspace, seed=train.seed)
    initial = model.behaviour.state_dict()
    trained = load_file(workspace / "text-only" / "projector.safetensors")
    for name, value in initial.items():
        assert torch.equal(trained[name], value)  # same seed -> same init; never stepped
    adapter = load_file(workspace / "text-only" / "adapter" / "adapter_model.safetensors")
    assert any(t.abs().sum() > 0 for k, t in adapter.items() if "lora_B" in k)  # LoRA did train
    log = (workspace / "text-only" / "train_log.csv").read_text().splitlines()
    task = log[0].split(",").index("task")
    assert [line.split(",")[task] for line in log[1:]] == ["text", "text"]


def test_hybrid_task_trains_the_projector_through_the_splice(workspace):
    """Gradients reach the projector only through the behavioural slots; every layer of it gets some."""
    model, tokenizer = build_model(workspace, seed=4)
    batch = collate(read_all(workspace / "prompts" / "train" / "hybrid"), np.arange(4), tokenizer.pad_token_id)
    model.train()
    answer_loss(model, batch).backward()
    grads = {name: p.grad for name, p in model.behaviour.projector.named_parameters()}
    assert all(g is not None and g.abs().sum() > 0 for g in grads.values()), grads.keys()
    train = TrainParams(schedule="direct", max_steps=2, batch_size=2, grad_accum=1, lr=1e-2, checkpoint_every=5)
    run_finetune(workspace, "direct", train)
    initial = build_model(workspace, seed=train.seed)[0].behaviour.state_dict()
    trained = load_file(workspace / "direct" / "projector.safetensors")
    assert all(not torch.equal(trained[name], value) for name, value in initial.items())


def test_text_user_task_trains_the_user_token_and_never_the_item_projector(workspace, tmp_path):
    """RQ2's "user token alone": the item slots keep [PH], so only the user projector learns behaviour; prompts
    without the user token are refused in one line naming the key."""
    from dataclasses import replace

    import pytest

    from recsys.config import PromptParams
    from recsys.errors import InputError
    from recsys.llm.behaviour import seeded_behaviour
    from recsys.llm.card import ModelCard
    from recsys.prompts.materialize import materialize

    train = TrainParams(schedule="direct", hard_variant="text-user", max_steps=2, batch_size=2, grad_accum=1, lr=1e-2,
                        checkpoint_every=5)
    run_finetune(workspace, "text-user", train)
    card = ModelCard.read(workspace / "text-user")
    assert (card.variant, card.user_dim, card.item_scores) == ("text-user", 8, False)  # no item token to score
    fresh = build_model(workspace, seed=train.seed)[0].behaviour
    initial = seeded_behaviour(fresh.item_table, card.hidden_size, train.seed, card.user_dim).state_dict()
    trained = load_file(workspace / "text-user" / "projector.safetensors")
    assert trained.keys() == initial.keys()
    for name, value in initial.items():  # stepped twice: the user projector moved, the item projector did not
        assert torch.equal(trained[name], value) == name.startswith("projector."), name
    materialize(workspace / "prepared", workspace / "base", "movie", PromptParams(train_examples=4, user_token=False),
                tmp_path / "prompts", workspace / "sr", progress=False)
    inputs = replace(finetune_inputs(workspace), prompts=tmp_path / "prompts")
    with pytest.raises(InputError, match=r"^train.hard_variant: text-user is the text prompt with the user token, "
                                         r"which these prompts lack: set prompts.user_token: true$"):
        finetune(inputs, LoraParams(r=2, alpha=4), train, tmp_path / "out", tmp_path / "ckpt", progress=False)


def test_out_of_fold_training_reads_the_val_prompts_the_sr_model_never_fitted(workspace):
    """train.examples_from: val trains on every user's second-to-last item (LOO), which the SR model only validated
    on; the learning curve would read the same prompts, so a run asking for one is refused."""
    from recsys.llm.finetune import Trainer

    train = TrainParams(examples_from="val", max_steps=1, batch_size=2, grad_accum=1, eval_points=0)
    trainer = Trainer(finetune_inputs(workspace), LoraParams(r=2, alpha=4), train, workspace / "oof-ckpt")
    val = {task: read_all(workspace / "prompts" / "val" / task) for task in ("text", "hybrid")}
    assert trainer.shards.keys() == val.keys()
    for task, table in val.items():
        assert trainer.shards[task].column("example_id").to_pylist() == table.column("example_id").to_pylist()
    assert val["text"].num_rows == 10 != read_all(workspace / "prompts" / "train" / "text").num_rows  # 10 users, 12
    assert "set eval_points: 0" in TrainParams(examples_from="val").inconsistency()
    assert TrainParams(examples_from="val", eval_points=0).inconsistency() is None


def test_the_learning_curve_reads_the_model_and_never_changes_it(workspace):
    """Validating mid-run draws no random numbers and steps nothing: with a curve or without, the same tensors, so a
    data set may drop the curve (ML-100K LOO and Steam do, to save a pass over every val user per point) and keep its
    results."""
    for points in (0, 3):
        run_finetune(workspace, f"curve-{points}", TrainParams(max_steps=3, batch_size=2, grad_accum=1, lr=1e-2, seed=5,
                                                               checkpoint_every=5, eval_points=points, precision="fp32"))
    assert len((workspace / "curve-3" / "val_curve.csv").read_text().splitlines()) == 5  # header, step 0, 3 points
    assert (workspace / "curve-0" / "val_curve.csv").read_text().count("\n") == 1
    for name in ("projector.safetensors", "adapter/adapter_model.safetensors"):
        with_curve, without = load_file(workspace / "curve-3" / name), load_file(workspace / "curve-0" / name)
        assert with_curve.keys() == without.keys()
        for key in with_curve:
            assert torch.equal(with_curve[key], without[key]), (name, key)


def test_resume_after_interruption_matches_an_uninterrupted_run(workspace):
    train = TrainParams(max_steps=4, batch_size=2, grad_accum=2, lr=1e-2, checkpoint_every=1, seed=3)
    run_finetune(workspace, "straight", train)
    train_then_stop(workspace, train, workspace / "resumed-ckpt", stop_after=2)
    summary = run_finetune(workspace, "resumed", train)
    assert summary["steps"] == 4 and summary["resumed_at"] == 2
    for name in ("projector.safetensors", "adapter/adapter_model.safetensors"):
        a, b = load_file(workspace / "straight" / name), load_file(workspace / "resumed" / name)
        assert a.keys() == b.keys()
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    straight = (workspace / "straight" / "train_log.csv").read_text().splitlines()
    resumed = (workspace / "resumed" / "train_log.csv").read_text().splitlines()
    assert straight == resumed  # the log has no wall-clock column: the same run, the same bytes
    assert any(",hybrid," in line for line in straight) and any(",text," in line for line in straight)


def test_kill_9_then_resume_reaches_the_same_weights(workspace):
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    train = TrainParams(max_steps=30, batch_size=2, grad_accum=1, lr=1e-2, checkpoint_every=1, seed=5)
    run_finetune(workspace, "whole", train)
    script = (
        "import sys; from pathlib import Path; sys.path.insert(0, 'tests')\n"
        "from test_finetune import run_finetune; from recsys.config import TrainParams\n"
        f"run_finetune(Path({str(workspace)!r}), 'killed', TrainParams(**{train.__dict__!r}))\n"
    )
    checkpoints = workspace / "killed-ckpt"  # holds one folder per run, named by its fingerprint
    process = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).parents[1])
    while not list(checkpoints.glob("*/last/state.json")) and process.poll() is None:
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    (state,) = checkpoints.glob("*/last/state.json")
    killed_at = json.loads(state.read_text())["step"]
    assert 1 <= killed_at < 30  # it really died mid-run
    run_finetune(workspace, "killed", train)
    a = load_file(workspace / "whole" / "adapter" / "adapter_model.safetensors")
    b = load_file(workspace / "killed" / "adapter" / "adapter_model.safetensors")
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def test_answer_loss_equals_the_lm_loss(workspace):
    model, tokenizer = build_model(workspace, seed=2)
    table = read_all(workspace / "prompts" / "train" / "hybrid")
    batch = collate(table, np.array([0, 1, 2]), tokenizer.pad_token_id)
    with torch.no_grad():
        torch.testing.assert_close(answer_loss(model, batch), model(**lm_inputs(batch), splice=True).loss)


def test_two_processes_write_byte_identical_models(workspace, tmp_path):
    """Same params and seed, different string hashing: every output file has the same bytes (peft keeps
    target_modules as a set, which adapter_config.json would list in hash order)."""
    import os
    import subprocess
    import sys

    script = (
        "import sys; from pathlib import Path; sys.path.insert(0, 'tests')\n"
        "from helpers import finetune_inputs; from recsys.config import LoraParams, TrainParams\n"
        "from recsys.llm.finetune import finetune\n"
        "out = Path(sys.argv[1]); out.mkdir()\n"
        "finetune(finetune_inputs(Path(sys.argv[2])), LoraParams(r=2, alpha=4), TrainParams(max_steps=2, batch_size=2,"
        " grad_accum=1, eval_points=1, precision='fp32'), out, out.with_name(out.name + '-ckpt'), progress=False)\n"
    )
    for name, seed in (("a", "1"), ("b", "2")):
        subprocess.run([sys.executable, "-c", script, str(tmp_path / name), str(workspace)], check=True,
                       cwd=Path(__file__).parents[1], env={**os.environ, "PYTHONHASHSEED": seed})
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert {"adapter/adapter_config.json", "train_log.csv", "val_curve.csv", "finetune.json"} <= {str(f) for f in files}
    for file in files:
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes(), file


def test_a_run_without_read_out_writes_a_header_only_curve(workspace, tmp_path):
    """The paper's recipe (answer loss, no index letters) has nothing to rank by; its declared output still exists."""
    from dataclasses import replace

    from recsys.config import PromptParams
    from recsys.prompts.materialize import materialize

    materialize(workspace / "prepared", workspace / "base", "movie", PromptParams(train_examples=4, index_letters=False),
                tmp_path / "prompts", workspace / "sr", progress=False)
    inputs = replace(finetune_inputs(workspace), prompts=tmp_path / "prompts")
    train = TrainParams(max_steps=1, batch_size=2, grad_accum=1, listwise_weight=0.0, distill_weight=0.0, letter_weight=0.0,
                        eval_points=3, precision="fp32")
    summary = finetune(inputs, LoraParams(r=2, alpha=4), train, tmp_path / "out", tmp_path / "ckpt", progress=False)
    assert summary["val_hr@1"] is None
    assert (tmp_path / "out" / "val_curve.csv").read_text() == "step,prompts,val_hr@1,val_ndcg@5\n"


def test_manifest_statistics_are_per_split_and_variant(workspace):
    manifest = PromptManifest.read(workspace / "prompts")
    for split in ("train", "val", "test"):
        stats = manifest.splits[split]["variants"]
        for variant, numbers in stats.items():
            lengths = [len(ids) for ids in read_all(workspace / "prompts" / split / variant).column("input_ids").to_pylist()]
            assert numbers["mean_tokens"] == round(float(np.mean(lengths)), 2) and numbers["max_tokens"] == max(lengths)
        # the hybrid prompt is the text one with [EMB] for [PH], plus the user's slot (prompts.user_token)
        assert stats["behaviour"]["mean_tokens"] < stats["hybrid"]["mean_tokens"]
        assert stats["text"]["mean_tokens"] < stats["hybrid"]["mean_tokens"]


def test_a_manifest_missing_a_key_or_not_json_is_one_line_naming_the_file_and_key(workspace, tmp_path):
    import dataclasses
    import json

    import pytest

    from recsys.errors import InputError

    manifest = PromptManifest.read(workspace / "prompts")
    (tmp_path / "same").mkdir()
    manifest.write(tmp_path / "same")  # what materialize wrote, to the byte: DVC sees no change
    assert (tmp_path / "same" / "manifest.json").read_bytes() == (workspace / "prompts" / "manifest.json").read_bytes()
    fields = dataclasses.asdict(manifest)
    del fields["readout_token"]
    for folder, text, problem in (("old", json.dumps(fields), "missing key 'readout_token'"),
                                  ("torn", '{"domain": "movie", ', "not JSON")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "manifest.json").write_text(text)
        with pytest.raises(InputError) as error:
            PromptManifest.read(tmp_path / folder)
        message = str(error.value)
        assert message.startswith(f"{tmp_path / folder / 'manifest.json'}: {problem}") and "\n" not in message


def test_item_scores_are_the_sr_dot_products_standardised_per_prompt():
    from recsys.llm.behaviour import standardised_scores

    table = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # 3 items, d = 2
    slot_items = torch.tensor([[0, 1, 2], [2, 0, -1]])  # the second prompt has two slots
    user_state = torch.tensor([[2.0, 0.0], [1.0, 3.0]])  # dot products: [2, 0, 2] and [4, 1]
    z = standardised_scores(table, slot_items, user_state)
    s = 2 / 3 * np.sqrt(2)  # population std of [2, 0, 2]
    torch.testing.assert_close(z, torch.tensor([[(2 - 4 / 3) / s, -4 / 3 / s, (2 - 4 / 3) / s], [1.0, -1.0, 0.0]]).float(),
                               atol=1e-5, rtol=0)


def test_item_scores_start_at_zero_and_learn_through_the_splice():
    """The score embedding starts at zero (the model without it) and gets a gradient at the first step."""
    from recsys.llm.behaviour import BehaviourTokens

    torch.manual_seed(0)
    with_scores, without = BehaviourTokens(torch.randn(6, 4), 8, 4, item_scores=True), BehaviourTokens(torch.randn(6, 4), 8, 4)
    without.load_state_dict({k: v for k, v in with_scores.state_dict().items() if not k.startswith("score_")})
    without.item_table.copy_(with_scores.item_table)
    embeds = torch.zeros(2, 7, 8)
    slots = dict(slot_pos=torch.tensor([[2, 3, 4], [3, 5, -1]]), slot_items=torch.tensor([[0, 1, 2], [5, 4, -1]]),
                 user_pos=torch.tensor([1, 1]), user_state=torch.randn(2, 4))
    out = with_scores.splice(embeds, **slots)
    torch.testing.assert_close(out, without.splice(embeds, **slots), rtol=0, atol=0)
    (out * torch.randn_like(out)).sum().backward()
    assert with_scores.score_projector.weight.grad.abs().sum() > 0
