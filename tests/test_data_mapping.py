"""Taxonomy files and source-label mapping tables."""

from __future__ import annotations

import pytest

from mlnews.data.taxonomy import LabelMapper, load_taxonomy
from mlnews.errors import ConfigError


def test_default_taxonomy(repo):
    tax = load_taxonomy(repo / "configs/taxonomy/topics.yaml")
    assert tax.names == ["society", "economy", "technology", "sports", "entertainment", "science", "other"]
    assert all(lab.description for lab in tax.labels)
    assert tax.to_json()["labels"] == tax.names and len(tax.labelset) == 7


def test_mapping_and_unmapped_are_counted_not_guessed(repo):
    tax = load_taxonomy(repo / "configs/taxonomy/topics.yaml")
    mapper = LabelMapper(tax, {"lenta": {"Спорт": "sports", "Наука и техника": None}})
    assert mapper.map("lenta", "lenta", "Спорт") == "sports"
    assert mapper.map("lenta", "lenta", "Наука и техника") is None  # deliberately unmapped
    assert mapper.map("lenta", "lenta", "Новая рубрика") is None  # absent from the table
    assert mapper.map("lenta", "lenta", "Новая рубрика") is None
    # no table: the label must already be a taxonomy name
    assert mapper.map("tg", None, "science") == "science"
    assert mapper.map("tg", None, "not_news") is None
    assert dict(mapper.unmapped["lenta"]) == {"Наука и техника": 1, "Новая рубрика": 2}
    assert dict(mapper.unmapped["tg"]) == {"not_news": 1}


def test_mapping_target_outside_taxonomy_is_a_config_error(repo):
    tax = load_taxonomy(repo / "configs/taxonomy/topics.yaml")
    with pytest.raises(ConfigError, match=r"label_maps\.ria\.culture: 'culture' is not a label .* expected one of: society"):
        LabelMapper(tax, {"ria": {"culture": "culture"}})


@pytest.mark.parametrize(("text", "message"), [
    ("name: x\nlabels:\n  - name: a\n  - name: a\n", r"labels\[1\]\.name: empty or duplicate"),
    ("name: x\nlabels:\n  - nme: a\n", r"labels\[0\]\.nme: unknown key"),
])
def test_bad_taxonomy_files(tmp_path, text, message):
    f = tmp_path / "t.yaml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_taxonomy(f)


def test_default_config_maps_every_shared_label(repo, shared_data):
    """Every label string in ../shared/data is either mapped or deliberately null in default.yaml."""
    import json

    import yaml

    cfg = yaml.safe_load((repo / "configs/data/default.yaml").read_text(encoding="utf-8"))
    tables = cfg["label_maps"]
    for src in cfg["sources"]:
        if src.get("type", "corpus") != "corpus" or not src.get("label_map"):
            continue
        table = tables[src["label_map"]]
        path = shared_data / src["path"].split("/")[-1]
        labels = {json.loads(line)["label"] for line in path.open(encoding="utf-8")} - {None}
        assert labels <= set(table), (src["name"], sorted(labels - set(table)))
