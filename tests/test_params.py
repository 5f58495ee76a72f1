"""params.yaml at load: every numeric key has a range, list elements are checked one by one, and a YAML
error is one line naming the file, the line and the column."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from helpers import run_cli, write_params
from recsys.config import SECTIONS, DatasetSpec, Range, load_params, section
from recsys.errors import InputError

ANY_NUMBER = {"InteractionsFormat.min_rating"}  # a rating threshold: any finite number of the file's scale


def numeric_fields(cls: type) -> typing.Iterator[tuple[str, dataclasses.Field]]:
    """(Class.field, field) for every int or float field of `cls` and the dataclasses it nests, lists included."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        args = [a for a in typing.get_args(tp) if a is not type(None)] or [tp]
        inner = typing.get_args(args[0])[0] if typing.get_origin(args[0]) is list else args[0]
        if dataclasses.is_dataclass(inner):
            yield from numeric_fields(inner)
        elif inner in (int, float):
            yield f"{cls.__name__}.{f.name}", f


def test_every_numeric_key_has_a_range():
    fields = [pair for cls in (*SECTIONS.values(), DatasetSpec) for pair in numeric_fields(cls)]
    assert len(fields) > 40
    unbounded = [name for name, f in fields if f.metadata.get("bounds") is None and name not in ANY_NUMBER]
    assert not unbounded, f"give these a Range in recsys/config.py: {unbounded}"
    for name, f in fields:  # every default lies in its own range
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        for value in default if isinstance(default, list) else [default]:
            assert value is None or f.metadata.get("bounds") is None or value in f.metadata["bounds"], name


@pytest.mark.parametrize("bounds, text, inside, outside", [
    (Range(1), ">= 1", [1, 10**9], [0, -1]),
    (Range(0, open_low=True), "> 0", [1e-12, 3.0], [0.0, -1.0]),
    (Range(0, 1), "in [0, 1]", [0, 1, 0.5], [-1e-9, 1.01]),
    (Range(0, 1, open_high=True), "in [0, 1)", [0.0, 0.99], [1.0]),
    (Range(0, 1, open_low=True, open_high=True), "in (0, 1)", [0.5], [0.0, 1.0]),
    (Range(high=5), "<= 5", [5, -3], [6]),
])
def test_range_reads_as_it_checks(bounds, text, inside, outside):
    assert str(bounds) == text
    assert all(v in bounds for v in inside) and not any(v in bounds for v in outside)


@pytest.mark.parametrize("name, values, expected", [
    ("train", {"batch_size": 0}, "params.yaml: train.batch_size: expected an integer >= 1, got 0"),
    ("train", {"lr": -1}, "params.yaml: train.lr: expected a number > 0, got -1.0"),
    ("train", {"grad_accum": 0}, "params.yaml: train.grad_accum: expected an integer >= 1, got 0"),
    ("train", {"distill_temperature": 0}, "params.yaml: train.distill_temperature: expected a number > 0, got 0.0"),
    ("train", {"warmup_ratio": 1.5}, "params.yaml: train.warmup_ratio: expected a number in [0, 1], got 1.5"),
    ("train", {"max_steps": 0}, "params.yaml: train.max_steps: expected an integer >= 1, got 0"),
    ("train", {"lr": float("nan")}, "params.yaml: train.lr: expected a finite number, got nan"),
    ("train", {"lr": "1e-4"}, "params.yaml: train.lr: expected float, got '1e-4' (YAML reads 1e-4 as text: write "
                              "1.0e-4)"),
    ("train", {"lr": "2.5e3"}, "params.yaml: train.lr: expected float, got '2.5e3' (YAML reads 2.5e3 as text: write "
                               "2.5e+3)"),
    ("lora", {"r": 0}, "params.yaml: lora.r: expected an integer >= 1, got 0"),
    ("lora", {"dropout": 1}, "params.yaml: lora.dropout: expected a number in [0, 1), got 1.0"),
    ("lora", {"target_modules": ["q_proj", 3]}, "params.yaml: lora.target_modules[1]: expected str, got 3"),
    ("eval", {"modes": ["rank", "foo"]}, "params.yaml: eval.modes[1]: expected one of rank, generate, score, catalogue, got 'foo'"),
    ("eval", {"modes": "rank"}, "params.yaml: eval.modes: expected a list, got 'rank'"),
    ("sr", {"dropout": -0.1}, "params.yaml: sr.dropout: expected a number in [0, 1), got -0.1"),
])
def test_a_value_outside_its_range_names_key_value_and_range(name, values, expected):
    with pytest.raises(InputError) as err:
        section({name: values}, name, SECTIONS[name])
    assert str(err.value) == expected


@pytest.mark.parametrize("text, expected", [
    ("data:\n  seed: [1\n", ": line 3, column 1: not valid YAML: expected ',' or ']', but got '<stream end>'"),
    ("data:\n\tseed: 1\n", ": line 2, column 1: not valid YAML: found character '\\t' that cannot start any token "
                           "(indent with spaces: YAML forbids tabs)"),
    ("data: seed: 1\n", ": line 1, column 11: not valid YAML: mapping values are not allowed here"),
])
def test_a_yaml_error_is_one_line_with_file_line_and_column(tmp_path, text, expected):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_params(path)
    assert str(err.value) == f"{path}{expected}"
    result = run_cli("finetune", "--params", str(path))
    assert result.exit_code == 2 and result.stderr == f"error: {path}{expected}\n"


def test_the_written_form_the_hint_suggests_is_a_yaml_float():
    import yaml

    assert yaml.safe_load("[1.0e-4, 2.5e+3]") == [1e-4, 2500.0] and yaml.safe_load("2.5e3") == "2.5e3"


def test_a_set_value_that_is_not_yaml(tmp_path):
    params = write_params(tmp_path)
    result = run_cli("finetune", "--params", str(params), "--set", "train.lr=[1")
    assert result.exit_code == 2
    assert result.stderr == "error: --set train.lr=[1: the value is not YAML (expected ',' or ']', but got '<stream end>')\n"
