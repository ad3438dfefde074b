"""HTTP server: ``create_app(classifier_dir, summariser=..., limits=...)`` builds a FastAPI app.

Endpoints::

    POST /classify   {"texts": [...], "ids"?, "leads"?, "bodies"?, "top_k"?, "min_score"?}
                     -> {"predictions": [{"id", "text", "label", "score", "top_k"?}], "model": {...}, "seconds"}
                        (the records of ``mlnews classify``: :func:`mlnews.infer.records.prediction_record`)
    POST /summarise  {"text": "..."} or {"page": "..."}, "max_words"?  -> Summary.to_json()
                        (a page is parsed like ``mlnews summarise FILE``: the body only, never the sidebar)
    GET  /health     -> {"status": "ok", "version", "classifier": {...} | null, "summariser": method | null}
    GET  /ready      -> 200 {"ready": true} once the models are loaded, else 503
    GET  /labels     -> {"labels": [...]}
    GET  /metrics    Prometheus text format (prometheus-client)
    GET  /docs, /openapi.json   (OpenAPI, typed responses with examples)

Limits (``configs/serve/default.yaml``) -> 413 with a message naming the limit (a body, chunked or
not, is read no further than ``max_body_bytes``); API keys (401) and a per-client concurrency limit
(429), both off by default, are :mod:`mlnews.serve_guard`; malformed bodies ->
422 whose ``message`` names the field (``body.texts: Field required``). Model calls run in worker
threads behind a :class:`anyio.CapacityLimiter` (``model_threads``), so the event loop keeps
answering ``/health`` while a big batch is being classified.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mlnews.errors import ConfigError, MlnewsError


@dataclass
class ServeLimits:
    """Per-request limits; exceeding one answers 413."""

    max_texts: int = 256  # texts in one POST /classify
    max_chars: int = 5000  # characters in one text of POST /classify
    max_summarise_chars: int = 200_000  # characters in the text of POST /summarise
    max_body_bytes: int = 8_000_000  # bytes of any request body, chunked or not: read no further (mlnews.serve_guard)
    max_concurrent_per_client: int = 0  # requests in flight per client address -> 429 above; 0 = no limit

    def validate(self, prefix: str = "") -> None:
        for name in ("max_texts", "max_chars", "max_summarise_chars", "max_body_bytes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{prefix + '.' if prefix else ''}{name}: expected a positive integer")
        if self.max_concurrent_per_client < 0:
            raise ConfigError(f"{prefix + '.' if prefix else ''}max_concurrent_per_client: expected 0 (no limit) or more")


@dataclass
class ServeConfig:
    """``configs/serve/default.yaml``."""

    host: str = "127.0.0.1"
    port: int = 8000
    backend: str = "auto"  # classifier backend: auto (fastest the folder supports) | torch | onnx | tfidf | static
    model_threads: int = 1  # model calls running at once (each may use several cores itself)
    log_level: str = "info"
    api_key_file: Optional[str] = None  # one API key per line (else $MLNEWS_API_KEY; neither: no auth)
    limits: ServeLimits = field(default_factory=ServeLimits)

    def validate(self, prefix: str = "") -> None:
        from mlnews.infer.classifier import BACKENDS

        if self.backend not in BACKENDS:
            raise ConfigError(f"backend: {self.backend!r} is not allowed; expected {', '.join(BACKENDS)}")
        if not 0 < self.port < 65536:
            raise ConfigError(f"port: {self.port} is not a TCP port (1..65535)")
        if self.model_threads < 1:
            raise ConfigError("model_threads: expected a positive integer")


_EXAMPLE_TEXTS = ["Центробанк снизил ключевую ставку до 16%", "«Шахтар» переміг «Динамо» у дербі"]


class ClassifyRequest(BaseModel):
    """Body of POST /classify: the fields of ``mlnews classify`` input rows, one list per field."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"texts": _EXAMPLE_TEXTS, "ids": ["a1", "a2"], "top_k": 2},
        {"texts": ["Госдума приняла закон"], "leads": ["Закон вступит в силу в январе."], "min_score": 0.5},
    ]})
    texts: list[str] = Field(..., min_length=1, description="Headlines or titles to classify.")
    ids: Optional[list[str]] = Field(None, description="One id per text, copied to the records (default: the position, 0, 1, ...).")
    leads: Optional[list[str]] = Field(None, description="One lead per text, composed with it as at training (\"\" for none).")
    bodies: Optional[list[str]] = Field(None, description="One article body per text (\"\" for none).")
    top_k: Optional[int] = Field(None, ge=1, description="Also return the K best labels with scores (as `mlnews classify --top-k`).")
    min_score: Optional[float] = Field(
        None, ge=0.0, le=1.0, description="Records whose best score is below this get label null (as `--min-score`); scores are "
        "calibrated probabilities when the model folder has a calibration."
    )

    @field_validator("texts")
    @classmethod
    def _no_blank(cls, texts: list[str]) -> list[str]:
        for i, t in enumerate(texts):
            if not t.strip():
                raise ValueError(f"texts[{i}] is empty")
        return texts

    @model_validator(mode="after")
    def _one_per_text(self) -> "ClassifyRequest":
        for name in ("ids", "leads", "bodies"):
            values = getattr(self, name)
            if values is not None and len(values) != len(self.texts):
                raise ValueError(f"{name}: {len(values)} values for {len(self.texts)} texts; expected one per text")
        return self


class Scored(BaseModel):
    label: str
    score: float


class ClassifyRecord(BaseModel):
    """One record: the same fields and values as a line of ``mlnews classify`` output."""

    id: str
    text: str
    label: Optional[str] = Field(..., description="Best label; null when its score is below min_score.")
    score: float
    top_k: Optional[list[Scored]] = Field(None, description="Only with top_k in the request.")


class ModelInfo(BaseModel):
    dir: str
    kind: Optional[str]
    backend: str
    labels: int
    temperature: Optional[float] = Field(None, description="The calibration temperature applied to the scores "
                                         "(mlnews.json calibration); null = raw probabilities.")


class ClassifyResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "predictions": [
            {"id": "a1", "text": _EXAMPLE_TEXTS[0], "label": "economy", "score": 0.93,
             "top_k": [{"label": "economy", "score": 0.93}, {"label": "society", "score": 0.04}]},
            {"id": "a2", "text": _EXAMPLE_TEXTS[1], "label": "sports", "score": 0.97,
             "top_k": [{"label": "sports", "score": 0.97}, {"label": "society", "score": 0.01}]},
        ],
        "model": {"dir": "models/e5-small-onnx-int8", "kind": "onnx", "backend": "OnnxBackend", "labels": 7},
        "seconds": 0.012,
    }]})
    predictions: list[ClassifyRecord]
    model: ModelInfo
    seconds: float


class SummariseRequest(BaseModel):
    """Body of POST /summarise: ``text`` (an article body) or ``page`` (a page dump, as ``mlnews summarise`` reads a file)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"text": "Центробанк снизил ключевую ставку до 16%. Решение объяснили замедлением инфляции.", "max_words": 40},
        {"page": "Заголовок\nЛид статьи.\nТекст статьи.\nПоследние новости\n10:02Другая новость", "max_words": 40},
    ]})
    text: Optional[str] = Field(None, min_length=1, description="Article body (plain text, paragraphs separated by newlines).")
    page: Optional[str] = Field(
        None, min_length=1,
        description="A whole page: a text dump (title, lead, body, sidebar), HTML, or plain text with a title line; "
                    "parsed like `mlnews summarise FILE` and summarised from the body only.",
    )
    max_words: Optional[int] = Field(None, ge=1, description="Word budget for the summary.")

    @model_validator(mode="after")
    def _text_or_page(self) -> "SummariseRequest":
        if (self.text is None) == (self.page is None):
            raise ValueError("give exactly one of text (an article body) or page (a page dump or HTML)")
        return self


class SummaryResponse(BaseModel):
    """``Summary.to_json()``, as ``mlnews summarise --json`` prints it."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "summary": "Центробанк снизил ключевую ставку до 16%.", "method": "lead-3", "language": "ru",
        "seconds": 0.002, "sentences": ["Центробанк снизил ключевую ставку до 16%."], "indices": [0], "notes": [],
    }]})
    summary: str
    method: str
    language: str
    seconds: float
    sentences: list[str]
    indices: Optional[list[int]]
    notes: list[str]
    scores: Optional[list[float]] = Field(None, description="Trained extractive model: one score per article sentence.")


class HealthResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "status": "ok", "version": "0.1.0", "summariser": "lead-3",
        "classifier": {"dir": "models/e5-small-onnx-int8", "kind": "onnx", "backend": "OnnxBackend", "labels": 7},
    }]})
    status: str = Field(..., description="Always ok while the process answers (liveness); see /ready.")
    version: str
    classifier: Optional[ModelInfo] = Field(..., description="null while the models are loading.")
    summariser: Optional[str]


class ReadyResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"ready": True, "error": None}]})
    ready: bool = Field(..., description="true once every model is loaded (HTTP 200); else HTTP 503.")
    error: Optional[str] = Field(None, description="Why loading failed, if it did.")


class LabelsResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"labels": ["society", "economy", "sports"]}]})
    labels: list[str]


def create_app(
    classifier_dir: str | os.PathLike | Any,
    summariser: str | os.PathLike | Any | None = None,
    limits: ServeLimits | dict | None = None,
    *,
    backend: str = "auto",
    model_threads: int = 1,
    api_keys: list[str] | tuple[str, ...] = (),
    background_load: bool = False,
    on_load_error: Optional[Callable[[str], None]] = None,
):
    """Return the FastAPI app serving ``classifier_dir`` (and ``summariser``).

    ``classifier_dir`` is a model folder or an already loaded :class:`Classifier`; ``summariser`` is
    ``None`` (``/summarise`` answers 503), ``"lead"``/``"textrank"``/a trained model folder (extractive or seq2seq), or a loaded
    :class:`Summariser`. By default the models are loaded here (errors surface before serving). With
    ``background_load`` they load in a thread when the app starts: ``/health`` answers at once,
    ``/ready`` (and the model endpoints) answer 503 until loading is done; a loading error is kept
    for ``/ready`` and passed to ``on_load_error`` (``mlnews serve`` stops with it).
    """
    import threading
    from contextlib import asynccontextmanager

    import anyio
    from fastapi import FastAPI, HTTPException, Request
    from fastapi.encoders import jsonable_encoder
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, Response
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from mlnews import __version__
    from mlnews.infer.classifier import Classifier
    from mlnews.infer.records import prediction_record
    from mlnews.text import clean_line

    if isinstance(limits, dict):
        limits = ServeLimits(**limits)
    limits = limits or ServeLimits()
    limiter = anyio.CapacityLimiter(model_threads)
    loaded: dict[str, Any] = {"clf": None, "summ": None, "info": None, "error": None}

    def load_models() -> None:
        clf = classifier_dir if isinstance(classifier_dir, Classifier) else Classifier.load(classifier_dir, backend=backend)
        summ = None
        if summariser is not None:
            from mlnews.infer.summariser import Summariser

            summ = summariser if isinstance(summariser, Summariser) else Summariser.load(str(summariser))
        loaded["info"] = {
            "dir": str(getattr(clf, "model_dir", "") or ""),
            "kind": clf.manifest.get("kind") if isinstance(clf.manifest, dict) else getattr(clf.manifest, "kind", None),
            "backend": type(clf.backend).__name__,
            "engine": getattr(clf, "backend_name", type(clf.backend).__name__),  # e.g. "onnx int8 (the folder's export ...)"
            "labels": len(clf.labels),
            "temperature": clf.calibration.temperature if getattr(clf, "calibrated", False) else None,
        }
        loaded["summ"], loaded["clf"] = summ, clf  # the classifier last: it marks the app ready

    def load_in_background() -> None:
        try:
            load_models()
        except Exception as exc:  # noqa: BLE001 - kept for /ready and reported to the caller
            loaded["error"] = str(exc) if isinstance(exc, MlnewsError) else f"{type(exc).__name__}: {exc}"
            if on_load_error is not None:
                on_load_error(loaded["error"])

    @asynccontextmanager
    async def lifespan(app):
        if background_load:
            threading.Thread(target=load_in_background, name="mlnews-load-models", daemon=True).start()
        yield

    if not background_load:
        load_models()

    def models(endpoint: str) -> tuple[Any, Any]:
        if loaded["clf"] is None:
            why = f"loading failed: {loaded['error']}" if loaded["error"] else "the models are still loading; see GET /ready"
            raise HTTPException(503, f"{endpoint}: {why}")
        return loaded["clf"], loaded["summ"]

    app = FastAPI(
        title="mlnews",
        version=__version__,
        description="Topic classification and summarisation of Russian and Ukrainian news.",
        lifespan=lifespan,
    )

    from mlnews.serve_guard import RequestGuard

    # API key (when ``api_keys``), per-client concurrency, a body read no further than max_body_bytes
    app.add_middleware(RequestGuard, max_body_bytes=limits.max_body_bytes, api_keys=api_keys,
                       max_concurrent_per_client=limits.max_concurrent_per_client)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        errors = jsonable_encoder(exc.errors(), custom_encoder={Exception: str})
        message = "; ".join(".".join(str(p) for p in e.get("loc", ())) + f": {e.get('msg')}" for e in errors)
        return JSONResponse(status_code=422, content={"message": message, "detail": errors})

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        return JSONResponse(status_code=exc.status_code, content={"message": str(exc.detail), "detail": exc.detail})

    @app.exception_handler(MlnewsError)
    async def _user_error(request: Request, exc: MlnewsError):
        return JSONResponse(status_code=422, content={"message": str(exc), "detail": str(exc)})

    @app.get("/health", response_model=HealthResponse)
    def health() -> dict[str, Any]:
        """Liveness and what is loaded (``classifier`` is null while loading; see ``/ready``)."""
        summ = loaded["summ"]
        return {
            "status": "ok",
            "version": __version__,
            "classifier": loaded["info"],
            "summariser": getattr(summ, "method", None) if summ is not None else None,
        }

    @app.get("/ready", response_model=ReadyResponse, responses={503: {"model": ReadyResponse}})
    def ready():
        """Readiness: 200 ``{"ready": true}`` once every model is loaded, else 503 (with the error if loading failed)."""
        if loaded["clf"] is not None:
            return {"ready": True, "error": None}
        return JSONResponse(status_code=503, content={"ready": False, "error": loaded["error"]})

    @app.get("/labels", response_model=LabelsResponse)
    def labels() -> dict[str, list[str]]:
        """The classifier's label names, in model order."""
        clf, _ = models("labels")
        return {"labels": list(clf.labels.names)}

    @app.post("/classify", response_model=ClassifyResponse, response_model_exclude_unset=True)
    async def classify(req: ClassifyRequest) -> dict[str, Any]:
        """Classify a batch of texts: one record per text, in request order, the same as ``mlnews classify`` writes."""
        clf, _ = models("classify")
        if len(req.texts) > limits.max_texts:
            raise HTTPException(413, f"texts: {len(req.texts)} texts in one request; the limit is limits.max_texts={limits.max_texts}")
        for name, values, limit, key in (("texts", req.texts, limits.max_chars, "max_chars"),
                                         ("leads", req.leads, limits.max_chars, "max_chars"),
                                         ("bodies", req.bodies, limits.max_summarise_chars, "max_summarise_chars")):
            for i, t in enumerate(values or ()):
                if len(t) > limit:
                    raise HTTPException(413, f"{name}[{i}]: {len(t)} characters; the limit is limits.{key}={limit} per text")
        texts = [clean_line(t) for t in req.texts]  # as the CLI's readers clean every field
        leads = [clean_line(t) for t in req.leads] if req.leads is not None else None
        bodies = [clean_line(t) for t in req.bodies] if req.bodies is not None else None
        ids = req.ids if req.ids is not None else [str(i) for i in range(len(texts))]
        t0 = time.perf_counter()
        preds = await anyio.to_thread.run_sync(
            lambda: clf.predict(texts, top_k=req.top_k or 1, leads=leads, bodies=bodies), limiter=limiter
        )
        records = [prediction_record(i, t, p, top_k=req.top_k is not None, min_score=req.min_score)
                   for i, t, p in zip(ids, texts, preds)]
        app.state.texts_classified.inc(len(records))
        return {"predictions": records, "model": loaded["info"], "seconds": round(time.perf_counter() - t0, 6)}

    @app.post("/summarise", response_model=SummaryResponse)
    async def summarise(req: SummariseRequest) -> dict[str, Any]:
        """Summarise one article: ``text`` (a body) or ``page`` (parsed like ``mlnews summarise FILE``: body only)."""
        _, summ = models("summarise")
        if summ is None:
            raise HTTPException(503, "no summariser loaded; start the server with --summariser lead|textrank|MODEL_DIR")
        field, value = ("text", req.text) if req.text is not None else ("page", req.page)
        if len(value) > limits.max_summarise_chars:
            raise HTTPException(
                413, f"{field}: {len(value)} characters; the limit is limits.max_summarise_chars={limits.max_summarise_chars}"
            )
        from mlnews.ingest import parse_document_text  # a page dump or HTML, parsed like `mlnews summarise FILE`

        item = value if field == "text" else parse_document_text(value, "<page>")
        summary = await anyio.to_thread.run_sync(lambda: summ.summarise(item, max_words=req.max_words), limiter=limiter)
        app.state.articles_summarised.inc()
        return summary.to_json()

    _add_metrics(app, Response)
    return app


def _add_metrics(app: Any, Response: Any) -> None:
    """``GET /metrics`` (Prometheus text format) and the outermost middleware that feeds it.

    Each app has its own registry: requests by method, route and status, a latency histogram per
    route, responses with status >= 400 (an exception counts as 500), texts classified and articles
    summarised. Paths that match no route are counted as ``other``.
    """
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

    registry = CollectorRegistry()
    requests = Counter("mlnews_http_requests", "HTTP requests by method, route and status code.",
                       ["method", "path", "status"], registry=registry)
    latency = Histogram("mlnews_http_request_duration_seconds", "Time to answer a request, by route.",
                        ["method", "path"], registry=registry,
                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
    errors = Counter("mlnews_http_errors", "Responses with status >= 400 (unhandled exceptions as 500), by route.",
                     ["path", "status"], registry=registry)
    app.state.texts_classified = Counter("mlnews_texts_classified", "Texts classified by POST /classify.",
                                         registry=registry)
    app.state.articles_summarised = Counter("mlnews_articles_summarised", "Articles summarised by POST /summarise.",
                                            registry=registry)

    @app.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}},
                                                                 "description": "Prometheus text format."}})
    def metrics():
        """Prometheus metrics of this process (text exposition format)."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    routes = {getattr(r, "path", None) for r in app.routes}

    @app.middleware("http")
    async def _count(request, call_next):
        path = request.url.path if request.url.path in routes else "other"
        t0 = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            latency.labels(request.method, path).observe(time.perf_counter() - t0)
            requests.labels(request.method, path, str(status)).inc()
            if status >= 400:
                errors.labels(path, str(status)).inc()


def load_serve_config(path: str | os.PathLike | None, overrides: list[str] | tuple[str, ...] = ()) -> ServeConfig:
    """Read a serve config (``None``: ``configs/serve/default.yaml`` of the checkout if present, else defaults)."""
    from mlnews.config import apply_overrides, from_dict, load_config, project_root

    if path is None:
        default = project_root() / "configs" / "serve" / "default.yaml"
        if not default.is_file():
            return from_dict(ServeConfig, apply_overrides({}, list(overrides), ServeConfig))
        path = default
    return load_config(Path(path), ServeConfig, overrides)
