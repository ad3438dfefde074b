"""Output records of batch classification, shared by ``mlnews classify``, ``classify-dist`` and the server.

* :func:`prediction_record` turns one prediction into the output row (``id``, ``text``, ``label``,
  ``score``, ``top_k``); a best score below ``min_score`` gives ``label: null`` (still written).
"""

from __future__ import annotations

from typing import Any


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
