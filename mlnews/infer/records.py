"""Output records of batch classification, shared by ``mlnews classify``, ``classify-dist`` and the server.

* :func:`prediction_record` turns one prediction into the output row (``id``, ``text``, ``label``,
  ``score``, ``top_k``); a best score below ``min_score`` gives ``label: null`` (still written);
* :func:`reason_kind` is the short category a malformed row is counted under in summaries;
* :func:`classify_stream` runs rows from :mod:`mlnews.ingest.inputs` through a classifier in
  length-sorted batches, counting every row (``rows_in == rows_out + skipped``).
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterable

from mlnews.errors import InputError
from mlnews.infer.stream import predict_in_order
from mlnews.ingest.inputs import BadRow, ReadStats, Row

MAX_LISTED = 50  # malformed rows listed one by one; the rest are counted in the summary


def output_fields(*, no_text: bool, top_k: bool) -> list[str]:
    """Columns of an output row (CSV header order)."""
    return ["id"] + ([] if no_text else ["text"]) + ["label", "score"] + (["top_k"] if top_k else [])


def prediction_record(row_id: str, text: str, pred: dict[str, Any], *, top_k: bool = False,
                      min_score: float | None = None, no_text: bool = False) -> dict[str, Any]:
    """One output row; ``label`` is None when the best score is below ``min_score``."""
    rec: dict[str, Any] = {"id": row_id}
    if not no_text:
        rec["text"] = text
    rec["label"] = None if min_score is not None and pred["score"] < min_score else pred["label"]
    rec["score"] = round(pred["score"], 6)
    if top_k:
        rec["top_k"] = [{"label": t["label"], "score": round(t["score"], 6)} for t in pred["top_k"]]
    return rec


def row_counts(stats: ReadStats) -> list[str]:
    """The head of a summary line: ``rows in N``, ``rows out N``, ``rows skipped N (reasons)``."""
    reasons = ", ".join(f"{n} {why}" for why, n in stats.skipped.most_common())
    return [f"rows in {stats.rows_in}", f"rows out {stats.rows_out}",
            f"rows skipped {stats.n_skipped}" + (f" ({reasons})" if reasons else "")]


def reason_kind(reason: str) -> str:
    """A short category for the summary line ("malformed JSON", "missing field 'text'", ...)."""
    return re.sub(r"(?<![\w-])\d+", "N", reason.split(" (")[0])


def classify_stream(
    clf: Any,
    items: Iterable[Row | BadRow],
    write: Callable[[dict], None],
    stats: ReadStats,
    *,
    batch_size: int = 32,
    top_k: int | None = None,
    min_score: float | None = None,
    no_text: bool = False,
    strict: bool = False,
    on_bad: Callable[[BadRow, int], None] | None = None,
    on_written: Callable[[int], None] | None = None,
) -> int:
    """Classify ``items`` and ``write`` one record per good row; returns the rows below ``min_score``.

    Malformed rows are counted in ``stats.skipped`` by :func:`reason_kind` and passed to ``on_bad``
    (with how many came before); ``strict`` raises :class:`InputError` at the first one instead.
    """
    def good_rows():
        n_bad = 0
        for item in items:
            stats.rows_in += 1
            if isinstance(item, BadRow):
                if strict:
                    raise InputError(f"{item} (--strict)")
                stats.skipped[reason_kind(item.reason)] += 1
                if on_bad is not None:
                    on_bad(item, n_bad)
                n_bad += 1
                continue
            yield item

    k = top_k or 1

    def predict(batch: list[Row]) -> list[dict]:
        return clf.predict([r.text for r in batch], top_k=k, leads=[r.lead for r in batch],
                           bodies=[r.body for r in batch])

    uncertain = 0
    for row, pred in predict_in_order(good_rows(), predict, batch_size=batch_size):
        rec = prediction_record(row.id, row.text, pred, top_k=bool(top_k), min_score=min_score, no_text=no_text)
        uncertain += rec["label"] is None
        write(rec)
        stats.rows_out += 1
        if on_written is not None:
            on_written(stats.rows_out)
    if stats.rows_in != stats.rows_out + stats.n_skipped:  # an invariant, not a user error
        raise RuntimeError(f"row accounting broken: in {stats.rows_in}, out {stats.rows_out}, skipped {stats.n_skipped}")
    return uncertain
