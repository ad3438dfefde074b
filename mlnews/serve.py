"""HTTP server: ``create_app(classifier_dir, summariser=..., limits=...)`` builds a FastAPI app.

Endpoints::

    POST /classify   {"texts": ["...", ...], "top_k": 1}  -> {"predictions": [{"label", "score", "top_k"}], "model": {...}}
    POST /summarise  {"text": "...", "max_words": 60}     -> Summary.to_json() ({"summary", "method", "language", ...})
    GET  /health     -> {"status": "ok", "version", "classifier": {...}, "summariser": method | null}
    GET  /labels     -> {"labels": [...]}
    GET  /docs, /openapi.json   (OpenAPI)

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
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

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
    backend: str = "auto"  # classifier backend: auto | torch | onnx | tfidf
    model_threads: int = 1  # model calls running at once (each may use several cores itself)
    log_level: str = "info"
    api_key_file: Optional[str] = None  # one API key per line (else $MLNEWS_API_KEY; neither: no auth)
    limits: ServeLimits = field(default_factory=ServeLimits)

    def validate(self, prefix: str = "") -> None:
        if self.backend not in ("auto", "torch", "onnx", "tfidf"):
            raise ConfigError(f"backend: {self.backend!r} is not allowed; expected auto, torch, onnx or tfidf")
        if not 0 < self.port < 65536:
            raise ConfigError(f"port: {self.port} is not a TCP port (1..65535)")
        if self.model_threads < 1:
            raise ConfigError("model_threads: expected a positive integer")


class ClassifyRequest(BaseModel):
    """Body of POST /classify."""

    model_config = ConfigDict(extra="forbid")
    texts: list[str] = Field(..., min_length=1, description="Headlines or titles to classify.")
    top_k: int = Field(1, ge=1, description="How many best labels to return per text.")

    @field_validator("texts")
    @classmethod
    def _no_blank(cls, texts: list[str]) -> list[str]:
        for i, t in enumerate(texts):
            if not t.strip():
                raise ValueError(f"texts[{i}] is empty")
        return texts


class Scored(BaseModel):
    label: str
    score: float


class Prediction(BaseModel):
    label: str
    score: float
    top_k: list[Scored]


class ClassifyResponse(BaseModel):
    predictions: list[Prediction]
    model: dict[str, Any]
    seconds: float


class SummariseRequest(BaseModel):
    """Body of POST /summarise."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(..., min_length=1, description="Article body (plain text, paragraphs separated by newlines).")
    max_words: Optional[int] = Field(None, ge=1, description="Word budget for the summary.")


def create_app(
    classifier_dir: str | os.PathLike | Any,
    summariser: str | os.PathLike | Any | None = None,
    limits: ServeLimits | dict | None = None,
    *,
    backend: str = "auto",
    model_threads: int = 1,
    api_keys: list[str] | tuple[str, ...] = (),
):
    """Load the models (errors surface here, before serving) and return the FastAPI app.

    ``classifier_dir`` is a model folder or an already loaded :class:`Classifier`; ``summariser`` is
    ``None`` (``/summarise`` answers 503), ``"lead"``/``"textrank"``/a seq2seq folder, or a loaded
    :class:`Summariser`.
    """
    import anyio
    from fastapi import FastAPI, HTTPException, Request
    from fastapi.encoders import jsonable_encoder
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from mlnews import __version__
    from mlnews.infer.classifier import Classifier

    if isinstance(limits, dict):
        limits = ServeLimits(**limits)
    limits = limits or ServeLimits()
    clf = classifier_dir if isinstance(classifier_dir, Classifier) else Classifier.load(classifier_dir, backend=backend)
    summ = None
    if summariser is not None:
        from mlnews.infer.summariser import Summariser

        summ = summariser if isinstance(summariser, Summariser) else Summariser.load(str(summariser))
    limiter = anyio.CapacityLimiter(model_threads)

    model_info = {
        "dir": str(getattr(clf, "model_dir", "") or ""),
        "kind": clf.manifest.get("kind"),
        "backend": type(clf.backend).__name__,
        "labels": len(clf.labels),
    }

    app = FastAPI(
        title="mlnews",
        version=__version__,
        description="Topic classification and summarisation of Russian and Ukrainian news.",
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

    @app.get("/health")
    def health() -> dict[str, Any]:
        """Liveness and what is loaded."""
        return {
            "status": "ok",
            "version": __version__,
            "classifier": model_info,
            "summariser": getattr(summ, "method", None) if summ is not None else None,
        }

    @app.get("/labels")
    def labels() -> dict[str, list[str]]:
        """The classifier's label names, in model order."""
        return {"labels": list(clf.labels.names)}

    @app.post("/classify", response_model=ClassifyResponse)
    async def classify(req: ClassifyRequest) -> dict[str, Any]:
        """Classify a batch of texts; one prediction per text, in request order."""
        if len(req.texts) > limits.max_texts:
            raise HTTPException(413, f"texts: {len(req.texts)} texts in one request; the limit is limits.max_texts={limits.max_texts}")
        for i, t in enumerate(req.texts):
            if len(t) > limits.max_chars:
                raise HTTPException(
                    413, f"texts[{i}]: {len(t)} characters; the limit is limits.max_chars={limits.max_chars} per text"
                )
        t0 = time.perf_counter()
        preds = await anyio.to_thread.run_sync(lambda: clf.predict(req.texts, top_k=req.top_k), limiter=limiter)
        return {"predictions": preds, "model": model_info, "seconds": round(time.perf_counter() - t0, 6)}

    @app.post("/summarise")
    async def summarise(req: SummariseRequest) -> dict[str, Any]:
        """Summarise one article text (``Summary.to_json()``)."""
        if summ is None:
            raise HTTPException(503, "no summariser loaded; start the server with --summariser lead|textrank|MODEL_DIR")
        if len(req.text) > limits.max_summarise_chars:
            raise HTTPException(
                413, f"text: {len(req.text)} characters; the limit is limits.max_summarise_chars={limits.max_summarise_chars}"
            )
        summary = await anyio.to_thread.run_sync(lambda: summ.summarise(req.text, max_words=req.max_words), limiter=limiter)
        return summary.to_json()

    return app


def load_serve_config(path: str | os.PathLike | None, overrides: list[str] | tuple[str, ...] = ()) -> ServeConfig:
    """Read a serve config (``None``: ``configs/serve/default.yaml`` of the checkout if present, else defaults)."""
    from mlnews.config import apply_overrides, from_dict, load_config, project_root

    if path is None:
        default = project_root() / "configs" / "serve" / "default.yaml"
        if not default.is_file():
            return from_dict(ServeConfig, apply_overrides({}, list(overrides), ServeConfig))
        path = default
    return load_config(Path(path), ServeConfig, overrides)
