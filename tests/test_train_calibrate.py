"""Temperature scaling (mlnews.train.calibrate) and the manifest's ``calibration`` record (mlnews.modelfolder).

Pure numbers here (no model is trained); the trained-model checks live with the trainers' tests
(test_train_classifier, test_train_tfidf, test_train_card) and the backends' (test_infer_classifier,
test_infer_onnx).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mlnews.errors import InputError
from mlnews.evaluate.metrics import expected_calibration_error, negative_log_likelihood
from mlnews.modelfolder import Calibration, Manifest, read_manifest, temperature_scale
from mlnews.train.calibrate import T_MAX, T_MIN, calibration_record, fit_temperature, no_worse_ece


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _overconfident(n: int = 4000, k: int = 5, factor: float = 2.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gold labels drawn from softmax(z); the model reports softmax(factor * z): true temperature = factor."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 1.5, size=(n, k))
    p_true = _softmax(z)
    y = np.array([rng.choice(k, p=row) for row in p_true])
    return _softmax(factor * z), y


def test_temperature_scale_is_softmax_of_logits_over_t():
    z = np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]])
    p = _softmax(z)
    for t in (0.5, 1.0, 3.0):
        assert np.allclose(temperature_scale(p, t), _softmax(z / t))
    assert (temperature_scale(p, 4.0).argmax(1) == p.argmax(1)).all()
    out = temperature_scale(p.astype(np.float32), 2.0)
    assert out.dtype == np.float32 and np.allclose(out.sum(1), 1.0, atol=1e-6)
    assert np.isfinite(temperature_scale(np.array([[1.0, 0.0, 0.0]]), 0.5)).all()  # log 0 is clipped
    assert temperature_scale(np.zeros((0, 3)), 2.0).shape == (0, 3)


def test_fit_recovers_a_known_temperature_and_lowers_nll_and_ece():
    probs, y = _overconfident(factor=2.0)
    t = fit_temperature(probs, y)
    assert t == pytest.approx(2.0, rel=0.1)
    after = temperature_scale(probs, t)
    assert negative_log_likelihood(after, y) < negative_log_likelihood(probs, y)
    assert expected_calibration_error(after, y) < expected_calibration_error(probs, y)
    under, y2 = _overconfident(factor=0.5, seed=1)  # underconfident: T < 1 sharpens
    assert fit_temperature(under, y2) == pytest.approx(0.5, rel=0.1)


def test_degenerate_validation_sets():
    assert fit_temperature(np.zeros((0, 3)), np.zeros(0, dtype=int)) == 1.0
    # every prediction right and underconfident: T sharpens to a mean top score of (n + 1) / (n + 2), not to T_MIN
    p = np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.5, 0.2, 0.3], [0.1, 0.1, 0.8]])
    y = p.argmax(1)
    t = fit_temperature(p, y)
    assert T_MIN < t < 1.0
    assert temperature_scale(p, t).max(1).mean() == pytest.approx(5 / 6, abs=1e-6)
    # already more confident than that: left alone
    sure = np.array([[0.99, 0.005, 0.005], [0.002, 0.996, 0.002]])
    assert fit_temperature(sure, sure.argmax(1)) == 1.0
    # every prediction wrong and confident: softened (towards uniform), at most T_MAX
    wrong = np.array([[0.9, 0.05, 0.05], [0.05, 0.9, 0.05]])
    t = fit_temperature(wrong, np.array([1, 2]))
    assert 1.0 < t <= T_MAX
    record = calibration_record(wrong, np.array([1, 2]))
    assert record["ece_after"] <= record["ece_before"] and "every top-1 prediction wrong" in record["note"]


def test_calibration_record_is_what_the_manifest_accepts():
    probs, y = _overconfident(n=600, factor=3.0, seed=2)
    record = calibration_record(probs, y, split="validation")
    assert record["method"] == "temperature" and record["fitted_on"] == "validation" and record["rows"] == 600
    assert record["ece_after"] <= record["ece_before"] and record["nll_after"] <= record["nll_before"]
    assert record["ece_after"] == pytest.approx(
        expected_calibration_error(temperature_scale(probs, record["temperature"]), y), abs=1e-4)
    cal = Calibration.from_dict(record)
    assert cal.temperature == record["temperature"] and cal.to_dict() == record
    assert calibration_record(np.zeros((0, 3)), np.zeros(0, dtype=int))["temperature"] == 1.0


def test_a_temperature_that_raises_the_ece_is_shrunk_towards_one():
    """On 30 rows the minimum-NLL T often raises the binned ECE; the stored T never does, and keeps NLL <= raw."""
    shrunk = 0
    for seed in range(40):
        probs, y = _overconfident(n=30, k=3, factor=0.7, seed=seed)
        fitted = round(fit_temperature(probs, y), 6)  # as stored
        t = no_worse_ece(probs, y, fitted)
        assert min(1.0, fitted) <= t <= max(1.0, fitted)
        after = temperature_scale(probs, t)
        assert expected_calibration_error(after, y) <= expected_calibration_error(probs, y) + 1e-12
        assert negative_log_likelihood(after, y) <= negative_log_likelihood(probs, y) + 1e-12
        record = calibration_record(probs, y)
        assert record["temperature"] == t and record["ece_after"] <= record["ece_before"]
        if t != fitted:
            shrunk += 1
            assert record["temperature_nll"] == fitted and "raised this split's ECE" in record["note"]
    assert shrunk > 0  # the guard is exercised


def _manifest(**extra) -> dict:
    return {"format": 1, "task": "classification", "kind": "tfidf", "labels": ["a", "b"], "input": {}, **extra}


@pytest.mark.parametrize(
    ("calibration", "message"),
    [
        ({"method": "temperature", "temperature": -1}, r"calibration\.temperature: expected a number > 0, got -1"),
        ({"method": "temperature", "temperature": "1.5"}, r"calibration\.temperature: expected a number > 0, got '1.5'"),
        ({"method": "temperature", "temperature": True}, r"calibration\.temperature: expected a number > 0, got True"),
        ({"method": "temperature"}, r"calibration\.temperature: expected a number > 0, got None"),
        ({"method": "platt", "temperature": 1.0}, r"calibration\.method: expected one of temperature, got 'platt'"),
        ({"temperature": 1.0, "rows": -3}, r"calibration\.rows: expected a count >= 0"),
        ([1.2], r"calibration: expected a mapping"),
    ],
)
def test_a_bad_calibration_in_mlnews_json_is_a_one_line_error(tmp_path, calibration, message):
    (tmp_path / "mlnews.json").write_text(json.dumps(_manifest(calibration=calibration)), encoding="utf-8")
    with pytest.raises(InputError, match=message) as exc:
        read_manifest(tmp_path)
    assert str(exc.value).startswith(str(tmp_path / "mlnews.json") + ": ") and "\n" not in str(exc.value)


def test_nan_and_inf_temperatures_are_refused(tmp_path):
    for bad in ("NaN", "Infinity"):
        (tmp_path / "mlnews.json").write_text(
            json.dumps(_manifest())[:-1] + f', "calibration": {{"temperature": {bad}}}}}', encoding="utf-8")
        with pytest.raises(InputError, match=r"mlnews\.json: calibration\.temperature"):
            read_manifest(tmp_path)


def test_manifest_calibration_accessor():
    assert Manifest.from_dict(_manifest()).calibration is None  # an old folder: raw probabilities
    m = Manifest.from_dict(_manifest(calibration={"method": "temperature", "temperature": 2, "rows": 9,
                                                  "fitted_on": "validation", "ece_before": 0.2}))
    assert m.calibration.temperature == 2.0 and m.calibration.rows == 9 and m.calibration.report == {"ece_before": 0.2}
    assert m.to_dict()["calibration"]["temperature"] == 2  # written back as read
    assert math.isclose(float(m.calibration.apply(np.array([[0.8, 0.2]]))[0, 0]), 2 / 3)  # sqrt(.8)/(sqrt(.8)+sqrt(.2))
