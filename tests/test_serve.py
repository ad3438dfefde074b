"""The HTTP server: every endpoint and error through TestClient, and one real uvicorn process on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from infer_helpers import LABELS, labelled_headlines, tiny_tfidf_dir  # noqa: E402
from mlnews.errors import ConfigError  # noqa: E402
from mlnews.serve import ServeConfig, ServeLimits, create_app, load_serve_config  # noqa: E402

ARTICLE = (
    "Центробанк снизил ключевую ставку до шестнадцати процентов. Решение объяснили замедлением инфляции. "
    "Аналитики ожидали такого шага ещё в прошлом месяце. Рубль после решения почти не изменился."
)


@pytest.fixture(scope="module")
def tfidf(tmp_path_factory) -> Path:
    return tiny_tfidf_dir(tmp_path_factory.mktemp("m") / "tfidf")


@pytest.fixture(scope="module")
def client(tfidf: Path) -> TestClient:
    app = create_app(tfidf, summariser="lead", limits=ServeLimits(max_texts=4, max_chars=80, max_summarise_chars=1000))
    return TestClient(app)


def test_health_labels_and_openapi(client: TestClient, tfidf: Path):
    health = client.get("/health").json()
    assert health["status"] == "ok"
    assert health["classifier"] == {"dir": str(tfidf), "kind": "tfidf", "backend": "TfidfBackend", "labels": len(LABELS)}
    assert health["summariser"] == "lead-3"
    assert sorted(client.get("/labels").json()["labels"]) == sorted(LABELS)
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/classify", "/summarise", "/health", "/labels"} <= set(paths)
    assert client.get("/docs").status_code == 200


def test_classify_batch(client: TestClient):
    data = labelled_headlines()[:4]
    r = client.post("/classify", json={"texts": [t for t, _ in data], "top_k": 2})
    assert r.status_code == 200
    preds = r.json()["predictions"]
    assert [p["label"] for p in preds] == [lab for _, lab in data]
    assert all(len(p["top_k"]) == 2 and p["top_k"][0]["label"] == p["label"] and 0 < p["score"] <= 1 for p in preds)


@pytest.mark.parametrize(
    "body, status, message",
    [
        ({"texts": ["a"] * 5}, 413, "texts: 5 texts in one request; the limit is limits.max_texts=4"),
        ({"texts": ["ok", "x" * 81]}, 413, "texts[1]: 81 characters; the limit is limits.max_chars=80 per text"),
        ({}, 422, "body.texts: Field required"),
        ({"texts": []}, 422, "body.texts: List should have at least 1 item"),
        ({"texts": ["fine", "  "]}, 422, "texts[1] is empty"),
        ({"texts": "one string"}, 422, "body.texts: Input should be a valid list"),
        ({"texts": ["a"], "top_k": 0}, 422, "body.top_k: Input should be greater than or equal to 1"),
        ({"texts": ["a"], "topk": 3}, 422, "body.topk: Extra inputs are not permitted"),
    ],
)
def test_classify_errors_name_the_field_or_limit(client: TestClient, body, status, message):
    r = client.post("/classify", json=body)
    assert r.status_code == status
    assert message in r.json()["message"]


def test_malformed_json_and_oversized_body(client: TestClient, tfidf: Path):
    r = client.post("/classify", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "JSON decode error" in r.json()["message"]
    small = TestClient(create_app(tfidf, limits=ServeLimits(max_body_bytes=100)))
    r = small.post("/classify", json={"texts": ["x" * 200]})
    assert r.status_code == 413 and "limits.max_body_bytes=100" in r.json()["message"]


def test_summarise(client: TestClient):
    r = client.post("/summarise", json={"text": ARTICLE, "max_words": 12})
    assert r.status_code == 200
    body = r.json()
    assert body["method"] == "lead-3" and body["language"] == "ru"
    assert body["summary"].startswith("Центробанк снизил ключевую ставку")
    assert len(body["summary"].split()) <= 12
    assert client.post("/summarise", json={"text": "x" * 1001}).status_code == 413
    r = client.post("/summarise", json={"text": " \n "})
    assert r.status_code == 422 and "no text to summarise" in r.json()["message"]
    assert client.post("/summarise", json={"max_words": 3}).json()["message"] == "body.text: Field required"


def test_summarise_without_a_summariser_is_503(tfidf: Path):
    r = TestClient(create_app(tfidf)).post("/summarise", json={"text": ARTICLE})
    assert r.status_code == 503 and "--summariser" in r.json()["message"]


def test_serve_config(tmp_path: Path, repo: Path):
    cfg = load_serve_config(repo / "configs" / "serve" / "default.yaml", ["limits.max_texts=8", "port=9001"])
    assert isinstance(cfg, ServeConfig) and cfg.limits.max_texts == 8 and cfg.port == 9001 and cfg.host == "127.0.0.1"
    bad = tmp_path / "bad.yaml"
    bad.write_text("limits:\n  max_text: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"limits\.max_text: unknown key"):
        load_serve_config(bad)
    with pytest.raises(ConfigError, match="backend"):
        load_serve_config(repo / "configs" / "serve" / "default.yaml", ["backend=gpu"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_server(tfidf: Path):
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlnews", "serve", "--classifier", str(tfidf), "--summariser", "textrank",
         "--host", "127.0.0.1", "--port", str(port), "log_level=warning"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"server exited with {proc.returncode}: {proc.stdout.read().decode()[-2000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("server did not answer /health within 60 s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_real_uvicorn_process(live_server: str):
    with httpx.Client(base_url=live_server, timeout=30) as http:
        r = http.post("/classify", json={"texts": ["Госдума приняла закон", "Спартак обыграл Зенит в матче"]})
        assert r.status_code == 200
        assert [p["label"] for p in r.json()["predictions"]] == ["politics", "sports"]
        r = http.post("/summarise", json={"text": ARTICLE})
        assert r.status_code == 200 and r.json()["method"].startswith("textrank")
        assert http.post("/classify", json={"texts": ["a"] * 1000}).status_code == 413


def test_model_calls_do_not_block_the_event_loop(tfidf: Path):
    """While a /classify call is stuck inside the model, /health still answers."""
    import asyncio
    import threading

    import numpy as np

    from mlnews.infer.classifier import Classifier

    started, release = threading.Event(), threading.Event()

    class BlockingBackend:
        def predict_proba(self, texts: list[str]) -> np.ndarray:
            started.set()
            release.wait(10)
            return np.full((len(texts), len(LABELS)), 1.0 / len(LABELS), dtype=np.float32)

    manifest = {"format": 1, "task": "classification", "kind": "tfidf", "labels": LABELS, "input": {}}
    app = create_app(Classifier(BlockingBackend(), manifest, tfidf))

    async def scenario() -> tuple[int, int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            slow = asyncio.create_task(http.post("/classify", json={"texts": ["a"]}))
            while not started.is_set():
                await asyncio.sleep(0.01)
            health = await asyncio.wait_for(http.get("/health"), timeout=5)
            assert not slow.done()  # the model call is still running
            release.set()
            return health.status_code, (await slow).status_code

    try:
        assert asyncio.run(scenario()) == (200, 200)
    finally:
        release.set()
