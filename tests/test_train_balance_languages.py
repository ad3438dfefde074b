"""``train.balance_languages``: class weights within each language, as per-row loss weights (transformer only)."""

from __future__ import annotations

import math

import pytest

from mlnews.config import from_dict
from mlnews.errors import ConfigError
from mlnews.train.classifier import train_from_config
from mlnews.train.config import ClassifierConfig, language_row_weights
from mlnews.types import LabelSet
from test_train_classifier import make_cfg, tiny  # noqa: F401 - the module fixture


def test_a_language_that_is_mostly_one_label_gets_that_label_down_weighted():
    labels = LabelSet(["society", "sports"])
    # ru balanced (2 + 2); uk 6 society + 2 sports
    y = ["society", "sports", "society", "sports"] + ["society"] * 6 + ["sports"] * 2
    g = ["ru"] * 4 + ["uk"] * 8
    w = language_row_weights("balanced", labels, y, g)
    assert len(w) == len(y) and math.isclose(sum(w) / len(w), 1.0)
    ru, uk_society, uk_sports = w[0], w[4], w[-1]
    assert w[0] == w[1]  # balanced in ru: equal weights
    assert uk_sports / uk_society == pytest.approx(3.0)  # 6 vs 2 rows -> 3x, within Ukrainian only
    assert uk_society < ru < uk_sports
    sq = language_row_weights("sqrt_balanced", labels, y, g)
    assert sq[-1] / sq[4] == pytest.approx(math.sqrt(3.0))


def test_training_with_language_balance_runs_and_learns(tiny, tmp_path):  # noqa: F811
    import json

    out = train_from_config(make_cfg(tiny, max_steps=60, learning_rate=3e-3, class_weights="sqrt_balanced",
                                     balance_languages=True), tmp_path / "m")
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["validation"]["macro_f1"] >= 0.6, metrics["validation"]  # 3 keyword topics: chance is ~0.33
    assert "balance_languages: true" in (out / "train_config.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize("train, kind, message", [
    ({"balance_languages": True}, "transformer", "balance_languages: needs class_weights balanced or sqrt_balanced"),
    ({"balance_languages": True, "class_weights": "sqrt_balanced"}, "tfidf", "balance_languages"),
])
def test_config_errors(tiny, train, kind, message):  # noqa: F811
    model = {"kind": kind, **({"name_or_path": str(tiny["bert"])} if kind == "transformer" else {})}
    with pytest.raises(ConfigError, match=message):
        from_dict(ClassifierConfig, {"data": {"path": str(tiny["data"])}, "model": model, "train": train})
