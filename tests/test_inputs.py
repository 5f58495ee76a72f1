"""The inputs stage: a link to each file from outside the repository that prepare and fetch-model read, so that
`dvc status` reports a changed package or data file."""

from __future__ import annotations

import shutil

import pytest
import yaml

from helpers import REPO, run_tool
from recsys.config import DatasetSpec, InteractionsFormat, LLMParams
from recsys.errors import InputError
from recsys.inputs import dataset_files, link_files, llm_files, sr_files
from recsys.packaged import packaged_gguf, packaged_movielens, packaged_text_encoder


def test_each_source_names_the_files_prepare_reads(tmp_path):
    assert dataset_files(DatasetSpec(), "movielens") == packaged_movielens()
    assert all(f.is_file() for f in packaged_movielens())
    assert dataset_files(DatasetSpec(path=str(tmp_path)), "ml") == [tmp_path / "u.data", tmp_path / "u.item"]
    for name in ("train_data.df", "id2name.txt", ".hidden"):
        (tmp_path / name).write_text("x")
    (tmp_path / "sub").mkdir()
    assert dataset_files(DatasetSpec(source="llara", path=str(tmp_path)), "lastfm") == [tmp_path / "id2name.txt",
                                                                                     tmp_path / "train_data.df"]
    own = DatasetSpec(source="interactions", path=str(tmp_path), format=InteractionsFormat(interactions="i.csv",
                                                                                           items="t.csv"))
    assert dataset_files(own, "mine") == [tmp_path / "i.csv", tmp_path / "t.csv"]
    assert llm_files(LLMParams()) == [packaged_gguf(LLMParams())]
    with pytest.raises(InputError, match=f"llm.path: directory {tmp_path / 'gone'} not found"):
        llm_files(LLMParams(path=str(tmp_path / "gone")))


def test_morec_links_the_text_encoder_it_reads_and_id_models_nothing():
    files = sr_files("morec")
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {f.name for f in files}
    assert all(f.parent == packaged_text_encoder() and f.is_file() for f in files)
    assert [sr_files(model) for model in ("sasrec", "gru4rec", "caser")] == [[], [], []]


def test_links_point_at_each_file_and_a_missing_one_writes_nothing(tmp_path):
    files = [tmp_path / "a.csv", tmp_path / "b.csv"]
    for file in files:
        file.write_text(file.name)
    link_files(files, tmp_path / "links", "datasets.toy")
    assert sorted(p.name for p in (tmp_path / "links").iterdir()) == ["a.csv", "b.csv"]
    assert (tmp_path / "links" / "a.csv").resolve() == files[0].resolve()
    with pytest.raises(InputError, match=f"datasets.toy: file {tmp_path / 'c.csv'} not found"):
        link_files([*files, tmp_path / "c.csv"], tmp_path / "other", "datasets.toy")
    assert not (tmp_path / "other").exists()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.csv").write_text("again")
    with pytest.raises(InputError, match="two inputs share a file name"):
        link_files([*files, tmp_path / "sub" / "a.csv"], tmp_path / "other", "datasets.toy")


def dvc(args: list[str], cwd) -> str:
    return run_tool(["dvc", *args], cwd).stdout


def test_dvc_status_reports_a_changed_ml100k_file_outside_the_repository(tmp_path):
    repo, raw = tmp_path / "repo", tmp_path / "ml-100k"
    for name in ("recsys", "stages"):
        shutil.copytree(REPO / name, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "dvc.yaml", repo / "dvc.yaml")
    raw.mkdir()
    (raw / "u.data").write_text("1\t1\t5\t881250949\n")
    (raw / "u.item").write_text("1|Toy Story (1995)|01-Jan-1995||http://x" + "|0" * 19 + "\n")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["datasets"]["movielens"]["path"] = str(raw)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run_tool(["git", "init", "-q"], repo)
    dvc(["init", "-q"], repo)
    dvc(["repro", "inputs"], repo)
    assert "up to date" in dvc(["status", "inputs"], repo)
    (raw / "u.data").write_text("1\t1\t4\t881250949\n")  # one rating changed, outside the repository
    assert "modified:           inputs/movielens" in dvc(["status", "inputs"], repo)
