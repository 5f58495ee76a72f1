"""Evaluation: answer matching, candidate scoring against a naive forward pass, generation."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
import torch.nn.functional as F

from helpers import build_model, finetune_inputs
from recsys.eval.generate import rank_and_generate
from recsys.eval.match import match_answer, normalise_title
from recsys.eval.score import answer_token_ids, score_candidates
from recsys.llm.batches import collate
from recsys.llm.ranking import choice_scores
from recsys.llm.readout import Readout
from recsys.prompts.manifest import PromptManifest
from recsys.prompts.shards import read_all
from recsys.prompts.templates import render_answer, strip_letter


@pytest.mark.parametrize(
    "raw, normal",
    [("The Godfather", "godfather"), ("Godfather, The", "godfather the"), ("  Se7en!! ", "se7en"),
     ("Beauty & the Beast", "beauty and the beast"), ("Café Flora", "café flora"), ("A Bug's Life", "bug s life"),
     ("An American in Paris", "american in paris")],
)
def test_normalise_title(raw, normal):
    assert normalise_title(raw) == normal


def test_match_is_exact_not_substring():
    titles = ["Heat", "Heat 2", "The Godfather", "Godfather: Part II", "Twin", "Twin"]
    assert match_answer("Heat\nmore text", titles) == 0
    assert match_answer(" heat 2 ", titles) == 1
    assert match_answer("godfather", titles) == 2
    assert match_answer("The Godfather Part II", titles) == 3
    assert match_answer("He", titles) is None  # a substring of a title is not an answer
    assert match_answer("Twin", titles) is None  # two candidates share the title: ambiguous
    assert match_answer("", titles) is None
    assert match_answer(strip_letter("B. Heat 2", "ABCDEF"), titles) == 1  # the index letter is not the title
    assert strip_letter("Z. Heat", "ABC") == "Z. Heat"  # only the prompt's own letters are stripped


@pytest.mark.parametrize("kind", ["letters", "slot"])
def test_rank_mode_reads_the_logits_of_a_full_forward_pass(workspace, kind):
    model, tokenizer = build_model(workspace, seed=1)
    manifest = PromptManifest.read(workspace / "prompts")
    letters, yes = manifest.index_letters, manifest.readout_token
    assert yes == tokenizer(" Yes", add_special_tokens=False).input_ids[0]
    table = read_all(workspace / "prompts" / "test" / "hybrid")
    readout = Readout.from_manifest(kind, manifest)
    batched = choice_scores(model, table, np.arange(4), readout, True, tokenizer.pad_token_id, batch_size=3)  # [4, K]
    for i in range(4):
        row = table.slice(i, 1).to_pylist()[0]
        ids = torch.tensor([row["input_ids"][: row["answer_start"]]])
        batch = collate(table, np.array([i]), tokenizer.pad_token_id, prompt_only=True)
        with torch.no_grad():
            logits = model(ids, torch.ones_like(ids), batch["slot_pos"], batch["slot_items"], True).logits[0]  # [T, V]
        expected = logits[-1, letters] if kind == "letters" else logits[row["slot_positions"][-5:], yes]
        torch.testing.assert_close(torch.from_numpy(batched[i]), expected, atol=1e-4, rtol=1e-4)
        assert row["input_ids"][row["answer_start"]] == letters[row["candidates"].index(row["target"])]


def test_scoring_matches_a_naive_forward_pass(workspace):
    model, tokenizer = build_model(workspace, seed=1)
    titles = pq.read_table(workspace / "prepared" / "items.parquet").column("title").to_pylist()
    table = read_all(workspace / "prompts" / "test" / "hybrid")
    row = table.slice(0, 1).to_pylist()[0]
    batch = collate(table, np.array([0]), tokenizer.pad_token_id, prompt_only=True, multiple=1)
    answers = answer_token_ids(tokenizer, [render_answer(titles[c], "ABCDE"[k]) for k, c in enumerate(row["candidates"])])
    summed, mean = score_candidates(model, batch["input_ids"], batch["slot_pos"], batch["slot_items"], True,
                                    answers, tokenizer.pad_token_id)
    prompt = batch["input_ids"][0].tolist()
    for k, answer in enumerate(answers):
        ids = torch.tensor([prompt + answer])
        with torch.no_grad():
            logits = model(ids, torch.ones_like(ids), batch["slot_pos"], batch["slot_items"], True).logits
        logp = F.log_softmax(logits[0, len(prompt) - 1 : -1], -1).gather(-1, torch.tensor(answer)[:, None]).sum()
        torch.testing.assert_close(summed[k], logp, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(mean[k], logp / len(answer), atol=1e-4, rtol=1e-4)


def test_left_padded_generation_matches_one_by_one(workspace):
    model, tokenizer = build_model(workspace, seed=1)
    table = read_all(workspace / "prompts" / "test" / "hybrid")
    together = rank_and_generate(model, tokenizer, table, np.arange(3), None, True, max_new_tokens=6)[1]
    alone = [rank_and_generate(model, tokenizer, table, np.array([i]), None, True, max_new_tokens=6)[1][0]
             for i in range(3)]
    assert together == alone


def test_ranking_and_generating_share_one_prompt_pass_and_match_each_alone(workspace):
    """Generation from the read-out's KV cache writes what generation alone writes (first token among the letters
    too), and the left-padded read-out scores as the right-padded one does, on prompts of different lengths."""
    model, tokenizer = build_model(workspace, seed=1)
    table = read_all(workspace / "prompts" / "train" / "hybrid")  # histories of every length
    manifest = PromptManifest.read(workspace / "prompts")
    lengths = [len(ids) for ids in table.column("input_ids").to_pylist()]
    rows = np.array([int(np.argmin(lengths)), int(np.argmax(lengths)), 0])
    assert min(lengths) < max(lengths)  # so one prompt is padded
    readout = Readout.from_manifest("slot", manifest)
    widths = []  # tokens in each forward pass of the LM's body
    model.causal.model.register_forward_pre_hook(
        lambda _, args, kwargs: widths.append(next(kwargs[k] for k in ("inputs_embeds", "input_ids")
                                                   if kwargs.get(k) is not None).shape[1]), with_kwargs=True)
    for first in (None, manifest.index_letters):
        widths.clear()
        scores, texts = rank_and_generate(model, tokenizer, table, rows, readout, True, 6, first_tokens=first)
        assert widths[0] > 1 and set(widths[1:]) == {1}  # one pass over the prompts, then a token at a time
        assert texts == rank_and_generate(model, tokenizer, table, rows, None, True, 6, first_tokens=first)[1]
    alone = choice_scores(model, table, rows, readout, True, tokenizer.pad_token_id, batch_size=3)  # [3, K]
    np.testing.assert_allclose(scores, alone, rtol=0, atol=1e-5)
    assert all(text.strip()[:1] in list("ABCDE") for text in texts)


def test_evaluate_is_reproducible_and_checks_its_inputs(workspace, tmp_path):
    import json

    from recsys.config import EvalParams, LoraParams, TrainParams
    from recsys.errors import InputError
    from recsys.eval.evaluate import evaluate
    from recsys.llm.finetune import finetune
    from recsys.llm.model import load_llara
    from recsys.llm.precision import cpu_has_amx

    model_dir = tmp_path / "model"
    model_dir.mkdir()
    finetune(finetune_inputs(workspace), LoraParams(r=2, alpha=4), TrainParams(max_steps=1, batch_size=2, grad_accum=1),
             model_dir, tmp_path / "ckpt", progress=False)
    params = EvalParams(modes=["rank", "generate", "score"], max_new_tokens=4)
    runs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        runs.append(evaluate(model_dir, workspace / "prompts", workspace / "prepared", workspace / "sr", params,
                             tmp_path / name, progress=False))
    a, b = (pq.read_table(tmp_path / n / "predictions.parquet") for n in ("a", "b"))
    assert a.equals(b)
    assert (tmp_path / "a" / "hits.csv").read_bytes() == (tmp_path / "b" / "hits.csv").read_bytes()
    for mode in ("rank", "score"):
        assert runs[0]["n"] == 10 and 0 <= runs[0][f"{mode}.hr@1"] <= runs[0][f"{mode}.hr@3"] <= runs[0][f"{mode}.hr@5"] == 1.0
    assert 0 <= runs[0]["paired.rank_vs_sr.p"] <= 1 and "paired.generate_vs_popularity.p" in runs[0]
    assert runs[0]["generate.hr@1"] <= runs[0]["generate.valid_ratio"]
    assert json.loads((tmp_path / "a" / "metrics.json").read_text()) == runs[0]
    (tmp_path / "id").mkdir()  # the id variant is scored on "item <id>" answers
    evaluate(model_dir, workspace / "prompts", workspace / "prepared", None,
             EvalParams(modes=["score"], variant="id", max_examples=1, precision="fp32"), tmp_path / "id", progress=False)
    scored = pq.read_table(tmp_path / "id" / "predictions.parquet").column("scores_mean")[0].as_py()
    model, tokenizer, _ = load_llara(model_dir)
    table = read_all(workspace / "prompts" / "test" / "id")
    batch = collate(table, np.array([0]), tokenizer.pad_token_id, prompt_only=True, multiple=1)
    names = [render_answer(f"item {c}", "ABCDE"[k]) for k, c in enumerate(table.column("candidates")[0].as_py())]
    _, mean = score_candidates(model, batch["input_ids"], batch["slot_pos"], batch["slot_items"], False,
                               answer_token_ids(tokenizer, names), tokenizer.pad_token_id)
    np.testing.assert_allclose(scored, mean.numpy(), rtol=1e-5)
    args = json.loads((model_dir / "finetune.json").read_text())
    assert args["variant"] == "hybrid" and args["index_letters"] == PromptManifest.read(workspace / "prompts").index_letters
    assert args["compute"] == ("bf16" if cpu_has_amx() else "fp32")  # what train.precision auto resolved to here
    from safetensors.torch import load_file, save_file

    projector = model_dir / "projector.safetensors"  # a whole model of a 31-item data set: card and projector agree
    tensors = {name: t.clone() for name, t in load_file(projector).items()}
    run = {"fingerprint": args["fingerprint"], "n_items": 31, "item_dim": args["item_dim"], "user_dim": args["user_dim"]}
    save_file(tensors, projector, metadata={"llara_run": json.dumps(run)})
    (model_dir / "finetune.json").write_text(json.dumps({**args, "n_items": 31}))
    with pytest.raises(InputError, match="trained on 31 items, the data has 30"):
        evaluate(model_dir, workspace / "prompts", workspace / "prepared", None, params, tmp_path, progress=False)
    (model_dir / "finetune.json").write_text(json.dumps(args))
    (model_dir / "projector.safetensors").write_bytes(b"garbage")
    with pytest.raises(InputError, match="projector.safetensors"):
        evaluate(model_dir, workspace / "prompts", workspace / "prepared", None, params, tmp_path, progress=False)


def test_zero_shot_model_is_the_base_model_with_no_adapter_and_no_projector(workspace):
    from recsys.eval.zero_shot import zero_shot_model
    from recsys.llm.base_model import load_base

    manifest = PromptManifest.read(workspace / "prompts")
    model, _, card = zero_shot_model(workspace / "base", workspace / "sr", workspace / "prepared" / "items.parquet",
                                     manifest, torch.device("cpu"), torch.float32)
    assert not any("lora" in name for name, _ in model.named_parameters())
    assert not any(weight.requires_grad for weight in model.lm.parameters())
    assert (card.readout, card.readout_ids, card.steps, card.variant) == ("letters", manifest.index_letters, 0, "text")
    base, _ = load_base(workspace / "base")
    ids = torch.tensor([[1, 5, 9, 13, 17]])
    with torch.no_grad():
        torch.testing.assert_close(model.lm(input_ids=ids).logits, base(input_ids=ids).logits, rtol=0, atol=0)


def test_hits_csv_is_written_and_read_back_by_one_owner(tmp_path):
    from recsys.eval.outputs import hits_text, read_hits, write_hits

    hits = {"rank": np.array([1, 0, 1]), "sr": np.array([True, False, False])}
    assert hits_text(np.array([3, 0, 7]), hits) == "example_id,rank,sr\n3,1,1\n0,0,0\n7,1,0\n"
    write_hits(tmp_path / "hits.csv", np.array([3, 0, 7]), hits)
    assert read_hits(tmp_path / "hits.csv") == ([3, 0, 7], {"rank": [1, 0, 1], "sr": [1, 0, 0]})


def test_rates_show_their_wilson_interval_and_paired_tests_name_their_keys():
    from recsys.eval.outputs import hits_rate, rate
    from recsys.eval.paired import compare, paired_tests

    assert hits_rate(np.array([1] * 5 + [0] * 5)) == "0.5000 [0.237, 0.763]"  # Wilson 5 / 10: (0.236593, 0.763407)
    assert rate({"rank.hr@1": 0.25, "rank.hr@1.ci_low": 0.1, "rank.hr@1.ci_high": 0.5}, "rank.hr@1") == "0.2500 [0.100, 0.500]"
    assert rate({}, "rank.hr@1") == "-"
    # 2 discordant examples, both the first method's: p = 2 / 2**2
    assert compare([1, 1, 0, 0], [0, 0, 0, 0]) == (0.5, 0.0, 0.5)
    assert paired_tests({"rank": np.array([1, 1, 0, 0])}, {"sr": np.zeros(4)}) == {"paired.rank_vs_sr.p": 0.5,
                                                                                  "paired.rank_vs_sr.diff": 0.5}


def test_holm_multiplies_the_kth_smallest_p_by_m_minus_k_plus_one_and_never_lowers_a_later_one():
    from recsys.eval.paired import holm

    # sorted 0.01, 0.03, 0.04: x3 = 0.03, x2 = 0.06, x1 = 0.04 raised to 0.06; returned in the input order
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.6]) == [1.0, 1.0] and holm([0.2]) == [0.2] and holm([]) == []


def _report_rows(root):
    import json

    from recsys.eval.report import collect_rows

    sr, llara = root / "models" / "sr" / "toy" / "sasrec", root / "metrics" / "toy" / "zero-shot"
    sr.mkdir(parents=True)
    llara.mkdir(parents=True)
    rate = {"": 0.5, ".ci_low": 0.25, ".ci_high": 0.75}
    sr_metrics = {f"{name}{end}": v for name in ("test.hr@1", "popularity.test.hr@1") for end, v in rate.items()}
    (sr / "metrics.json").write_text(json.dumps(sr_metrics))
    zero = {f"{mode}.hr@1{end}": v for mode in ("rank", "generate") for end, v in rate.items()}
    (llara / "metrics.json").write_text(json.dumps({**zero, "generate.valid_ratio": 0.8, "paired.rank_vs_popularity.p": 0.04,
                                                    "paired.rank_vs_sr.p": 0.5}))
    return collect_rows(root, "toy", "test")


def test_the_report_names_each_model_once_under_its_bars_and_no_labels_overlap(tmp_path):
    from recsys.eval.report import Row, chart, chart_labels, markdown

    rows = _report_rows(tmp_path)
    assert [row.method for row in rows] == ["Popularity", "sasrec", "zero-shot base model, one-pass rank",
                                            "zero-shot base model, generate"]
    text = markdown(rows, "toy", "test")
    assert "| zero-shot base model, one-pass rank | 1.0000 | 0.5000 [0.250, 0.750] | 0.04 | 0.5 |" in text
    assert "| zero-shot base model, generate | 0.8000 | 0.5000 [0.250, 0.750] |  |  |" in text
    # the two zero-shot bars are labelled by their modes; the model's name stands once, centred under both
    assert chart_labels(rows) == (["Popularity", "sasrec", "one-pass rank", "generate"], [("zero-shot base model", 2.5)])
    wide = [rows[0], Row("a model with a long name, its mode", .5, .4, .6, group="a model with a long name"), *rows[2:]]
    assert chart_labels(wide)[1][0] == ("a model with a\nlong name", 1.0)  # wrapped to the width of its one bar
    for shown in (rows, wide):
        fig = chart(shown, "toy (test): HitRatio@1")
        fig.canvas.draw()
        ax = fig.axes[0]
        boxes = [t.get_window_extent() for t in [*ax.get_xticklabels(), *ax.texts] if t.get_text()]
        assert len(boxes) == len(shown) + len({row.group for row in shown if row.group})
        for i, a in enumerate(boxes):
            assert a.y0 >= 0, "a label below the figure's edge"
            for b in boxes[i + 1:]:  # apart by 6 pixels at least: touching labels read as one ("modelzero-shot")
                assert not a.padded(3).overlaps(b.padded(3)), (a, b)


def test_the_report_adds_the_whole_catalogue_table_only_for_runs_that_measured_it(tmp_path):
    import json

    from recsys.eval.report import catalogue_markdown

    _report_rows(tmp_path)
    assert catalogue_markdown(tmp_path, "toy") == ""  # the zero-shot run has no catalogue mode
    run = tmp_path / "metrics" / "toy" / "sasrec"
    run.mkdir(parents=True)
    metrics = {f"catalogue.{who}.{m}{end}": v for who, v in (("sr", 0.2), ("llara", 0.3))
               for m in ("hr@1", "hr@5", "hr@10", "ndcg@5", "ndcg@10") for end in ("", ".ci_low", ".ci_high")}
    metrics.update({"catalogue.recall@20": 0.6, "catalogue.recall@20.ci_low": 0.5, "catalogue.recall@20.ci_high": 0.7,
                    "paired.catalogue_vs_sr.p": 0.031, "paired.catalogue.hr@10_vs_sr.p": 1.0})
    (run / "metrics.json").write_text(json.dumps(metrics))
    text = catalogue_markdown(tmp_path, "toy")
    cells = " | ".join(["0.2000 [0.200, 0.200]"] * 5)
    assert f"| sasrec | {cells} | 0.6000 [0.500, 0.700] |  |  |" in text
    assert f"| sasrec top 20 -> LLaRA | {cells.replace('0.2', '0.3')} | 0.6000 [0.500, 0.700] | 0.031 | 1 |" in text
