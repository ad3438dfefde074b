"""``create_review_app``: the review page and its JSON API (FastAPI, behind :mod:`mlnews.serve_guard`).

Endpoints::

    GET  /                    the page (mlnews/templates/review.html; assets from mlnews/resources)
    GET  /static/review.js, /static/review.css
    GET  /api/meta            labels, filter values, model, reviewer, review file, counts
    GET  /api/rows            ?lang=&source=&origin=&pred=&gold=&split=&offset=&limit= ->
                              {"total", "rows": [...]} sorted by margin (least sure first)
    GET  /api/rows/{idx}      one row with lead, body and, for articles, the summary sentences
                              ({"sentences", "indices", "method"}) to highlight in place
    GET  /api/confusion       the same filters less gold/pred -> {"labels" (predicted), "gold_labels",
                              "matrix": gold x pred, "no_gold": rows without a gold label, per prediction}
    POST /api/review          {"idx", "label"} -> the record appended to the review file
    GET  /api/reviews         the records of the review file (and torn lines counted)
    GET  /health, /ready      liveness; ready (the rows are scored before the app is made)

Every text reaches the page as JSON and is put in the DOM with ``textContent`` (never as HTML);
the page shell holds no data (only the version, HTML-escaped). With API keys, every ``/api/`` path
needs one (``Authorization: Bearer KEY`` or ``X-API-Key``; :mod:`mlnews.serve_guard`); the page and
its two assets stay open and the page sends the key it was given in its URL fragment (``#key=KEY``).
"""

from __future__ import annotations

import html
import os
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any, Optional, Sequence

from fastapi import Request  # at module level: FastAPI resolves the (postponed) annotations here
from pydantic import BaseModel, ConfigDict, Field

from mlnews.data.reviews import ReviewLog, ReviewRecord, now_utc, read_reviews, resolve_reviews
from mlnews.review.rows import SPLITS, ReviewRow, apply_review, apply_reviews, load_rows, score_rows

FILTERS = ("lang", "source", "origin", "pred", "gold", "split")
OPEN_PATHS = ("/", "/static/review.js", "/static/review.css", "/health", "/ready")
ASSETS = {"review.js": "application/javascript", "review.css": "text/css"}


class ReviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"idx": 3, "label": "economy"}]})
    idx: int = Field(..., ge=0, description="Row index (the `idx` of GET /api/rows).")
    label: str = Field(..., min_length=1, description="The label the row should have (one of the model's labels).")


def _asset(name: str, folder: str = "resources") -> str:
    return resources.files("mlnews").joinpath(folder, name).read_text(encoding="utf-8")


class ReviewSession:
    """The rows, the classifier, the summariser and the review file of one ``mlnews review``."""

    def __init__(self, model_dir: str | os.PathLike | Any, data: str | os.PathLike | Sequence[str], out: str | os.PathLike,
                 reviewer: str, summariser: str | Any | None = "lead", splits: Sequence[str] = SPLITS,
                 top_k: int = 3):
        from mlnews.infer.classifier import Classifier

        self.classifier = model_dir if isinstance(model_dir, Classifier) else Classifier.load(model_dir)
        self.model_name = str(getattr(self.classifier, "model_dir", "") or model_dir)
        self.labels = list(self.classifier.labels.names)
        self.rows, self.skipped = load_rows(data, splits)
        score_rows(self.rows, self.classifier, top_k=top_k)
        self.rows.sort(key=lambda r: (r.margin, r.idx))
        for i, r in enumerate(self.rows):
            r.idx = i
        self.summariser = self._summariser(summariser)
        self.log = ReviewLog(out)
        self.reviewer = reviewer
        existing = read_reviews(self.log.path) if self.log.path.is_file() else None
        self.torn = existing.torn if existing else 0
        self.preloaded = apply_reviews(self.rows, resolve_reviews([existing]).by_key) if existing else 0
        self._summaries: dict[int, dict] = {}

    @staticmethod
    def _summariser(summariser: Any) -> Any:
        if summariser is None or not isinstance(summariser, (str, os.PathLike)):
            return summariser
        from mlnews.infer.summariser import Summariser

        return Summariser.load(str(summariser))

    def filtered(self, params: dict[str, Optional[str]]) -> list[ReviewRow]:
        rows = self.rows
        for key in FILTERS:
            value = params.get(key)
            if value is None or value == "":
                continue
            if value == "-":  # rows with no value (e.g. no gold label)
                rows = [r for r in rows if not getattr(r, key)]
            else:
                rows = [r for r in rows if getattr(r, key) == value]
        return rows

    def summary(self, row: ReviewRow) -> Optional[dict]:
        if row.kind != "article" or not row.body.strip() or self.summariser is None:
            return None
        if row.idx not in self._summaries:
            from mlnews.ingest.sentences import split_sentences
            from mlnews.infer.summariser import MAX_SENTENCES

            s = self.summariser.summarise(row.body)
            sentences = split_sentences(row.body, max_sentences=MAX_SENTENCES)
            self._summaries[row.idx] = {"method": s.method, "indices": s.indices, "summary": s.text,
                                        "sentences": sentences if s.indices is not None else [row.body]}
        return self._summaries[row.idx]

    def review(self, idx: int, label: str) -> ReviewRecord:
        row = self.rows[idx]
        rec = ReviewRecord(id=row.id, text_sha256=row.sha, old_label=row.gold, new_label=label,
                           reviewer=self.reviewer, time=now_utc(), old_origin=row.origin, predicted=row.pred)
        self.log.append(rec)  # written (fsynced) before the page is told
        apply_review(row, rec)
        return rec


def create_review_app(session: ReviewSession, api_keys: Sequence[str] = (), max_body_bytes: int = 1_000_000):
    """The FastAPI app of a :class:`ReviewSession` (the API key of ``mlnews serve`` applies: serve_guard)."""
    from fastapi import FastAPI, HTTPException
    from fastapi.responses import HTMLResponse, JSONResponse, Response

    from mlnews import __version__
    from mlnews.serve_guard import RequestGuard

    app = FastAPI(title="mlnews review", version=__version__, description="Review and correct the labels of a dataset.")
    # the page shell and its assets hold no data and stay open (a browser cannot send a header to load them);
    # every /api/ path needs the key, which the page takes from its URL fragment (#key=...)
    app.add_middleware(RequestGuard, max_body_bytes=max_body_bytes, api_keys=list(api_keys), open_paths=OPEN_PATHS)

    from fastapi.exceptions import RequestValidationError

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        msg = "; ".join(".".join(str(p) for p in e.get("loc", ())) + f": {e.get('msg')}" for e in exc.errors())
        return JSONResponse(status_code=422, content={"message": msg})

    page = Template(_asset("review.html", "templates"))

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        """The review page."""
        return page.substitute(version=html.escape(__version__))

    @app.get("/health")
    @app.get("/ready")
    def ready() -> dict[str, Any]:
        return {"status": "ok", "ready": True, "rows": len(session.rows)}

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in ASSETS:
            raise HTTPException(404, f"{name}: no such asset")
        return Response(_asset(name), media_type=ASSETS[name])

    @app.get("/api/meta")
    def meta() -> dict[str, Any]:
        """Labels, the values each filter can take, the model, the reviewer and the review file."""
        values = {k: sorted({getattr(r, k) or "-" for r in session.rows}) for k in FILTERS}
        return {"labels": session.labels, "filters": values, "model": session.model_name, "reviewer": session.reviewer,
                "out": str(session.log.path), "rows": len(session.rows), "skipped_input_rows": len(session.skipped),
                "reviews_loaded": session.preloaded, "torn_lines": session.torn,
                "uncertainty": "margin of the top-2 model probabilities (" + (
                    f"calibrated, T = {session.classifier.calibration.temperature:.3f})"
                    if getattr(session.classifier, "calibrated", False) else "uncalibrated)")}

    def params_of(request: Request, drop: Sequence[str] = ()) -> dict[str, Optional[str]]:
        unknown = set(request.query_params) - set(FILTERS) - {"offset", "limit"}
        if unknown:
            raise HTTPException(422, f"unknown query parameter {sorted(unknown)[0]!r}; expected {', '.join(FILTERS)}, "
                                     "offset or limit")
        return {k: request.query_params.get(k) for k in FILTERS if k not in drop}

    @app.get("/api/rows")
    def rows(request: Request, offset: int = 0, limit: int = 100) -> dict[str, Any]:
        """Rows matching the filters, least sure first (margin of the top-2 probabilities)."""
        if offset < 0 or not 0 < limit <= 1000:
            raise HTTPException(422, "offset: expected >= 0; limit: expected 1..1000")
        found = session.filtered(params_of(request))
        return {"total": len(found), "offset": offset, "rows": [r.brief() for r in found[offset:offset + limit]]}

    def row_of(idx: int) -> ReviewRow:
        if not 0 <= idx < len(session.rows):
            raise HTTPException(404, f"row {idx}: no such row (0..{len(session.rows) - 1})")
        return session.rows[idx]

    @app.get("/api/rows/{idx}")
    def row(idx: int) -> dict[str, Any]:
        """One row with its lead, body and the summary sentences (articles)."""
        r = row_of(idx)
        return {**r.brief(), "lead": r.lead, "body": r.body, "summary": session.summary(r)}

    @app.get("/api/confusion")
    def confusion(request: Request) -> dict[str, Any]:
        """Gold x predicted counts of the filtered rows (gold and pred filters left out: the matrix sets them)."""
        found = session.filtered(params_of(request, drop=("gold", "pred")))
        index = {lab: i for i, lab in enumerate(session.labels)}
        # rows: the model's labels, then gold labels the model does not have (a taxonomy change)
        gold_labels = session.labels + sorted({r.gold for r in session.rows if r.gold and r.gold not in index})
        gold_index = {lab: i for i, lab in enumerate(gold_labels)}
        matrix = [[0] * len(session.labels) for _ in gold_labels]
        no_gold = [0] * len(session.labels)
        for r in found:
            p = index[r.pred]
            if r.gold:
                matrix[gold_index[r.gold]][p] += 1
            else:
                no_gold[p] += 1
        return {"labels": session.labels, "gold_labels": gold_labels, "matrix": matrix, "no_gold": no_gold}

    @app.post("/api/review")
    def review(req: ReviewRequest) -> dict[str, Any]:
        """Set (or accept) the label of one row: one record appended to the review file, then the row updated."""
        row_of(req.idx)
        if req.label not in session.labels:
            raise HTTPException(422, f"label: {req.label!r} is not a label of the model; expected one of "
                                     f"{', '.join(session.labels)}")
        rec = session.review(req.idx, req.label)
        return {"record": rec.__dict__, "row": session.rows[req.idx].brief()}

    @app.get("/api/reviews")
    def reviews() -> dict[str, Any]:
        """The records of the review file, in file order, and the torn lines it has."""
        if not Path(session.log.path).is_file():
            return {"records": [], "torn": 0}
        read = read_reviews(session.log.path)
        return {"records": [r.__dict__ for r in read.records], "torn": read.torn}

    return app
