from __future__ import annotations

import math

import pytest
import torch

from recsys.config import TEXT_BACKBONES, SRParams
from recsys.sr.base import Architecture
from recsys.sr.loss import next_item_loss, sample_negatives
from recsys.sr.registry import MODELS, architecture, build_model
from recsys.sr.sasrec import SASRec
from recsys.sr.text import TEXT_DIM

N_ITEMS, D, MAX_LEN = 9, 8, 5
PAD = N_ITEMS


def make(name: str, **overrides) -> torch.nn.Module:
    torch.manual_seed(0)
    arch = architecture(SRParams(model=name, hidden_size=D, num_heads=2, **overrides), N_ITEMS, MAX_LEN)
    # stand-in text features (the real encoder is tested in test_morec.py), from their own generator
    text = torch.randn(N_ITEMS, TEXT_DIM, generator=torch.Generator().manual_seed(1))
    model = build_model(arch, text if name in TEXT_BACKBONES else None).eval()
    with torch.no_grad():  # a non-zero empty-history vector, so the tests can tell it apart
        model.empty_rep.copy_(torch.arange(D, dtype=torch.float32))
    return model


def test_registry_names_every_backbone_in_the_params_choices():
    choices = [f.metadata["choices"] for f in SRParams.__dataclass_fields__.values()
               if f.name == "model"][0]
    assert sorted(MODELS) == sorted(choices)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_shapes_and_scoring(name):
    model = make(name)
    seq = torch.tensor([[PAD, PAD, 1, 2, 3], [4, 5, 6, 7, 8], [PAD] * 5])  # [3, 5]
    rep = model(seq, torch.tensor([3, 5, 0]))
    assert rep.shape == (3, D)
    assert model.item_embeddings().shape == (N_ITEMS, D)
    everything = model.score_all(rep)
    assert everything.shape == (3, N_ITEMS)
    candidates = torch.tensor([[0, 3, 8], [1, 1, 2], [7, 6, 5]])
    picked = model.score_candidates(rep, candidates)
    assert picked.shape == (3, 3)
    assert torch.allclose(picked, everything.gather(1, candidates), atol=1e-6)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_padding_content_and_extra_left_padding_never_change_the_representation(name):
    model = make(name)
    lengths = torch.tensor([2, 4, 0])
    seq = torch.tensor([[PAD, PAD, PAD, 3, 1], [PAD, 2, 4, 6, 8], [PAD] * 5])
    garbage = torch.tensor([[7, 0, 5, 3, 1], [1, 2, 4, 6, 8], [4, 4, 2, 0, 1]])  # ids under padding
    wider = torch.cat([torch.full((3, 3), 5), seq], dim=1)  # [3, 8]: 3 more padded columns
    narrower = seq[:, 1:]  # [3, 4]: no row needs the first column
    base = model(seq, lengths)
    for variant in (garbage, wider, narrower):
        assert torch.equal(model(variant, lengths), base)
    assert torch.equal(base[2], model.empty_rep.detach())
    # and the real items do matter
    changed = seq.clone()
    changed[1, 1] = 3
    assert not torch.allclose(model(changed, lengths)[1], base[1])


@pytest.mark.parametrize("name", sorted(MODELS))
def test_only_the_most_recent_max_len_items_are_read(name):
    model = make(name)
    long = torch.tensor([[8, 7, 1, 2, 3, 4, 5]])  # 7 real items, max_len is 5
    recent = torch.tensor([[1, 2, 3, 4, 5]])
    assert torch.equal(model(long, torch.tensor([7])), model(recent, torch.tensor([5])))


def test_sasrec_future_items_never_reach_earlier_positions():
    model = make("sasrec", num_blocks=2)
    mask = torch.ones(1, MAX_LEN, dtype=torch.bool)
    seq = torch.tensor([[1, 2, 3, 4, 5]])
    future_changed = torch.tensor([[1, 2, 3, 8, 0]])  # differs from position 3 on
    out = model.contextualize(model.item_emb(seq), mask)  # [1, L, d]
    other = model.contextualize(model.item_emb(future_changed), mask)
    assert torch.equal(out[:, :3], other[:, :3])
    assert not torch.allclose(out[:, 3:], other[:, 3:])


def test_gru4rec_is_the_last_hidden_state_over_the_real_items_only():
    model = make("gru4rec")
    rep = model(torch.tensor([[PAD, PAD, 6, 2, 4]]), torch.tensor([3]))
    _, hidden = model.gru(model.item_emb(torch.tensor([[6, 2, 4]])))  # [1, 1, d]
    assert torch.allclose(rep, hidden[0], atol=1e-6)


def fixed_table(model, rows: list[list[float]]) -> None:
    with torch.no_grad():
        model.item_emb.weight.copy_(torch.tensor(rows))


def tiny_sasrec(n_items: int) -> Architecture:
    return Architecture(model="sasrec", n_items=n_items, max_len=2, hidden_size=2, dropout=0.0, num_blocks=1, num_heads=1)


def test_cross_entropy_loss_by_hand():
    model = SASRec(tiny_sasrec(n_items=3))
    fixed_table(model, [[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, 0.0]])  # scores 1, 0, -1
    rep = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    loss = next_item_loss(model, rep, torch.tensor([0, 2]), "ce", 1, torch.Generator())
    log_z = math.log(math.e + 1 + math.exp(-1))
    assert loss.item() == pytest.approx(((log_z - 1) + (log_z + 1)) / 2, rel=1e-6)


def test_bce_loss_by_hand():
    # with two items the only negative for target 0 is item 1, so the sample is known
    model = SASRec(tiny_sasrec(n_items=2))
    fixed_table(model, [[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    rep = torch.tensor([[1.0, 0.5]])  # score(target 0) = 1, score(item 1) = 1
    loss = next_item_loss(model, rep, torch.tensor([0]), "bce", 3, torch.Generator())
    softplus = lambda x: math.log1p(math.exp(x))  # noqa: E731
    assert loss.item() == pytest.approx(softplus(-1.0) + 3 * softplus(1.0), rel=1e-6)


def test_negatives_are_uniform_over_non_targets():
    targets = torch.tensor([0, 3, 4] * 2000)
    negatives = sample_negatives(targets, 5, 4, torch.Generator().manual_seed(1))  # [6000, 4]
    assert not (negatives == targets[:, None]).any()
    assert negatives.min() == 0 and negatives.max() == 4
    counts = torch.bincount(negatives[targets == 3].ravel(), minlength=5)
    assert counts[3] == 0
    assert (counts[[0, 1, 2, 4]] - 2000).abs().max() < 150  # 8000 draws over 4 items
