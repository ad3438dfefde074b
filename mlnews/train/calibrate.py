"""Calibrated classifier scores: temperature scaling fitted on the validation split after training.

A classifier's softmax (or logistic-regression) probabilities are usually over- or under-confident:
of the rows scored 0.9, far fewer or more than 90% are right, so ``--min-score 0.9`` does not mean
what it says. Temperature scaling (Guo et al., 2017) fixes one number ``T`` so that
``softmax(log(p) / T)`` (:func:`mlnews.modelfolder.temperature_scale`, the same as ``softmax(logits / T)``)
has the lowest negative log-likelihood on held-out rows. The top label never changes, so accuracy and
macro-F1 are untouched; only the scores move.

:func:`calibrate` gets the raw probabilities of the validation rows through the same ``Classifier``
users load (:func:`mlnews.evaluate.classifier.raw_probabilities`), fits ``T`` with :func:`fit_temperature`
(shrunk towards 1 by :func:`no_worse_ece` where the minimum-NLL ``T`` would raise the validation ECE, which
happens on small splits) and returns the ``calibration`` record of ``mlnews.json`` (with the validation
ECE / NLL before and after). It only needs the classifier's probabilities, so it works for every ``model.kind``; every
backend (torch, ONNX, TF-IDF, Ray, serve) applies it through ``Classifier.predict_proba``.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from mlnews.evaluate.classifier import raw_probabilities
from mlnews.evaluate.metrics import ECE_BINS, expected_calibration_error, negative_log_likelihood
from mlnews.modelfolder import Calibration, ModelFolder, temperature_scale

log = logging.getLogger(__name__)

#: The bounded search range of ``T``: a hundredfold sharpening or a twentyfold softening at most.
T_MIN, T_MAX = 0.05, 20.0


def _nll_at(log_p: np.ndarray, y: np.ndarray, temperature: float) -> float:
    z = log_p / temperature
    z = z - z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=1))
    return float((log_norm - z[np.arange(len(y)), y]).mean())


def _mean_confidence(log_p: np.ndarray, temperature: float) -> float:
    z = log_p / temperature
    z = z - z.max(axis=1, keepdims=True)
    return float((1.0 / np.exp(z).sum(axis=1)).mean())  # the top label's softmax is exp(0) / sum


def _temperature_for_confidence(log_p: np.ndarray, target: float, bounds: tuple[float, float]) -> float:
    """The ``T`` in ``bounds`` whose mean top-label score is ``target`` (the score falls as ``T`` rises)."""
    lo, hi = np.log(bounds[0]), np.log(bounds[1])
    for _ in range(60):  # bisection on log T
        mid = (lo + hi) / 2
        if _mean_confidence(log_p, float(np.exp(mid))) > target:
            lo = mid
        else:
            hi = mid
    return float(np.exp((lo + hi) / 2))


def fit_temperature(probs: np.ndarray, y: np.ndarray, *, bounds: tuple[float, float] = (T_MIN, T_MAX)) -> float:
    """The ``T`` in ``bounds`` with the lowest mean NLL of ``softmax(log(p) / T)`` on ``probs`` / gold codes ``y``.

    1.0 (no change) for no rows. When every top-1 prediction is right (or every one wrong) the NLL has no
    minimum: it keeps falling as ``T -> 0`` (every score 1.0) or ``T -> inf``. Then ``T`` is the one whose
    mean top score is the rule-of-succession accuracy ``(right + 1) / (n + 2)`` (0.97 for 30 of 30 right),
    and only if that moves the scores towards what was seen (sharper when all were right, softer when all
    were wrong); otherwise 1.0.
    """
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y, dtype=int)
    if p.ndim != 2 or y.shape != (p.shape[0],):
        raise ValueError(f"expected [n, k] probabilities and n gold codes, got {p.shape} and {y.shape}")
    if not len(y) or p.shape[1] < 2:
        return 1.0
    log_p = np.log(np.clip(p, 1e-12, 1.0))
    correct = p.argmax(axis=1) == y
    if correct.all() or not correct.any():
        target = (int(correct.sum()) + 1) / (len(y) + 2)
        now = _mean_confidence(log_p, 1.0)
        if (correct.all() and now >= target) or (not correct.any() and now <= target):
            return 1.0
        return _temperature_for_confidence(log_p, target, bounds)
    from scipy.optimize import minimize_scalar

    # log T is searched (T = 0.5 and T = 2 are the same distance from 1), bounded by ``bounds``
    res = minimize_scalar(lambda s: _nll_at(log_p, y, float(np.exp(s))), bounds=tuple(np.log(bounds)),
                          method="bounded", options={"xatol": 1e-5})
    t = float(np.exp(res.x))
    if _nll_at(log_p, y, t) > _nll_at(log_p, y, 1.0):  # never worse than leaving the scores alone
        return 1.0
    return t


def no_worse_ece(probs: np.ndarray, y: np.ndarray, temperature: float, *, steps: int = 100) -> float:
    """``temperature``, or the ``T`` closest to it between it and 1 whose ECE on ``probs`` / ``y`` is not above
    the raw probabilities' (1.0 in the worst case).

    Minimum NLL usually lowers the ECE too, but not always: on a few dozen rows one row changing bins can
    raise it. The NLL is convex in ``1 / T``, so every ``T`` between the NLL optimum and 1 still has an NLL
    at most that of the raw scores: shrinking towards 1 keeps part of the NLL gain and never makes the
    calibration error of the split worse (so ``--min-score`` is not made less truthful than the raw scores).
    """
    if temperature == 1.0 or not len(y):
        return temperature
    before = expected_calibration_error(probs, y)
    for frac in np.linspace(1.0, 0.0, steps + 1):  # log T from log(temperature) back to 0
        t = round(float(np.exp(frac * np.log(temperature))), 6)
        if expected_calibration_error(temperature_scale(probs, t), y) <= before:
            return t
    return 1.0


def calibration_record(probs: np.ndarray, y: np.ndarray, *, split: str = "validation") -> dict[str, Any]:
    """Fit ``T`` on ``probs`` / ``y`` and return the ``mlnews.json`` ``calibration`` mapping (with the
    split's ECE and NLL before and after; ECE in :data:`~mlnews.evaluate.metrics.ECE_BINS` equal-width bins).

    ``T`` is :func:`fit_temperature`'s, shrunk towards 1 by :func:`no_worse_ece` if it raised the split's ECE
    (then ``temperature_nll`` records the unshrunk value)."""
    fitted = round(fit_temperature(probs, y), 6)  # stored with 6 decimals; the numbers below are for that value
    t = no_worse_ece(probs, y, fitted)
    after = temperature_scale(probs, t)
    record: dict[str, Any] = {"method": "temperature", "temperature": t, "fitted_on": split,
                              "rows": int(len(y)), "ece_bins": ECE_BINS}
    if len(y):
        record.update(
            ece_before=round(expected_calibration_error(probs, y), 4),
            ece_after=round(expected_calibration_error(after, y), 4),
            nll_before=round(negative_log_likelihood(probs, y), 4),
            nll_after=round(negative_log_likelihood(after, y), 4),
        )
    correct = np.asarray(probs).argmax(axis=1) == y if len(y) else np.zeros(0, dtype=bool)
    if not len(y):
        record["note"] = "no usable rows: scores left as they are"
    elif correct.all() or not correct.any():
        target = (int(correct.sum()) + 1) / (len(y) + 2)
        record["note"] = (f"every top-1 prediction {'right' if correct.all() else 'wrong'}: the NLL has no minimum; "
                          + (f"T gives a mean score of (right + 1) / (n + 2) = {target:.3f}" if t != 1.0
                             else "scores left as they are (already at least that far)"))
    if t != fitted:
        record["temperature_nll"] = fitted
        record["note"] = (f"the minimum-NLL T = {fitted:.3f} raised this split's ECE; " + (
            "scores left as they are" if t == 1.0 else "shrunk towards 1 to the closest T that does not"))
    Calibration.from_dict(record, "calibration")  # the record is what mlnews.json accepts
    return record


def calibrate(model: ModelFolder, rows: list[dict[str, Any]], *, split: str = "validation",
              batch_size: int = 32) -> dict[str, Any]:
    """Fit temperature scaling for a trained classifier folder (manifest may still be in memory) on
    evaluation ``rows`` (``{id, text, lead, body, label, ...}``) of ``split``; returns the record for
    ``manifest.extra["calibration"]``."""
    probs, y = raw_probabilities(model, rows, batch_size=batch_size)
    record = calibration_record(probs, y, split=split)
    if "ece_before" in record:
        log.info("calibration: T = %.3f on %d %s rows; ECE %.4f -> %.4f, NLL %.4f -> %.4f", record["temperature"],
                 record["rows"], split, record["ece_before"], record["ece_after"], record["nll_before"],
                 record["nll_after"])
    else:
        log.warning("calibration: no usable %s rows; scores are left uncalibrated (T = 1)", split)
    return record
