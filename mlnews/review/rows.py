"""The rows a review session shows: read from DATA, scored by the classifier, sorted by uncertainty.

DATA is a dataset folder (``mlnews data build``), a data config (built once into the cache) or any
input of :mod:`mlnews.ingest.inputs` (JSONL/CSV/TSV/Parquet/TXT/pages; fields ``id``, ``text``,
``lead``, ``body``, ``label``, ``label_origin``, ``lang``, ``source`` where present).

Uncertainty is the **margin** between the two highest probabilities of the model (small = unsure).
They are the scores ``Classifier.predict_proba`` gives: calibrated (temperature scaling fitted on the
validation split, ``mlnews.json`` ``calibration``) when the folder has a calibration, so a TF-IDF model's
margins and a transformer's are on comparable scales; a folder trained with ``train.calibrate: false``
(or before calibration existed) gives its raw probabilities.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from mlnews.data.reviews import ReviewRecord, text_hash
from mlnews.errors import InputError

SPLITS = ("train", "validation", "test")


@dataclass
class ReviewRow:
    idx: int
    id: str
    text: str
    lead: str = ""
    body: str = ""
    kind: str = "headline"
    lang: str = ""
    source: str = ""
    split: str = ""
    gold: Optional[str] = None  # the label the row has now (after reviews loaded or made)
    origin: Optional[str] = None
    pred: Optional[str] = None
    top_k: list[dict] = field(default_factory=list)
    margin: float = 1.0
    sha: str = ""
    reviewer: Optional[str] = None  # who reviewed it last (this file)

    def brief(self) -> dict[str, Any]:
        return {"idx": self.idx, "id": self.id, "text": self.text, "kind": self.kind, "lang": self.lang,
                "source": self.source, "split": self.split, "gold": self.gold, "origin": self.origin,
                "pred": self.pred, "top_k": self.top_k, "margin": round(self.margin, 6), "reviewer": self.reviewer}


def _dataset_rows(path: Path, splits: Sequence[str]) -> list[ReviewRow]:
    from mlnews.data import ensure_dataset, label_names, load_built

    built = load_built(ensure_dataset(path))
    rows: list[ReviewRow] = []
    for split in splits:
        ds = built.classification[split]
        labels = label_names(ds)
        for i, rec in enumerate(ds.remove_columns(["label"]).to_list()):
            rows.append(ReviewRow(len(rows), rec["id"], rec["text"], rec.get("lead") or "", rec.get("body") or "",
                                  rec.get("kind") or "headline", rec.get("lang") or "", rec.get("source") or "",
                                  split, labels[i], rec.get("label_origin")))
    return rows


def _input_rows(inputs: Sequence[str]) -> tuple[list[ReviewRow], list[str]]:
    from mlnews.ingest import detect_lang
    from mlnews.ingest.inputs import BadRow, Columns, ReadStats, iter_rows

    stats = ReadStats()
    rows: list[ReviewRow] = []
    bad: list[str] = []
    cols = Columns(text="text", id="id", lead="lead", body="body", label="label")
    for r in iter_rows(list(inputs), cols, stats):
        if isinstance(r, BadRow):
            bad.append(str(r))  # reported by the caller (mlnews review prints the count and the first)
            continue
        f = r.fields or {}
        kind = "article" if r.body else "headline"
        lang = str(f.get("lang") or "") or detect_lang(" ".join([r.text, r.lead, r.body[:500]]))
        source = str(f.get("source") or "") or r.where.rsplit(":", 1)[0]
        origin = f.get("label_origin") or ("gold" if r.label else None)
        rows.append(ReviewRow(len(rows), r.id, r.text, r.lead, r.body, kind, lang, source, "", r.label, origin))
    return rows, bad


def load_rows(data: str | os.PathLike | Sequence[str], splits: Sequence[str] = SPLITS) -> tuple[list[ReviewRow], list[str]]:
    """The rows of DATA (see the module docstring) and the input rows skipped as malformed (``FILE:LINE: why``)."""
    items = [str(data)] if isinstance(data, (str, os.PathLike)) else [str(d) for d in data]
    bad = [s for s in splits if s not in SPLITS]
    if bad:
        raise InputError(f"--split {bad[0]!r}: expected some of {', '.join(SPLITS)}")
    if len(items) == 1:
        from mlnews.data import is_dataset_dir

        p = Path(items[0])
        if is_dataset_dir(p) or (p.is_file() and p.suffix.lower() in (".yaml", ".yml")):
            rows = _dataset_rows(p, splits)
            if not rows:
                raise InputError(f"{p}: no classification rows in the split(s) {', '.join(splits)}")
            return rows, []
    rows, skipped = _input_rows(items)
    if not rows:
        first = f"; the first: {skipped[0]}" if skipped else ""
        raise InputError(f"{', '.join(items)}: no rows to review ({len(skipped)} malformed rows skipped{first})")
    return rows, skipped


def score_rows(rows: list[ReviewRow], classifier: Any, top_k: int = 3, batch: int = 512) -> None:
    """Predicted label, top-k labels with scores and the top-2 margin of every row (in place)."""
    names = list(classifier.labels.names)
    k = min(top_k, len(names))
    for start in range(0, len(rows), batch):
        part = rows[start:start + batch]
        probs = np.asarray(classifier.predict_proba([r.text for r in part], leads=[r.lead for r in part],
                                                    bodies=[r.body for r in part]))
        order = np.argsort(-probs, axis=1, kind="stable")
        for r, p, o in zip(part, probs, order):
            r.top_k = [{"label": names[j], "score": round(float(p[j]), 6)} for j in o[:k]]
            r.pred = names[o[0]]
            r.margin = float(p[o[0]] - p[o[1]]) if len(o) > 1 else 1.0
    for r in rows:
        r.sha = text_hash(r.text)


def apply_review(row: ReviewRow, rec: ReviewRecord) -> None:
    row.gold, row.origin, row.reviewer = rec.new_label, rec.origin, rec.reviewer


def apply_reviews(rows: list[ReviewRow], by_key: dict) -> int:
    """Show the decisions already in the review file (latest wins); returns how many rows they touch."""
    n = 0
    for r in rows:
        rec = by_key.get((r.id, r.sha))
        if rec is not None:
            apply_review(r, rec)
            n += 1
    return n
