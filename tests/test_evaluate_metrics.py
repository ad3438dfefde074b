"""Classification metrics and confusion-matrix artefacts."""

from __future__ import annotations

import json

import pytest

from mlnews.evaluate.metrics import (
    classification_metrics,
    confusion,
    expected_calibration_error,
    macro_f1,
    negative_log_likelihood,
    paired_bootstrap,
    write_eval_artifacts,
)
from mlnews.types import LabelSet

LABELS = LabelSet(["society", "economy", "sports"])


def test_metrics_overall_per_class_and_groups():
    y_true = ["society", "economy", "society", "sports", "economy", "society"]
    y_pred = ["society", "economy", "economy", "sports", "economy", "society"]
    langs = ["ru", "ru", "uk", "uk", "ru", "uk"]
    sources = ["a", "a", "b", "b", "a", "b"]
    m = classification_metrics(y_true, y_pred, LABELS, langs=langs, sources=sources)
    assert m["n"] == 6 and m["accuracy"] == pytest.approx(5 / 6, abs=1e-4)
    # society P=1 R=2/3 F1=0.8; economy P=2/3 R=1 F1=0.8; sports 1.0 -> macro 0.8667
    assert m["macro_f1"] == pytest.approx(0.8667, abs=1e-4)
    assert m["per_class"]["society"] == {"precision": 1.0, "recall": 0.6667, "f1": 0.8, "support": 3}
    assert m["per_lang"]["ru"] == {"n": 3, "accuracy": 1.0, "macro_f1": 1.0}
    assert m["per_lang"]["uk"]["n"] == 3 and m["per_lang"]["uk"]["accuracy"] == pytest.approx(0.6667, abs=1e-4)
    assert set(m["per_source"]) == {"a", "b"}


def test_group_macro_f1_counts_only_labels_present_in_the_group():
    # One language has only "sports": a perfect score there is 1.0, not 1/3.
    m = classification_metrics(["sports", "sports"], ["sports", "sports"], LABELS, langs=["uk", "uk"])
    assert m["per_lang"]["uk"]["macro_f1"] == 1.0


def test_confusion_matrix_files(tmp_path):
    y_true = ["society", "economy", "sports", "sports"]
    y_pred = ["society", "sports", "sports", "society"]
    cm = confusion(y_true, y_pred, LABELS)
    assert cm.tolist() == [[1, 0, 0], [0, 0, 1], [1, 0, 1]]
    m = write_eval_artifacts(tmp_path, y_true, y_pred, LABELS, extra={"split": "test"})
    assert json.loads((tmp_path / "metrics.json").read_text())["split"] == "test"
    assert m["n"] == 4
    lines = (tmp_path / "confusion_matrix.csv").read_text().splitlines()
    assert lines == ["true\\predicted,society,economy,sports", "society,1,0,0", "economy,0,0,1", "sports,1,0,1"]
    assert (tmp_path / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError, match="y_true has 2 items"):
        classification_metrics(["a", "b"], ["a"], LabelSet(["a", "b"]))


def test_paired_bootstrap_delta_matches_macro_f1_and_brackets_it():
    import random

    rnd = random.Random(3)
    names = ["a", "b", "c", "d"]
    gold = [rnd.choice(names) for _ in range(300)]
    good = [g if rnd.random() < 0.9 else rnd.choice(names) for g in gold]
    poor = [g if rnd.random() < 0.6 else rnd.choice(names) for g in gold]
    res = paired_bootstrap(gold, poor, good, n_boot=500, seed=1)
    assert res["macro_f1_b"] == pytest.approx(macro_f1(gold, good))
    assert res["macro_f1_a"] == pytest.approx(macro_f1(gold, poor))
    assert res["delta"] == pytest.approx(res["macro_f1_b"] - res["macro_f1_a"])
    assert 0 < res["low"] < res["delta"] < res["high"]
    assert res["p_b_not_better"] == 0.0
    same = paired_bootstrap(gold, poor, poor, n_boot=50)
    assert same["delta"] == same["low"] == same["high"] == 0.0 and same["p_b_not_better"] == 1.0
    # one class seen once: a single flipped row swings macro-F1, so the interval is wide
    gold2 = ["a"] * 99 + ["b"]
    res2 = paired_bootstrap(gold2, ["a"] * 100, gold2, n_boot=500)
    assert res2["low"] <= 0.0 and res2["high"] >= 0.49
    with pytest.raises(ValueError, match="lengths differ"):
        paired_bootstrap(["a"], ["a", "b"], ["a"])


def test_paired_bootstrap_mean_of_per_article_scores():
    from mlnews.evaluate.metrics import paired_bootstrap_mean

    a = [0.1, 0.2, 0.3, 0.4] * 25
    better = paired_bootstrap_mean(a, [x + 0.05 for x in a])
    assert abs(better["delta"] - 0.05) < 1e-9 and better["low"] > 0 and better["p_b_not_better"] == 0.0
    noise = paired_bootstrap_mean(a, list(reversed(a)), seed=1)
    assert noise["low"] < 0 < noise["high"] and noise["n"] == 100
    with pytest.raises(ValueError):
        paired_bootstrap_mean([0.1], [0.1, 0.2])


def test_expected_calibration_error_by_hand():
    import numpy as np

    # [n, k] probabilities + gold codes, 10 bins: confidences 0.9 (right), 0.6 (wrong: argmax 0, gold 1),
    # 0.7 (right) fall in three bins with gaps 0.1, 0.6, 0.3 -> (0.1 + 0.6 + 0.3) / 3
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7]])
    assert expected_calibration_error(probs, [0, 1, 1], n_bins=10) == pytest.approx(1 / 3)
    # confidences + correct flags, 15 bins: 0.2 right (gap 0.8); 1.0 right (0); 0.0 and 1/15 wrong share the first
    # bin (0, 1/15] (0 falls in it): |0 - (0 + 1/15) / 2| * 2 rows -> (0.8 + 1/15) / 4
    assert expected_calibration_error([0.2, 1.0, 0.0, 1 / 15], [True, True, False, False]) == pytest.approx(
        (0.8 + 1 / 15) / 4)
    # calibrated within each bin: 4 rows at 0.75, 3 right -> 0
    assert expected_calibration_error([0.75] * 4, [True, True, True, False]) == pytest.approx(0.0)
    # one bin holds everything: |accuracy - mean confidence|
    assert expected_calibration_error([0.9, 0.8], [True, False], n_bins=1) == pytest.approx(abs(0.5 - 0.85))
    assert expected_calibration_error(np.zeros((0, 3)), np.zeros(0, dtype=int)) == 0.0
    with pytest.raises(ValueError):
        expected_calibration_error(probs, [0, 1])


def test_negative_log_likelihood_by_hand():
    import math

    assert negative_log_likelihood([[0.5, 0.5], [0.9, 0.1]], [0, 1]) == pytest.approx((math.log(2) + math.log(10)) / 2)
    assert negative_log_likelihood([[1.0, 0.0]], [1]) == pytest.approx(-math.log(1e-12))  # clipped, not inf
    with pytest.raises(ValueError):
        negative_log_likelihood([0.5, 0.5], [0])
