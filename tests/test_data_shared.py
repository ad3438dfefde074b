"""Builds from the real corpora of ../shared/data with configs/data/default.yaml (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlnews.data import build_dataset, label_names, load_built
from mlnews.text import normalise_for_match


def _config_for(repo: Path, shared_data: Path, tmp_path: Path) -> Path:
    """default.yaml with its ../shared paths pointed at the fixture's folder (MLNEWS_SHARED)."""
    cfg = yaml.safe_load((repo / "configs/data/default.yaml").read_text(encoding="utf-8"))
    for key in ("taxonomy", "mappings_file"):
        cfg[key] = str(repo / cfg[key])
    cfg["weak"]["keywords_file"] = str(repo / cfg["weak"]["keywords_file"])
    for src in cfg["sources"]:
        if src["path"].startswith("../shared/"):
            src["path"] = str(shared_data.parent / src["path"].split("../shared/", 1)[1])
        else:  # the bundled held-out sample (data/sample)
            src["path"] = str(repo / src["path"])
    path = tmp_path / "default.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def _check(out: Path, stats: dict) -> None:
    c, s = stats["classification"], stats["summarisation"]
    assert sum(c["splits"].values()) + sum(c["dropped"].values()) == stats["input_rows"]
    assert sum(s["splits"].values()) + sum(s["dropped"].values()) == stats["input_articles"]
    ds = load_built(out)
    where: dict[str, str] = {}
    group_split: dict[str, str] = {}
    for dd, col in ((ds.classification, "text"), (ds.summarisation, "title")):
        for split in dd:
            for text, group in zip(dd[split][col], dd[split]["group"]):
                key = normalise_for_match(text)
                if key:
                    assert where.setdefault(key, split) == split, f"{text!r} in {where[key]} and {split}"
                assert group_split.setdefault(group, split) == split
    assert "weak" not in set(ds.classification["test"]["label_origin"])
    assert set(label_names(ds.classification["train"])) == set(ds.labels.names)
    per_source = stats["sources"]
    assert per_source["lenta"]["classification_kept"] == 6000  # the cap
    assert {"tgcontest", "ria", "tsn", "korrespondent", "rbc_ua", "babel", "lenta"} <= set(per_source)
    assert stats["unmapped_labels"]["tgcontest"] == {"not_news": per_source["tgcontest"]["classification_dropped"]["unmapped_label"]}
    assert "Наука и техника" in stats["unmapped_labels"]["lenta"]
    # the bundled sample is held out: every one of its rows in test, none anywhere else
    sample = {split: sum(src == "mlnews_sample" for src in ds.classification[split]["source"]) for split in ds.classification}
    assert sample["train"] == sample["validation"] == 0 and sample["test"] == 420 + 36
    test_uk = {lab for lab, lang in zip(label_names(ds.classification["test"]), ds.classification["test"]["lang"]) if lang == "uk"}
    assert test_uk == set(ds.labels.names)  # every topic has Ukrainian test rows
    ria = ds.summarisation["train"].filter(lambda r: r["source"] == "ria")
    assert len(ria) > 500 and set(ria["lead"]) == {""}  # RIA "lead" is an alternative headline
    tsn = ds.summarisation["train"].filter(lambda r: r["source"] == "tsn")
    assert sum(1 for lead in tsn["lead"] if lead) > 0.9 * len(tsn)


def test_default_build_rules_only(repo, shared_data, tmp_path):
    """Fast variant: keyword rules only (the TF-IDF weak labeller runs in the slow test below)."""
    cfg = _config_for(repo, shared_data, tmp_path)
    stats = build_dataset(cfg, tmp_path / "ds", ["weak.methods=[rules]"])
    _check(tmp_path / "ds", stats)
    assert stats["weak"]["labelled"]["rules"] > 0 and "tfidf" not in stats["weak"]["labelled"]


@pytest.mark.slow
def test_default_build_full(repo, shared_data, tmp_path):
    cfg = _config_for(repo, shared_data, tmp_path)
    stats = build_dataset(cfg, tmp_path / "ds")
    _check(tmp_path / "ds", stats)
    assert stats["weak"]["labelled"]["tfidf"] > 0 and stats["weak"]["tfidf_train_rows"] > 1000


def test_keyword_rules_quality_floor(repo, shared_data, tmp_path):
    """The shipped keyword rules agree with gold/source-rubric labels on most rows they label."""
    from mlnews.data.weak import KeywordLabeller
    from mlnews.text import compose_text

    cfg = _config_for(repo, shared_data, tmp_path)
    build_dataset(cfg, tmp_path / "ds", ["weak.methods=[]"])
    ds = load_built(tmp_path / "ds")
    rules = KeywordLabeller.from_file(repo / "configs/data/keywords.yaml", ds.labels.names)
    n = labelled = correct = 0
    names = ds.classification["validation"].features["label"].names
    for row in ds.classification["validation"]:
        n += 1
        label, conf = rules.label(compose_text(row["text"], row["lead"], row["body"], body_chars=300), row["lang"])
        if label is not None and conf >= 0.6:
            labelled += 1
            correct += label == names[row["label"]]
    assert n > 500
    assert labelled / n >= 0.3  # coverage
    assert correct / labelled >= 0.7  # precision of what it labels
