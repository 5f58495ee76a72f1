"""MoRec: the packaged MiniLM title encoder, the projected item table, training and round trips."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from safetensors.torch import load_file

from recsys.config import SRParams
from recsys.embeddings import load_item_embeddings
from recsys.errors import InputError
from recsys.sr.data import load_examples
from recsys.sr.registry import architecture, build_model
from recsys.sr.text import TEXT_DIM, encode_titles, title_features
from recsys.sr.inference import load_model
from recsys.sr.trainer import pretrain
from sr_fixtures import cyclic_prepared

PARAMS = SRParams(model="morec", hidden_size=16, batch_size=8, epochs=3, patience=2)
N_ITEMS = 12
MAX_LEN = 4  # cyclic_prepared's history length
ARCH = architecture(PARAMS, N_ITEMS, MAX_LEN)
TITLES = [
    "Toy Story", "Toy Story 2", "GoldenEye", "Four Rooms", "Get Shorty", "Copycat", "Twelve Monkeys",
    "Babe", "Dead Man Walking", "Richard III", "Seven", "The Usual Suspects", "Mighty Aphrodite",
    "Postino, Il", "Mr. Holland's Opus", "French Twist", "From Dusk Till Dawn", "White Balloon, The",
    "Antonia's Line", "Angels and Insects", "Muppet Treasure Island", "Braveheart", "Taxi Driver",
    "Rumble in the Bronx", "Birdcage, The", "Brothers McMullen, The", "Bad Boys", "Apollo 13",
    "Batman Forever", "Schindler's List",
]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return cyclic_prepared(tmp_path_factory.mktemp("prepared"), n_items=N_ITEMS)  # "Item 0" .. "Item 11"


@pytest.fixture(scope="module")
def features(prepared):
    return title_features(prepared / "items.parquet")


@pytest.fixture(scope="module")
def trained(prepared, tmp_path_factory):
    out = tmp_path_factory.mktemp("morec")
    pretrain(PARAMS, prepared, out, progress=False)
    return out


def test_encoder_gives_unit_vectors_equal_for_equal_titles_and_distinct_otherwise():
    emb = encode_titles(TITLES + TITLES[:3])  # [33, 384]
    assert emb.dtype == torch.float32 and emb.shape == (len(TITLES) + 3, TEXT_DIM)
    assert torch.allclose(emb.norm(dim=1), torch.ones(len(TITLES) + 3), atol=1e-5)
    assert torch.equal(emb[len(TITLES):], emb[:3])
    cosine = emb[: len(TITLES)] @ emb[: len(TITLES)].T  # [30, 30]
    assert cosine.fill_diagonal_(-1).max() < 0.99
    # a row depends on its title only, not on its position among the others
    assert torch.equal(encode_titles(TITLES[::-1]), emb[: len(TITLES)].flip(0))
    # real sentence weights: a sequel is nearer to its film than an unrelated one is
    assert cosine[0, 1] > cosine[0, TITLES.index("Schindler's List")] + 0.3


def test_title_features_follow_item_ids_not_row_order(tmp_path):
    pq.write_table(pa.table({"item_id": pa.array([2, 0, 1], pa.int32()), "title": ["Babe", "Seven", "Bad Boys"]}),
                   tmp_path / "items.parquet")
    assert torch.equal(title_features(tmp_path / "items.parquet"), encode_titles(["Seven", "Bad Boys", "Babe"]))
    pq.write_table(pa.table({"item_id": pa.array([0, 1], pa.int32()), "title": ["Babe", None]}),
                   tmp_path / "items.parquet")
    with pytest.raises(InputError, match="column 'title' has null rows"):
        title_features(tmp_path / "items.parquet")


def test_item_table_is_the_seeded_projection_of_the_text_one_row_per_item(features):
    def built(seed):
        torch.manual_seed(seed)
        return build_model(ARCH, features)

    model = built(0)
    table = model.item_embeddings()
    assert table.shape == (N_ITEMS, PARAMS.hidden_size)
    proj = model.item_emb.proj
    assert torch.allclose(table, features @ proj.weight.T + proj.bias, atol=1e-6)
    assert torch.equal(model.item_emb.weight[N_ITEMS], torch.zeros(PARAMS.hidden_size))  # padding row
    assert torch.equal(built(0).item_embeddings(), table)
    assert not torch.equal(built(1).item_embeddings(), table)
    assert "item_emb.features" not in dict(model.named_parameters())
    with pytest.raises(ValueError, match="morec needs the items' text features"):
        build_model(ARCH)


def test_training_moves_the_projection_but_not_the_text(trained, features):
    model = load_model(trained)
    torch.manual_seed(PARAMS.seed)  # the state pretrain started from
    start = build_model(ARCH, features)
    assert torch.equal(model.item_emb.features, features)
    assert not torch.equal(model.item_emb.proj.weight, start.item_emb.proj.weight)


def test_saved_morec_round_trips_without_the_titles(trained, prepared):
    assert json.loads((trained / "model_args.json").read_text())["model"] == "morec"
    model = load_model(trained)
    saved = load_file(trained / "model.safetensors")
    assert saved.keys() == model.state_dict().keys()
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items())
    table = load_item_embeddings(trained / "item_embeddings.safetensors", prepared / "items.parquet")
    assert torch.equal(table, model.item_embeddings().detach())
    test = load_examples(prepared / "test.parquet", N_ITEMS, MAX_LEN, with_candidates=True)
    with torch.no_grad():
        scores = model.score_candidates(model(test.seq, test.lengths), test.candidates)
    stored = pq.read_table(trained / "scores_test.parquet").column("scores").to_pylist()
    assert np.allclose(scores.numpy(), np.array(stored), atol=1e-6)
