"""Pseudo-labels (self-training): a fine-tuned classifier's confident predictions relabel weak training rows.

The predictions are ordinary ``mlnews classify`` outputs (JSONL or CSV rows ``{"id", "label", "score"}``),
so the data stage never loads a model: a classifier trained on an earlier build labels the inputs, and
the next build reads its files (``pseudo.files``). The flow (docs/datasets.md "Pseudo-labels")::

    mlnews train configs/classifier/e5-small.yaml --out runs/e5-small
    mlnews classify ../shared/data/articles_ukr_news_analyser.jsonl -m runs/e5-small --id-field id \\
        --text-field title --lead-field lead --body-field text -o runs/pseudo/uk-articles.jsonl
    mlnews classify ../shared/data/articles_ukr_news_analyser.jsonl -m runs/e5-small --id-field id \\
        --text-field title -o runs/pseudo/uk-titles.jsonl
    mlnews data build configs/data/default.yaml --out runs/data-pseudo pseudo.langs=[uk] pseudo.min_views=2 \\
        'pseudo.files=[runs/pseudo/uk-articles.jsonl, runs/pseudo/uk-titles.jsonl]'

Files may cover different rows (one file per corpus) and several *views* of the same rows (the article
opening and its title alone): a row is pseudo-labelled only where at least ``pseudo.min_views`` files
predict it, every one of them with the same label and a score of at least ``pseudo.threshold`` (scores
are calibrated probabilities when the model folder has a calibration). Rows with fewer predictions, or
whose views disagree, keep the label they had.

They are applied after the split, to training rows only (:meth:`mlnews.data.build._Decisions.apply_pseudo`):
validation and test rows, and every split assignment, are the same as in the build without them, so
models trained on both builds are compared on the very same rows, and a pseudo-label never enters
validation or test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

from mlnews.errors import InputError

@dataclass
class PseudoIndex:
    """``id -> (label, lowest score)`` of the rows that qualify (see the module docstring), plus what did not."""

    labels: dict[str, tuple[str, float]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    predictions: int = 0  # rows read over all files
    no_label: int = 0  # rows with "label": null (below classify's --min-score)
    below_threshold: int = 0  # ids whose lowest score is below the threshold (all files agreeing)
    disagree: int = 0  # ids whose files give different labels
    partial: int = 0  # ids predicted by fewer than min_views files
    matched: int = 0  # set by the build: ids that name a row of the build
    min_views: int = 1

    def match(self, row_id: str) -> Optional[tuple[str, float]]:
        hit = self.labels.get(row_id)
        if hit is not None:
            self.matched += 1
        return hit

    def stats(self) -> dict:
        return {"files": self.files, "predictions": self.predictions, "agreed": len(self.labels),
                "no_label": self.no_label, "below_threshold": self.below_threshold, "disagree": self.disagree,
                "partial": self.partial, "min_views": self.min_views, "ids_matched": self.matched}


def _read(path: Path, names: set[str]) -> dict[str, tuple[Optional[str], float]]:
    """``id -> (label or None, score)`` of one classify output; a malformed row is an InputError (FILE:LINE)."""
    from mlnews.ingest.inputs import BadRow, iter_records

    out: dict[str, tuple[Optional[str], float]] = {}
    expected = "expected an `mlnews classify` output row with id, label (a taxonomy label or null) and score in [0, 1]"
    for item in iter_records([str(path)]):
        if isinstance(item, BadRow):
            raise InputError(f"{item}; {expected}")
        where, rec = item
        rid, label, score = rec.get("id"), rec.get("label"), rec.get("score")
        if isinstance(score, str):  # CSV
            try:
                score = float(score)
            except ValueError:
                score = None
        if label == "":
            label = None
        if not isinstance(rid, (str, int)) or isinstance(rid, bool) or (label is not None and label not in names) \
                or not isinstance(score, (int, float)) or isinstance(score, bool) or not 0.0 <= score <= 1.0:
            got = {k: rec.get(k) for k in ("id", "label", "score")}
            raise InputError(f"{where}: {expected}; got {got}")
        if str(rid) in out:
            raise InputError(f"{where}: id {rid!r} is predicted twice in this file; expected one row per id")
        out[str(rid)] = (label, float(score))
    return out


def load_pseudo(files: Iterable[Path], labels: Iterable[str], threshold: float,
                min_views: int = 1) -> Optional[PseudoIndex]:
    """The :class:`PseudoIndex` of the prediction files (None without any)."""
    files = list(files)
    if not files:
        return None
    names = set(labels)
    views = [_read(p, names) for p in files]
    index = PseudoIndex(files=[str(p) for p in files], predictions=sum(len(v) for v in views), min_views=min_views)
    ids: dict[str, None] = {}
    for v in views:
        ids.update(dict.fromkeys(v))
    for rid in ids:
        got = [v[rid] for v in views if rid in v]
        if len(got) < min_views:
            index.partial += 1
            continue
        if any(lab is None for lab, _ in got):
            index.no_label += 1
            continue
        if len({lab for lab, _ in got}) > 1:
            index.disagree += 1
            continue
        score = min(s for _, s in got)
        if score < threshold:
            index.below_threshold += 1
            continue
        index.labels[rid] = (got[0][0], score)
    return index
