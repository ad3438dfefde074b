"""mlnews.config: typed YAML configs, unknown keys, wrong types and key=value overrides."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

import pytest

from mlnews.config import apply_overrides, dump_yaml, from_dict, load_config, to_dict
from mlnews.errors import ConfigError


@dataclass
class Inner:
    lr: float = 1e-3
    epochs: int = 1
    names: list[str] = field(default_factory=list)


@dataclass
class Outer:
    task: Literal["classification", "summarisation"]
    train: Inner = field(default_factory=Inner)
    weights: dict[str, float] = field(default_factory=dict)
    note: Optional[str] = None
    enabled: bool = True


def test_from_dict_builds_nested_and_converts_int_to_float():
    cfg = from_dict(Outer, {"task": "classification", "train": {"lr": 1, "names": ["a"]}, "weights": {"x": 2}})
    assert cfg.train.lr == 1.0 and isinstance(cfg.train.lr, float)
    assert cfg.train.names == ["a"]
    assert cfg.weights == {"x": 2.0}
    assert to_dict(cfg)["train"] == {"lr": 1.0, "epochs": 1, "names": ["a"]}


def test_unknown_key_is_named_with_allowed_keys():
    with pytest.raises(ConfigError) as exc:
        from_dict(Outer, {"task": "classification", "train": {"lrr": 1}})
    msg = str(exc.value)
    assert "train.lrr" in msg and "epochs" in msg and "\n" not in msg


@pytest.mark.parametrize(
    "data, key",
    [
        ({"task": "classification", "train": {"epochs": "three"}}, "train.epochs"),
        ({"task": "classification", "train": {"epochs": True}}, "train.epochs"),
        ({"task": "classification", "enabled": "yes"}, "enabled"),
        ({"task": "regression"}, "task"),
        ({"task": "classification", "train": {"names": "abc"}}, "train.names"),
        ({}, "task"),
    ],
)
def test_wrong_types_and_missing_keys_name_the_key(data, key):
    with pytest.raises(ConfigError) as exc:
        from_dict(Outer, data)
    assert str(exc.value).startswith(key + ":")


def test_overrides_are_checked_against_schema_and_parsed_as_yaml():
    data = {"task": "classification"}
    apply_overrides(data, ["train.epochs=3", "train.names=[a, b]", "note=hello world", "weights.x=0.5"], Outer)
    cfg = from_dict(Outer, data)
    assert cfg.train.epochs == 3 and cfg.train.names == ["a", "b"] and cfg.note == "hello world"
    assert cfg.weights == {"x": 0.5}
    with pytest.raises(ConfigError, match="train.epoch"):
        apply_overrides({}, ["train.epoch=3"], Outer)
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides({}, ["train.epochs"], Outer)


def test_exponent_without_dot_is_a_number_for_float_fields():
    # YAML 1.1 reads 1e-4 as a string; a float field still takes it, other fields do not.
    data = {"task": "classification"}
    apply_overrides(data, ["train.lr=1e-4", "weights.x=5E+1"], Outer)
    cfg = from_dict(Outer, data)
    assert cfg.train.lr == pytest.approx(1e-4) and cfg.weights == {"x": 50.0}
    with pytest.raises(ConfigError, match=r"train\.lr: expected a number, got 'nan'"):
        from_dict(Outer, {"task": "classification", "train": {"lr": "nan"}})
    with pytest.raises(ConfigError, match=r"train\.epochs: expected an integer"):
        from_dict(Outer, {"task": "classification", "train": {"epochs": "1e3"}})


@dataclass
class Source:
    name: str
    cap: Optional[int] = None


@dataclass
class WithList:
    sources: list[Source] = field(default_factory=list)


def test_list_items_by_index_or_name():
    data = {"sources": [{"name": "lenta"}, {"name": "ria", "cap": 5}]}
    apply_overrides(data, ["sources.lenta.cap=100", "sources.1.cap=7", "sources.-1.name=ria2"], WithList)
    cfg = from_dict(WithList, data)
    assert [(s.name, s.cap) for s in cfg.sources] == [("lenta", 100), ("ria2", 7)]
    with pytest.raises(ConfigError, match=r"sources\.tass\.cap: sources has no item named 'tass' \(an index or one of: lenta, ria2\)"):
        apply_overrides(data, ["sources.tass.cap=1"], WithList)
    with pytest.raises(ConfigError, match=r"sources\.5\.cap: sources has 2 items; no item 5"):
        apply_overrides(data, ["sources.5.cap=1"], WithList)
    with pytest.raises(ConfigError, match=r"sources\.lenta\.caps: unknown key 'caps'"):
        apply_overrides(data, ["sources.lenta.caps=1"], WithList)
    with pytest.raises(ConfigError, match=r"the config has no sources list"):
        apply_overrides({}, ["sources.0.cap=1"], WithList)


def test_load_config_names_file(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("task: classification\ntrain:\n  epochs: 2\n", encoding="utf-8")
    cfg = load_config(p, Outer, ["train.lr=0.1"])
    assert cfg.train.epochs == 2 and cfg.train.lr == 0.1
    assert "epochs: 2" in dump_yaml(cfg)
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(bad, Outer)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml", Outer)
    lst = tmp_path / "list.yaml"
    lst.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(lst, Outer)
