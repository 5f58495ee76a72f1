"""The prepare stage: each source, the split protocol, the candidate rule, determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from recsys.config import DataParams
from recsys.data.stats import PreparedStats
from recsys.data.titles import movielens_title
from helpers import LLARA_DATA, run_cli, toy_dataset, write_params

SPLITS = ("train", "val", "test")


def prepare(tmp_path: Path, data: dict | None = None, datasets: dict | None = None, out: str = "out"):
    params = write_params(tmp_path, data, datasets)
    result = run_cli("prepare", "--params", str(params), "--out", str(tmp_path / out))
    assert result.exit_code == 0, result.output
    return tmp_path / out


def read(out: Path, split: str) -> list[dict]:
    return pq.read_table(out / f"{split}.parquet").to_pylist()


def user_items(interactions_csv: Path, items_of=lambda rows: rows) -> dict[str, set[int]]:
    seen: dict[str, set[int]] = {}
    for line in interactions_csv.read_text().splitlines()[1:]:
        user, item = line.split(",")[:2]
        seen.setdefault(user, set()).add(int(item) - 1)  # toy source ids 1..30 -> dense 0..29
    return seen


def test_leave_one_out_windows_exact(toy_log):
    out = prepare(toy_log, {"split": "loo", "max_len": 2, "n_candidates": 5}, toy_dataset(toy_log))
    train = [r for r in read(out, "train") if r["user_id"] == 0]
    # u0 holds items 1..6 (dense 0..5); items 3 and 4 share a timestamp and keep file order.
    assert [(r["history"], r["target"]) for r in train] == [([], 0), ([0], 1), ([0, 1], 2), ([1, 2], 3)]
    val = read(out, "val")[0]
    test = read(out, "test")[0]
    assert (val["user_id"], val["history"], val["target"]) == (0, [2, 3], 4)
    assert (test["user_id"], test["history"], test["target"]) == (0, [3, 4], 5)
    assert len(read(out, "val")) == len(read(out, "test")) == 10


def test_dataset_names_its_own_split(toy_log):
    """`datasets.<name>.split` overrides data.split, so `movielens-loo` can sit beside `movielens` in one params file."""
    loo_toy = {"toy": {**toy_dataset(toy_log)["toy"], "split": "loo"}}
    named = prepare(toy_log, {"split": "user", "n_candidates": 5}, loo_toy)
    plain = prepare(toy_log, {"split": "loo", "n_candidates": 5}, toy_dataset(toy_log), out="plain")
    for split in SPLITS:
        assert read(named, split) == read(plain, split)
    assert PreparedStats.read(named).split == "loo"


def test_user_split_protocol(toy_log):
    out = prepare(toy_log, {"n_candidates": 5, "min_history": 1}, toy_dataset(toy_log))
    rows = {s: read(out, s) for s in SPLITS}
    users = {s: {r["user_id"] for r in rows[s]} for s in SPLITS}
    assert (len(users["train"]), len(users["val"]), len(users["test"])) == (8, 1, 1)
    assert not (users["train"] & users["val"]) and not (users["train"] & users["test"])
    assert not (users["val"] & users["test"])
    assert len(rows["train"]) == 8 * 5  # 6 items per user, min_history=1 drops the empty window
    for split in ("val", "test"):
        (row,) = rows[split]
        assert len(row["history"]) == 5 and row["target"] not in row["history"]
    eval_targets = {(r["user_id"], r["target"]) for s in ("val", "test") for r in rows[s]}
    assert not eval_targets & {(r["user_id"], r["target"]) for r in rows["train"]}
    stats = PreparedStats.read(out)
    assert stats.examples == {"train": 40, "val": 1, "test": 1}
    assert stats.users == 10 and stats.items == 30 and stats.interactions == 60


def test_candidates_rule(toy_log):
    out = prepare(toy_log, {"split": "loo", "n_candidates": 5}, toy_dataset(toy_log))
    seen = user_items(toy_log / "inter.csv")
    for split in ("val", "test"):
        for row in read(out, split):
            cands = row["candidates"]
            assert len(cands) == 5 and len(set(cands)) == 5
            assert cands.count(row["target"]) == 1
            assert not (set(cands) - {row["target"]}) & seen[f"u{row['user_id']}"]


def test_candidates_depend_only_on_seed(toy_log):
    a = prepare(toy_log, {"n_candidates": 5}, toy_dataset(toy_log), out="a")
    b = prepare(toy_log, {"n_candidates": 5}, toy_dataset(toy_log), out="b")
    c = prepare(toy_log, {"n_candidates": 5, "seed": 7}, toy_dataset(toy_log), out="c")
    for name in ("items", *SPLITS):
        assert (a / f"{name}.parquet").read_bytes() == (b / f"{name}.parquet").read_bytes()
    assert read(a, "val") != read(c, "val") or read(a, "test") != read(c, "test")


def test_min_rating_filters_interactions(toy_log):
    out = prepare(toy_log, {"split": "loo"}, toy_dataset(toy_log, rating_col="rating", min_rating=3))
    stats = PreparedStats.read(out)
    kept = sum(1 for u in range(10) for j in range(6) if 1 + (u + j) % 5 >= 3)
    assert stats.interactions == kept


def test_parquet_interactions_and_string_ids(tmp_path):
    import pyarrow as pa

    n = 40
    pq.write_table(
        pa.table({"uid": [f"x{i % 4}" for i in range(n)], "iid": [f"m{i % 25:02d}" for i in range(n)],
                  "t": list(range(n))}),
        tmp_path / "inter.parquet",
    )
    pq.write_table(pa.table({"iid": [f"m{i:02d}" for i in range(25)], "name": [f"  Film  {i} " for i in range(25)]}),
                   tmp_path / "items.parquet")
    datasets = {"toy": {"source": "interactions", "path": str(tmp_path), "format": {
        "interactions": "inter.parquet", "items": "items.parquet", "user_col": "uid", "item_col": "iid",
        "time_col": "t", "items_item_col": "iid", "title_col": "name"}}}
    out = prepare(tmp_path, {"split": "loo", "n_candidates": 5}, datasets)
    items = read(out, "items")
    assert items[3] == {"item_id": 3, "title": "Film 3", "raw_title": "  Film  3 ", "source_id": "m03"}
    assert read(out, "test")[0]["target"] == 36 % 25  # user x0's last item m11 (row 36)


@pytest.mark.parametrize(
    "raw, title",
    [
        ("Toy Story (1995)", "Toy Story"),
        ("Shawshank Redemption, The (1994)", "The Shawshank Redemption"),
        ("Little Princess, A (1995)", "A Little Princess"),
        ("American President, An (1995)", "An American President"),
        ("Seventh Seal, The (Sjunde inseglet, Det) (1957)", "The Seventh Seal (Sjunde inseglet, Det)"),
        ("Theodore Rex (1995)", "Theodore Rex"),
        ("  Mr.  Holland's Opus (1995) ", "Mr. Holland's Opus"),
        ("unknown", "unknown"),
    ],
)
def test_movielens_title(raw, title):
    assert movielens_title(raw) == title


def test_movielens_packaged_default_is_deterministic(tmp_path):
    data = {"dataset": "movielens"}
    datasets = {"movielens": {"source": "movielens-100k"}}
    a = prepare(tmp_path, data, datasets, out="a")
    b = prepare(tmp_path, data, datasets, out="b")
    stats = PreparedStats.read(a)
    assert (stats.users, stats.items, stats.interactions) == (943, 1682, 100000)
    assert stats.examples["val"] + stats.examples["test"] == 943 - round(0.8 * 943)
    for name in ("items", *SPLITS):
        assert (a / f"{name}.parquet").read_bytes() == (b / f"{name}.parquet").read_bytes()
    titles = {r["source_id"]: r["title"] for r in read(a, "items")}
    assert titles["1"] == "Toy Story" and titles["64"] == "The Shawshank Redemption"


def test_movielens_directory_layout(tmp_path):
    raw = tmp_path / "ml"
    raw.mkdir()
    (raw / "u.data").write_text("".join(f"{u}\t{i}\t4\t{100 + i}\n" for u in (1, 2) for i in range(1, 21)))
    genres = "|0" * 19
    titles = {1: "Café Flora (1995)", 2: "Shawshank Redemption, The (1994)"}
    lines = [f"{i}|{titles.get(i, f'Movie {i} (1990)')}|01-Jan-1995||http://x{genres}" for i in range(1, 24)]
    (raw / "u.item").write_bytes("\n".join(lines).encode("latin-1") + b"\n")
    out = prepare(tmp_path, {"dataset": "ml", "split": "loo", "n_candidates": 4},
                  {"ml": {"source": "movielens-100k", "path": str(raw)}})
    items = read(out, "items")
    assert (items[0]["title"], items[0]["raw_title"]) == ("Café Flora", "Café Flora (1995)")
    assert items[1]["title"] == "The Shawshank Redemption"
    assert [r["target"] for r in read(out, "test")] == [19, 19]
    assert all(set(r["candidates"]) - {19} <= {20, 21, 22} for r in read(out, "test"))


def test_llara_lastfm_split_files(tmp_path):
    data = {"dataset": "lastfm"}
    datasets = {"lastfm": {"source": "llara", "path": str(LLARA_DATA / "lastfm"), "domain": "music artist"}}
    out = prepare(tmp_path, data, datasets)
    stats = PreparedStats.read(out)
    assert stats.items == 4606
    assert stats.examples == {"train": 50800, "val": 122, "test": 122}
    assert stats.users == 1220  # 976 training users recovered from the window chains + 122 + 122
    names = (LLARA_DATA / "lastfm" / "id2name.txt").read_text(encoding="utf-8").splitlines()
    items = read(out, "items")
    assert [r["raw_title"] for r in items] == [line.split("::", 1)[1] for line in names]
    train = read(out, "train")
    assert train[0]["history"] == [] and train[2] == {"user_id": 0, "history": [0, 1], "target": 2}
    for row in read(out, "test"):
        assert max(len(row["history"]), 1) <= 10
        assert not set(row["candidates"]) - {row["target"]} & set(row["history"])


def test_llara_steam_trains_from_val_users(tmp_path):
    data = {"dataset": "steam", "min_history": 1}
    datasets = {"steam": {"source": "llara", "path": str(LLARA_DATA / "steam"), "domain": "game",
                          "train_from": "val"}}
    out = prepare(tmp_path, data, datasets)
    stats = PreparedStats.read(out)
    assert stats.items == 3581 and stats.examples["test"] == 1194
    assert stats.examples["val"] == round(0.1 * 1194)
    assert any("train_from=val" in note for note in stats.notes)
    train_users = {r["user_id"] for r in read(out, "train")}
    assert not train_users & {r["user_id"] for r in read(out, "val")}
    assert all(len(r["history"]) >= 1 for r in read(out, "train"))


def test_help_documents_every_key():
    import dataclasses

    text = " ".join(run_cli("prepare", "--help").output.split())
    for f in dataclasses.fields(DataParams):
        assert f"data.{f.name}" in text
    assert "Each subcommand is one DVC stage" in run_cli("--help").output
    assert "prepare" in run_cli("--help").output


def test_many_negatives_exact_fallback():
    """A row whose eligible pool is tiny is finished exactly, still distinct and unseen."""
    from recsys.data.candidates import build_candidates

    n_items = 50
    seen_items = np.arange(0, 45)  # row 0 has seen 45 of 50 items; 5 eligible, needs 4
    cands = build_candidates(np.array([0]), np.zeros(45, np.int64), seen_items, n_items, 5, np.random.default_rng(0))
    assert len(set(cands[0])) == 5 and set(cands[0]) <= {0, 45, 46, 47, 48, 49}


def test_relative_dataset_path_is_taken_from_recsys_data_root(toy_log, monkeypatch):
    """What `dvc exp run --temp` needs: the stage runs in a copy elsewhere, the data stays put."""
    datasets = toy_dataset(toy_log)
    datasets["toy"]["path"] = toy_log.name  # relative to toy_log.parent
    params = write_params(toy_log, None, datasets)
    (toy_log / "elsewhere").mkdir()
    monkeypatch.chdir(toy_log / "elsewhere")
    missing = run_cli("prepare", "--params", str(params), "--out", str(toy_log / "a"))
    assert missing.exit_code == 2 and f"{toy_log.name}/inter.csv" in missing.output
    monkeypatch.setenv("RECSYS_DATA_ROOT", str(toy_log.parent))
    found = run_cli("prepare", "--params", str(params), "--out", str(toy_log / "b"))
    assert found.exit_code == 0, found.output
    assert len(read(toy_log / "b", "items")) == 30


def test_long_titles_are_cut_and_stay_distinct(toy_log):
    long_one, long_two = "The Long Title Number One And More", "The Long Title Number Two"
    titles = {1: long_one, 2: long_two, 3: "The Long Title Numbe", 4: long_one, 6: "x" * 5000}
    (toy_log / "items.csv").write_text(
        "item,title\n" + "".join(f"{i},{titles.get(i, f'Item {i}')}\n" for i in range(1, 31)))
    out = prepare(toy_log, {"split": "loo", "n_candidates": 5, "max_title_chars": 20}, toy_dataset(toy_log))
    items = read(out, "items")
    # Item 3's title is exactly 20 characters and is kept, so the plain cut of items 1 and 4 would equal
    # it: they get ' (2)', item 2 (cut to the same 20 characters) ' (3)'.
    assert [r["title"] for r in items[:6]] == [
        "The Long Title N (2)", "The Long Title N (3)", "The Long Title Numbe", "The Long Title N (2)",
        "Item 5", "x" * 20]
    assert items[5]["raw_title"] == "x" * 5000
    assert PreparedStats.read(out).truncated_titles == 4


def test_default_title_bound_is_200_characters(toy_log):
    text = (toy_log / "items.csv").read_text().replace("7,Item 7", "7," + "y" * 5000)
    (toy_log / "items.csv").write_text(text)
    out = prepare(toy_log, {"split": "loo", "n_candidates": 5}, toy_dataset(toy_log))
    assert read(out, "items")[6]["title"] == "y" * 200
    assert PreparedStats.read(out).truncated_titles == 1


def movielens_llara_files(root: Path) -> Path:
    """The authors' MovieLens layout: a 1-based u.item, frames of (item, rating) pairs padded with
    (n_items, 0), `next` a pair too, the numbers numpy scalars."""
    import pandas as pd

    root.mkdir()
    titles = {1: "Toy Story (1995)", 2: "Shawshank Redemption, The (1994)"}
    lines = [f"{i}|{titles.get(i, f'Movie {i} (1990)')}|01-Jan-1995||http://x" + "|0" * 19 for i in range(1, 7)]
    (root / "u.item").write_bytes("\n".join(lines).encode("latin-1") + b"\n")

    def pair(item, rating):
        return np.int64(item), np.int64(rating)

    def frame(rows):
        pad = pair(6, 0)
        return pd.DataFrame({
            "seq": [[pair(*p) for p in seq] + [pad] * (10 - len(seq)) for seq, _ in rows],
            "len_seq": [len(seq) for seq, _ in rows],
            "next": [pair(*target) for _, target in rows],
        })

    frame([([(0, 5)], (1, 4)), ([(0, 5), (1, 4)], (2, 3)), ([(0, 5), (1, 4), (2, 3)], (3, 5)),  # user 0
           ([(4, 2)], (5, 1)), ([(4, 2), (5, 1)], (0, 4))]).to_pickle(root / "train_data.df")  # user 1
    frame([([(0, 5), (1, 4), (2, 3)], (5, 2))]).to_pickle(root / "Val_data.df")
    frame([([(3, 4), (4, 1)], (2, 5))]).to_pickle(root / "Test_data.df")
    return root


def test_llara_movielens_layout(tmp_path):
    root = movielens_llara_files(tmp_path / "ml")
    out = prepare(tmp_path, {"dataset": "ml", "n_candidates": 3},
                  {"ml": {"source": "llara", "path": str(root), "domain": "movie"}})
    items = read(out, "items")
    assert [(r["item_id"], r["source_id"]) for r in items] == [(i, str(i + 1)) for i in range(6)]
    assert items[0]["title"] == "Toy Story" and items[1]["title"] == "The Shawshank Redemption"
    assert [(r["user_id"], r["history"], r["target"]) for r in read(out, "train")] == [
        (0, [0], 1), (0, [0, 1], 2), (0, [0, 1, 2], 3), (1, [4], 5), (1, [4, 5], 0)]
    (val,), (test,) = read(out, "val"), read(out, "test")
    assert (val["user_id"], val["history"], val["target"]) == (2, [0, 1, 2], 5)
    assert (test["user_id"], test["history"], test["target"]) == (3, [3, 4], 2)
    assert sorted(val["candidates"]) == [3, 4, 5]  # the only two items the val user never saw, and the target
    assert len(set(test["candidates"])) == 3 and 2 in test["candidates"] and set(test["candidates"]) <= {0, 1, 2, 5}
    stats = PreparedStats.read(out)
    assert (stats.users, stats.items) == (4, 6)


def test_single_interaction_users_are_noted(tmp_path):
    (tmp_path / "inter.csv").write_text("user,item,timestamp\n" + "".join(f"u{u},{u + 1},5\n" for u in range(20)))
    (tmp_path / "items.csv").write_text("item,title\n" + "".join(f"{i},Item {i}\n" for i in range(1, 31)))
    params = write_params(tmp_path, {"n_candidates": 5}, toy_dataset(tmp_path))
    result = run_cli("prepare", "--params", str(params), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    note = "every history is empty (no user has two interactions): a model can learn only which items are popular"
    assert result.stderr == f"note: {note}\n"
    stats = PreparedStats.read(tmp_path / "out")
    assert stats.notes == [note] and stats.examples == {"train": 16, "val": 2, "test": 2}
