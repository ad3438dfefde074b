"""``split.validation_signal`` in ``mlnews data build``: a share of matching training groups moves to validation.

Covers: only training rows of the chosen languages / origins / labels move, whole groups, per label the share
of the eligible groups (rounded half up); test keeps its rows, and a moved article's summarisation row moves
with it (no title in two splits); nothing is lost
(the same rows in the same number); the stats, ``stats.md`` and the card report it; the same seed moves the
same rows; a build without the section (share 0) has the splits and the fingerprint it had before the section existed; bad values are one-line
errors naming the key.
"""

from __future__ import annotations

import math
from collections import Counter

import pytest

from mlnews.data import build_dataset, load_built
from mlnews.data.config import load_data_config
from mlnews.errors import ConfigError
from tests.test_data_build import rows_by_id, write_config, write_corpus

SIGNAL = {"share": 0.5, "langs": ["ru"], "origins": ["gold", "source_rubric"], "exclude_labels": ["society"]}


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    root = tmp_path_factory.mktemp("signal")
    write_corpus(root)
    base, moved = root / "base", root / "moved"
    build_dataset(write_config(root), base)
    stats = build_dataset(write_config(root, **{"split": {"validation_signal": SIGNAL}}), moved)
    return {"root": root, "base": base, "moved": moved, "stats": stats}


def _summ_splits(out):
    summ = load_built(out).summarisation
    return {r["id"]: s for s in summ for r in summ[s].to_list()}


def test_only_matching_training_rows_move_to_validation(builds):
    before, after = rows_by_id(builds["base"]), rows_by_id(builds["moved"])
    assert set(before) == set(after)  # rows in = rows out
    changed = {k for k in before if before[k]["split"] != after[k]["split"]}
    assert changed, "nothing moved"
    for k in changed:
        b, a = before[k], after[k]
        assert (b["split"], a["split"]) == ("train", "validation"), k
        assert (b["label"], b["label_origin"], b["lang"]) == (a["label"], a["label_origin"], a["lang"])
        assert a["lang"] == "ru" and a["label_origin"] in ("gold", "source_rubric") and a["label"] != "society", a
    assert {k for k, r in before.items() if r["split"] == "test"} == {k for k, r in after.items() if r["split"] == "test"}
    # the share of each label's eligible groups, rounded half up
    eligible = Counter(lab for lab, _ in {(r["label"], r["group"]) for r in before.values() if r["split"] == "train"
                                          and r["label_origin"] in ("gold", "source_rubric")
                                          and r["label"] != "society"})
    moved = Counter(lab for lab, _ in {(after[k]["label"], after[k]["group"]) for k in changed})
    assert moved == {lab: math.floor(0.5 * n + 0.5) for lab, n in eligible.items()}


def test_groups_stay_together_and_summarisation_rows_follow(builds):
    before, after = rows_by_id(builds["base"]), rows_by_id(builds["moved"])
    by_group: dict[str, set] = {}
    for r in after.values():
        by_group.setdefault(r["group"], set()).add(r["split"])
    assert all(len(s) == 1 for s in by_group.values())
    summ_before, summ_after = _summ_splits(builds["base"]), _summ_splits(builds["moved"])
    assert set(summ_before) == set(summ_after)
    followed = {k for k in summ_after if summ_after[k] != summ_before[k]}
    assert followed, "no article moved"
    assert followed == {k for k in summ_after if k in after and after[k]["split"] != before[k]["split"]}
    assert builds["stats"]["validation_signal"]["summarisation_rows_moved"] == len(followed)


def test_stats_markdown_and_card_report_the_move(builds):
    v = builds["stats"]["validation_signal"]
    before, after = rows_by_id(builds["base"]), rows_by_id(builds["moved"])
    n_changed = sum(before[k]["split"] != after[k]["split"] for k in before)
    assert v["rows_moved"] == v["matching_rows_moved"] == n_changed >= sum(v["moved_groups"].values())
    assert set(v["eligible_groups"]) == {"sports", "economy", "science"}
    assert builds["stats"]["classification"]["splits"]["validation"] \
        == sum(r["split"] == "validation" for r in before.values()) + n_changed
    assert "Moved to validation" in (builds["moved"] / "stats.md").read_text(encoding="utf-8")
    assert f"{n_changed} classification rows moved from train" in (builds["moved"] / "README.md").read_text(
        encoding="utf-8")


def test_same_seed_same_rows_and_no_section_no_change(builds, tmp_path):
    again = tmp_path / "again"
    build_dataset(write_config(builds["root"], **{"split": {"validation_signal": SIGNAL}}), again)
    assert {k: r["split"] for k, r in rows_by_id(again).items()} \
        == {k: r["split"] for k, r in rows_by_id(builds["moved"]).items()}
    off = tmp_path / "off"
    build_dataset(write_config(builds["root"], **{"split": {"validation_signal": {"share": 0.0}}}), off)
    assert {k: r["split"] for k, r in rows_by_id(off).items()} \
        == {k: r["split"] for k, r in rows_by_id(builds["base"]).items()}
    from mlnews.data import _fingerprint

    plain = _fingerprint(write_config(builds["root"]), ())
    assert _fingerprint(write_config(builds["root"], **{"split": {"validation_signal": {"share": 0.0}}}), ()) == plain
    assert _fingerprint(write_config(builds["root"], **{"split": {"validation_signal": SIGNAL}}), ()) != plain


@pytest.mark.parametrize("signal, message", [
    ({"share": 1.5}, "split.validation_signal.share: expected a share in [0, 1], got 1.5"),
    ({"share": 0.0, "langs": ["uk"]}, "split.validation_signal.langs: applies only with a share above 0"),
    ({"share": 0.5, "langs": ["en"]}, "split.validation_signal.langs: 'en' is not in langs (ru, uk)"),
    ({"share": 0.5, "origins": ["weak"]}, "split.validation_signal.origins"),
    ({"share": 0.5, "colour": "red"}, "split.validation_signal.colour: unknown key"),
])
def test_config_errors_are_one_line(tmp_path, signal, message):
    write_corpus(tmp_path)
    with pytest.raises(ConfigError) as err:
        load_data_config(write_config(tmp_path, **{"split": {"validation_signal": signal}}))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_unknown_label_is_a_one_line_error_before_the_build(tmp_path):
    write_corpus(tmp_path)
    cfg = write_config(tmp_path, **{"split": {"validation_signal": {"share": 0.5, "exclude_labels": ["war"]}}})
    with pytest.raises(ConfigError, match=r"exclude_labels: 'war' is not a label of .*; expected some of: society"):
        build_dataset(cfg, tmp_path / "out")
    assert not (tmp_path / "out").exists()
