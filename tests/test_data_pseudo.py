"""``pseudo:`` in ``mlnews data build``: classify outputs relabel weak training rows only, views must agree.

Covers: agreed confident predictions relabel weak rows of the training split (origin ``pseudo``,
confidence = the lowest score); validation and test rows, every split and every other label stay those
of the build without them; disagreeing views, low scores, null labels and ids missing from a view are
left out and counted; ``pseudo.langs`` and ``pseudo.relabel`` select rows; a malformed prediction is a
one-line error naming FILE:LINE; the fingerprint of a build without pseudo-labels is unchanged by the
section's existence.
"""

from __future__ import annotations

import json

import pytest

from mlnews.data import build_dataset
from mlnews.errors import ConfigError, InputError
from tests.test_data_build import rows_by_id, write_config, write_corpus


def _write(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    root = tmp_path_factory.mktemp("pseudo")
    write_corpus(root)
    base = root / "base"
    build_dataset(write_config(root), base)
    rows = rows_by_id(base)
    weak_train = sorted(k for k, r in rows.items() if r["label_origin"] == "weak" and r["split"] == "train")
    held_out = sorted(k for k, r in rows.items() if r["label_origin"] == "source_rubric" and r["split"] != "train")
    gold_train = next(k for k, r in rows.items() if r["label_origin"] == "gold" and r["split"] == "train")
    assert len(weak_train) >= 4 and held_out, (weak_train, held_out)
    flip = {lab: ("science" if lab != "science" else "economy") for lab in {r["label"] for r in rows.values()}}
    a, b, c, d = weak_train[:4]
    # view 1: the "article"; view 2: the "title" (both mlnews classify outputs)
    v1 = [{"id": a, "text": "x", "label": flip[rows[a]["label"]], "score": 0.97},   # agreed, changes the label
          {"id": b, "text": "x", "label": rows[b]["label"], "score": 0.95},         # agreed, same label
          {"id": c, "text": "x", "label": "sports", "score": 0.99},                # views disagree
          {"id": d, "text": "x", "label": "sports", "score": 0.5},                 # below the threshold
          {"id": held_out[0], "text": "x", "label": "sports", "score": 0.99},      # validation/test row
          {"id": gold_train, "text": "x", "label": flip[rows[gold_train]["label"]], "score": 0.99},  # gold: kept
          {"id": "nowhere", "text": "x", "label": "sports", "score": 0.99},        # no such row
          {"id": "only-here", "text": "x", "label": "sports", "score": 0.99},      # missing from view 2
          {"id": "unsure", "text": "x", "label": None, "score": 0.3}]              # --min-score gave null
    v2 = [dict(r) for r in v1 if r["id"] != "only-here"]
    v2[2]["label"] = "economy" if v1[2]["label"] != "economy" else "science"
    f1, f2 = _write(root / "articles.pred.jsonl", v1), _write(root / "titles.pred.jsonl", v2)
    out = root / "pseudo"
    stats = build_dataset(write_config(root, pseudo={"files": [str(f1), str(f2)], "threshold": 0.9, "min_views": 2,
                                                               "relabel": ["weak", "source_rubric"]}), out)
    return {"root": root, "rows": rows, "out": out, "stats": stats, "ids": (a, b, c, d), "v1": v1,
            "held_out": held_out[0], "gold": gold_train, "files": (f1, f2)}


def test_agreed_confident_predictions_relabel_weak_training_rows_only(builds):
    rows, new = builds["rows"], rows_by_id(builds["out"])
    a, b, c, d = builds["ids"]
    assert new[a]["label"] == builds["v1"][0]["label"] != rows[a]["label"]
    assert new[a]["label_origin"] == new[b]["label_origin"] == "pseudo"
    assert new[a]["confidence"] == pytest.approx(0.97) and new[b]["label"] == rows[b]["label"]
    for k in (c, d, builds["held_out"], builds["gold"]):  # disagreeing, low score, not train, gold
        assert (new[k]["label"], new[k]["label_origin"]) == (rows[k]["label"], rows[k]["label_origin"]), k
    # same rows in the same splits; only a and b changed
    assert {k: r["split"] for k, r in new.items()} == {k: r["split"] for k, r in rows.items()}
    assert {k for k in rows if (new[k]["label"], new[k]["label_origin"]) != (rows[k]["label"], rows[k]["label_origin"])} \
        == {a, b}
    assert all(r["label_origin"] != "pseudo" for r in new.values() if r["split"] != "train")


def test_stats_count_what_was_left_out(builds):
    p = builds["stats"]["pseudo"]
    assert (p["predictions"], p["agreed"], p["disagree"], p["below_threshold"], p["no_label"], p["partial"]) \
        == (17, 5, 1, 1, 1, 1)  # agreed: a, b, the validation/test row, gold and "nowhere" (4 name a row)
    assert p["ids_matched"] == 4 and p["rows_relabelled"] == 2 and p["label_changed"] == 1
    assert p["not_train"] == 1 and p["other_origin_or_language"] == 1 and p["by_lang"] == {"ru": 2, "uk": 0}
    md = (builds["out"] / "stats.md").read_text(encoding="utf-8")
    assert "## Pseudo-labels" in md and "Training rows relabelled (origins weak, source_rubric; languages all): 2" in md
    assert any(r["label_origin"] == "pseudo" and r["split"] == "train" for r in builds["stats"]["classification"]["rows"])
    assert "`pseudo`" in (builds["out"] / "README.md").read_text(encoding="utf-8")


def test_langs_and_relabel_select_rows(builds, tmp_path):
    f1, f2 = builds["files"]
    stats = build_dataset(write_config(builds["root"], pseudo={"files": [str(f1), str(f2)], "langs": ["uk"]}),
                          tmp_path / "uk")
    # min_views 1 over both files: "only-here" counts (it names no row), the rest as before
    assert stats["pseudo"]["partial"] == 0 and stats["pseudo"]["agreed"] == 6
    assert stats["pseudo"]["rows_relabelled"] == 0  # every row of the corpus is Russian
    stats = build_dataset(write_config(builds["root"], pseudo={"files": [str(f1)], "threshold": 0.4}), tmp_path / "one")
    assert stats["pseudo"]["rows_relabelled"] == 4  # one view: c and d join a and b


def test_errors_name_the_file_line_or_key(builds, tmp_path):
    root = builds["root"]
    bad = _write(tmp_path / "bad.jsonl", [{"id": "h1", "label": "sports", "score": 0.9},
                                          {"id": "h2", "label": "not-a-label", "score": 0.9}])
    with pytest.raises(InputError, match=r"bad\.jsonl:2: expected an `mlnews classify` output row"):
        build_dataset(write_config(root, pseudo={"files": [str(bad)]}), tmp_path / "o1")
    twice = _write(tmp_path / "twice.jsonl", [{"id": "h1", "label": "sports", "score": 0.9}] * 2)
    with pytest.raises(InputError, match=r"twice\.jsonl:2: id 'h1' is predicted twice"):
        build_dataset(write_config(root, pseudo={"files": [str(twice)]}), tmp_path / "o2")
    with pytest.raises(ConfigError, match=r"pseudo\.files\[0\]: file 'missing.jsonl' not found"):
        build_dataset(write_config(root, pseudo={"files": ["missing.jsonl"]}), tmp_path / "o3")
    with pytest.raises(ConfigError, match=r"pseudo\.langs: 'en' is not in langs"):
        build_dataset(write_config(root, pseudo={"files": [str(bad)], "langs": ["en"]}), tmp_path / "o4")
    with pytest.raises(ConfigError, match=r"pseudo\.relabel"):
        build_dataset(write_config(root, pseudo={"files": [str(bad)], "relabel": ["gold"]}), tmp_path / "o5")
    with pytest.raises(ConfigError, match=r"pseudo\.threshold: applies only with pseudo\.files"):
        build_dataset(write_config(root, pseudo={"threshold": 0.5}), tmp_path / "o6")
    with pytest.raises(ConfigError, match=r"pseudo\.min_views: expected 1 to 1"):
        build_dataset(write_config(root, pseudo={"files": [str(bad)], "min_views": 2}), tmp_path / "o7")


def test_a_build_without_pseudo_labels_keeps_its_fingerprint(builds):
    from mlnews.data import _fingerprint

    cfg = write_config(builds["root"])
    plain = _fingerprint(cfg, ())
    assert _fingerprint(cfg, ()) == plain
    f1, _ = builds["files"]
    with_files = write_config(builds["root"], pseudo={"files": [str(f1)]})
    assert _fingerprint(with_files, ()) != plain
    assert _fingerprint(with_files, ("pseudo.threshold=0.5",)) != _fingerprint(with_files, ())
