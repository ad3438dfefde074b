"""Classification metrics and the confusion-matrix artefacts (PNG + CSV).

``macro_f1`` averages F1 over the labels that occur in the gold labels of the set being scored
(overall, or one language / source), so a group with three topics is not punished for the six it
does not contain; ``per_class`` lists every label of the model, with its support.
"""

from __future__ import annotations

import csv
import io
import os
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from mlnews.io import atomic_write, write_json
from mlnews.types import LabelSet


def macro_f1(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    """Macro-F1 over the labels present in ``y_true`` (the one implementation; see the module docstring)."""
    names = sorted(set(y_true) | set(y_pred))
    code = {n: i for i, n in enumerate(names)}
    return macro_f1_codes(np.array([code[x] for x in y_true], dtype=int),
                          np.array([code[x] for x in y_pred], dtype=int), len(names))


def _summary(y_true: Sequence[str], y_pred: Sequence[str], labels: LabelSet) -> dict[str, Any]:
    n = len(y_true)
    correct = sum(t == p for t, p in zip(y_true, y_pred))
    return {
        "n": n,
        "accuracy": round(correct / n, 4) if n else 0.0,
        "macro_f1": round(macro_f1(y_true, y_pred), 4),
    }


def _by_group(
    y_true: Sequence[str], y_pred: Sequence[str], groups: Sequence[str], labels: LabelSet
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for g in sorted(set(groups)):
        idx = [i for i, x in enumerate(groups) if x == g]
        out[g] = _summary([y_true[i] for i in idx], [y_pred[i] for i in idx], labels)
    return out


def classification_metrics(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    labels: LabelSet,
    *,
    langs: Sequence[str] | None = None,
    sources: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class P/R/F1/support and per-language / per-source summaries."""
    from sklearn.metrics import precision_recall_fscore_support

    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} items, y_pred {len(y_pred)}")
    metrics = _summary(y_true, y_pred, labels)
    if len(y_true):
        p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels.names, zero_division=0)
    else:
        p = r = f = [0.0] * len(labels)
        s = [0] * len(labels)
    metrics["per_class"] = {
        name: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4), "f1": round(float(f[i]), 4),
               "support": int(s[i])}
        for i, name in enumerate(labels.names)
    }
    metrics["per_lang"] = _by_group(y_true, y_pred, langs, labels) if langs is not None else {}
    metrics["per_source"] = _by_group(y_true, y_pred, sources, labels) if sources is not None else {}
    metrics["predicted_counts"] = dict(Counter(y_pred))
    return metrics


def macro_f1_codes(t: np.ndarray, p: np.ndarray, k: int) -> float:
    """Macro-F1 on integer codes ``0..k-1`` over the labels present in ``t``; fast enough to bootstrap."""
    if not len(t):
        return 0.0
    tp = np.bincount(t[t == p], minlength=k)
    gold = np.bincount(t, minlength=k)
    pred = np.bincount(p, minlength=k)
    present = gold > 0
    denom = gold + pred  # 2tp + fp + fn
    f1 = np.divide(2 * tp, denom, out=np.zeros(k), where=denom > 0)
    return float(f1[present].mean()) if present.any() else 0.0


def paired_bootstrap(
    y_true: Sequence[str],
    pred_a: Sequence[str],
    pred_b: Sequence[str],
    *,
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, float]:
    """Macro-F1 difference b - a on the same rows, with a paired bootstrap confidence interval.

    Rows are resampled with replacement ``n_boot`` times; both systems are scored on each resample
    (macro-F1 over the gold labels present in it). Returns ``macro_f1_a``/``macro_f1_b`` and ``delta``
    (on all rows), ``low``/``high`` (the percentile interval) and ``p_b_not_better`` (share of
    resamples where b <= a). Small classes make macro-F1 jumpy: the interval says how much of a gap is noise.
    """
    if not (len(y_true) == len(pred_a) == len(pred_b)):
        raise ValueError(f"lengths differ: y_true {len(y_true)}, a {len(pred_a)}, b {len(pred_b)}")
    if not len(y_true):
        raise ValueError("paired_bootstrap needs at least one row")
    names = sorted(set(y_true) | set(pred_a) | set(pred_b))
    code = {n: i for i, n in enumerate(names)}
    t = np.array([code[x] for x in y_true])
    a = np.array([code[x] for x in pred_a])
    b = np.array([code[x] for x in pred_b])
    k = len(names)
    rng = np.random.default_rng(seed)
    deltas = np.empty(n_boot)
    for i in range(n_boot):
        idx = rng.integers(0, len(t), len(t))
        deltas[i] = macro_f1_codes(t[idx], b[idx], k) - macro_f1_codes(t[idx], a[idx], k)
    f1_a, f1_b = macro_f1_codes(t, a, k), macro_f1_codes(t, b, k)
    return {"macro_f1_a": f1_a, "macro_f1_b": f1_b, "delta": f1_b - f1_a, **_interval(deltas, confidence),
            "n": len(t), "n_boot": n_boot}


def _interval(deltas: np.ndarray, confidence: float) -> dict[str, float]:
    """The percentile interval of bootstrapped gaps and the share of resamples where b <= a."""
    tail = (1.0 - confidence) / 2 * 100
    return {"low": float(np.percentile(deltas, tail)), "high": float(np.percentile(deltas, 100 - tail)),
            "p_b_not_better": float((deltas <= 0).mean())}


def paired_bootstrap_mean(
    scores_a: Sequence[float],
    scores_b: Sequence[float],
    *,
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, float]:
    """Difference of means b - a of per-item scores (e.g. per-article ROUGE-L F1) on the same items,
    with a paired bootstrap percentile interval: the ROUGE analogue of :func:`paired_bootstrap`.

    Returns ``mean_a``, ``mean_b``, ``delta``, ``low``, ``high``, ``p_b_not_better`` (share of
    resamples where b <= a), ``n`` and ``n_boot``; scores are returned in the units given.
    """
    a, b = np.asarray(scores_a, dtype=float), np.asarray(scores_b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"expected two score lists of the same length, got {a.shape} and {b.shape}")
    if not len(a):
        raise ValueError("paired_bootstrap_mean needs at least one item")
    rng = np.random.default_rng(seed)
    diff = b - a
    deltas = diff[rng.integers(0, len(diff), (n_boot, len(diff)))].mean(axis=1)
    return {"mean_a": float(a.mean()), "mean_b": float(b.mean()), "delta": float(diff.mean()),
            **_interval(deltas, confidence), "n": len(a), "n_boot": n_boot}


ECE_BINS = 15  # equal-width confidence bins of the expected calibration error (Guo et al., 2017)


def _top_label(probs: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(confidence, correct)`` from ``[n, k]`` probabilities and gold codes, or passed through when 1-D."""
    p = np.asarray(probs, dtype=float)
    t = np.asarray(y)
    if p.ndim == 2:
        if t.shape != (p.shape[0],):
            raise ValueError(f"expected {p.shape[0]} gold label codes, got shape {t.shape}")
        return (p.max(axis=1) if p.shape[0] else np.zeros(0)), p.argmax(axis=1) == t.astype(int)
    if p.ndim != 1 or t.shape != p.shape:
        raise ValueError(f"expected [n, k] probabilities and n codes, or n confidences and n flags; got {p.shape}, {t.shape}")
    return p, t.astype(bool)


def expected_calibration_error(probs: Any, y: Any, *, n_bins: int = ECE_BINS) -> float:
    """Top-label expected calibration error: sum over bins of ``|bin| / n * |accuracy - mean confidence|``.

    ``probs`` ``[n, k]`` with ``y`` the gold label codes (the top label is the prediction), or ``probs``
    the ``n`` top-label confidences with ``y`` their ``n`` correct/incorrect flags. Bins are equal-width
    on [0, 1]: bin ``b`` holds confidences in ``(b/n_bins, (b+1)/n_bins]`` (0 falls in the first).
    0.0 for no rows; 0.0 means "a score of 0.8 is right 80% of the time" held in every bin.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    conf, correct = _top_label(probs, y)
    n = len(conf)
    if not n:
        return 0.0
    conf = np.clip(conf, 0.0, 1.0)
    bins = np.searchsorted(np.linspace(0.0, 1.0, n_bins + 1)[1:-1], conf, side="left")  # (lo, hi] bins
    count = np.bincount(bins, minlength=n_bins)
    gap = np.bincount(bins, weights=correct.astype(float), minlength=n_bins) - np.bincount(
        bins, weights=conf, minlength=n_bins)  # per bin: (accuracy - confidence) * count
    return float(np.abs(gap[count > 0]).sum() / n)


def negative_log_likelihood(probs: Any, y: Any, *, eps: float = 1e-12) -> float:
    """Mean ``-log p[gold]`` over rows of ``[n, k]`` probabilities (``eps`` guards log 0); 0.0 for no rows."""
    p = np.asarray(probs, dtype=float)
    t = np.asarray(y, dtype=int)
    if p.ndim != 2 or t.shape != (p.shape[0],):
        raise ValueError(f"expected [n, k] probabilities and n gold codes, got {p.shape} and {t.shape}")
    if not len(t):
        return 0.0
    return float(-np.log(np.clip(p[np.arange(len(t)), t], eps, 1.0)).mean())


def confusion(y_true: Sequence[str], y_pred: Sequence[str], labels: LabelSet) -> np.ndarray:
    """Counts ``[true label, predicted label]`` in the label set's order."""
    from sklearn.metrics import confusion_matrix

    if not len(y_true):
        return np.zeros((len(labels), len(labels)), dtype=int)
    return confusion_matrix(y_true, y_pred, labels=labels.names)


def write_confusion_csv(path: str | os.PathLike, cm: np.ndarray, labels: LabelSet) -> None:
    """CSV with a header row of predicted labels and one row per true label."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["true\\predicted", *labels.names])
    for name, row in zip(labels.names, cm):
        writer.writerow([name, *[int(x) for x in row]])
    with atomic_write(path) as fh:
        fh.write(buf.getvalue())


def plot_confusion(path: str | os.PathLike, cm: np.ndarray, labels: LabelSet, title: str = "") -> None:
    """Row-normalised heat map with counts, label names on both axes (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(labels)
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=float), where=rows > 0)
    size = max(4.0, 0.6 * k + 2.0)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(norm, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(k), labels.names, rotation=45, ha="right")
    ax.set_yticks(range(k), labels.names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                ax.text(j, i, str(int(cm[i, j])), ha="center", va="center",
                        color="white" if norm[i, j] > 0.5 else "black", fontsize=8)
    fig.tight_layout()
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=100)
    plt.close(fig)


def write_eval_artifacts(
    out_dir: str | os.PathLike,
    y_true: Sequence[str],
    y_pred: Sequence[str],
    labels: LabelSet,
    *,
    langs: Sequence[str] | None = None,
    sources: Sequence[str] | None = None,
    extra: dict[str, Any] | None = None,
    title: str = "",
) -> dict[str, Any]:
    """Write ``metrics.json``, ``confusion_matrix.csv`` and ``confusion_matrix.png`` into ``out_dir``."""
    out_dir = Path(out_dir)
    metrics = classification_metrics(y_true, y_pred, labels, langs=langs, sources=sources)
    metrics.update(extra or {})
    cm = confusion(y_true, y_pred, labels)
    write_confusion_csv(out_dir / "confusion_matrix.csv", cm, labels)
    plot_confusion(out_dir / "confusion_matrix.png", cm, labels, title=title)
    write_json(out_dir / "metrics.json", metrics)
    return metrics
