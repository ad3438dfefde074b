"""The HTTP server: every endpoint and error through TestClient, and one real uvicorn process on 127.0.0.1."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from infer_helpers import LABELS, labelled_headlines, tiny_tfidf_dir  # noqa: E402
from serve_helpers import free_port, running_server  # noqa: E402
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
    assert health["classifier"] == {"dir": str(tfidf), "kind": "tfidf", "backend": "TfidfBackend", "labels": len(LABELS),
                                    "temperature": None}
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
    for body in ({"max_words": 3}, {"text": ARTICLE, "page": ARTICLE}):
        r = client.post("/summarise", json=body)
        assert r.status_code == 422 and "give exactly one of text (an article body) or page" in r.json()["message"]


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


def test_classify_records_are_the_cli_records(client: TestClient, tfidf: Path, tmp_path: Path, capsys):
    """ids, leads, bodies, top_k and min_score give the same records as `mlnews classify` on the same rows."""
    from cli_runner import main

    data = labelled_headlines()[:4]
    rows = [{"id": f"n{i}", "title": t, "lead": f"Лид {i}.", "body": "Текст  статьи\u00a0с пробелами."}
            for i, (t, _) in enumerate(data)]
    src = tmp_path / "rows.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        main(["classify", "-m", str(tfidf), str(src), "--text-field", "title", "--id-field", "id",
              "--lead-field", "lead", "--body-field", "body", "--top-k", "2", "--min-score", "0.4", "-q"])
    assert exc.value.code == 0
    cli = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    r = client.post("/classify", json={"texts": [x["title"] for x in rows], "ids": [x["id"] for x in rows],
                                       "leads": [x["lead"] for x in rows], "bodies": [x["body"] for x in rows],
                                       "top_k": 2, "min_score": 0.4})
    assert r.status_code == 200
    assert r.json()["predictions"] == cli
    assert any(rec["label"] is None for rec in cli) or all(rec["score"] >= 0.4 for rec in cli)
    plain = client.post("/classify", json={"texts": [data[0][0]]}).json()["predictions"]
    assert plain == [{"id": "0", "text": data[0][0], "label": data[0][1], "score": plain[0]["score"]}]  # no top_k unless asked


@pytest.mark.parametrize(
    "body, status, message",
    [
        ({"texts": ["a", "b"], "ids": ["x"]}, 422, "ids: 1 values for 2 texts; expected one per text"),
        ({"texts": ["a"], "leads": ["l", "m"]}, 422, "leads: 2 values for 1 texts"),
        ({"texts": ["a"], "min_score": 1.5}, 422, "body.min_score: Input should be less than or equal to 1"),
        ({"texts": ["a"], "leads": ["x" * 81]}, 413, "leads[0]: 81 characters; the limit is limits.max_chars=80"),
        ({"texts": ["a"], "bodies": ["x" * 1001]}, 413, "bodies[0]: 1001 characters; the limit is limits.max_summarise_chars=1000"),
    ],
)
def test_classify_optional_fields_are_checked(client: TestClient, body, status, message):
    r = client.post("/classify", json=body)
    assert r.status_code == status and message in r.json()["message"]


PAGE = (
    "Центробанк снизил ключевую ставку\n"
    "Регулятор объяснил решение замедлением инфляции.\n"
    + ARTICLE.replace(". ", ".\n") + "\n"
    "Последние новости\n"
    "10:02Спартак обыграл Зенит в матче\n"
    "09:55Госдума приняла закон о связи\n"
)


def test_summarise_a_page_uses_the_body_like_the_cli(client: TestClient, tmp_path: Path, capsys):
    from cli_runner import main

    r = client.post("/summarise", json={"page": PAGE, "max_words": 40})
    assert r.status_code == 200
    summary = r.json()["summary"]
    assert "10:02" not in summary and "Спартак" not in summary  # never the sidebar
    assert not summary.startswith("Центробанк снизил ключевую ставку\n") and "Регулятор объяснил" not in summary
    page = tmp_path / "page.txt"
    page.write_text(PAGE, encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        main(["summarise", str(page), "--model", "lead", "--max-words", "40", "--json"])
    assert exc.value.code == 0
    assert json.loads(capsys.readouterr().out)["summary"] == summary
    html = "<html><body><article><h1>Заголовок</h1>" + "".join(f"<p>{p}</p>" for p in ARTICLE.split(". ")) + "</article></body></html>"
    assert client.post("/summarise", json={"page": html}).status_code == 200


def test_openapi_has_typed_responses_with_examples(client: TestClient):
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    for path, method, model in (("/classify", "post", "ClassifyResponse"), ("/summarise", "post", "SummaryResponse"),
                                ("/health", "get", "HealthResponse"), ("/ready", "get", "ReadyResponse"),
                                ("/labels", "get", "LabelsResponse")):
        ref = spec["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/" + model)
        assert schemas[model].get("examples"), model
    assert schemas["ClassifyRequest"]["examples"] and schemas["SummariseRequest"]["examples"]
    assert {"texts", "ids", "leads", "bodies", "top_k", "min_score"} == set(schemas["ClassifyRequest"]["properties"])
    assert "text/plain" in spec["paths"]["/metrics"]["get"]["responses"]["200"]["content"]


def test_metrics_count_requests_texts_latency_and_errors(tfidf: Path):
    from prometheus_client.parser import text_string_to_metric_families

    http = TestClient(create_app(tfidf, summariser="lead", limits=ServeLimits(max_texts=4)))
    assert http.post("/classify", json={"texts": ["Госдума приняла закон", "Спартак обыграл Зенит"]}).status_code == 200
    assert http.post("/classify", json={"texts": ["a"] * 5}).status_code == 413
    assert http.post("/classify", json={}).status_code == 422
    assert http.get("/nope").status_code == 404
    r = http.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for fam in text_string_to_metric_families(r.text) for s in fam.samples}
    assert samples[("mlnews_http_requests_total", (("method", "POST"), ("path", "/classify"), ("status", "200")))] == 1
    assert samples[("mlnews_http_requests_total", (("method", "POST"), ("path", "/classify"), ("status", "413")))] == 1
    assert samples[("mlnews_http_errors_total", (("path", "/classify"), ("status", "422")))] == 1
    assert samples[("mlnews_http_errors_total", (("path", "other"), ("status", "404")))] == 1
    assert samples[("mlnews_texts_classified_total", ())] == 2
    assert samples[("mlnews_http_request_duration_seconds_count", (("method", "POST"), ("path", "/classify")))] == 3


def test_ready_only_once_the_models_are_loaded(tfidf: Path, monkeypatch):
    import threading

    from mlnews.infer.classifier import Classifier

    release = threading.Event()
    real_load = Classifier.load

    def slow_load(*args, **kwargs):
        release.wait(10)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(Classifier, "load", slow_load)
    errors: list[str] = []
    app = create_app(tfidf, summariser="lead", background_load=True, on_load_error=errors.append)
    with TestClient(app) as http:  # the lifespan starts the loading thread
        assert http.get("/health").json()["classifier"] is None
        r = http.get("/ready")
        assert r.status_code == 503 and r.json() == {"ready": False, "error": None}
        r = http.post("/classify", json={"texts": ["a"]})
        assert r.status_code == 503 and "still loading" in r.json()["message"]
        release.set()
        deadline = time.monotonic() + 20
        while http.get("/ready").status_code != 200:
            assert time.monotonic() < deadline, "models did not load"
            time.sleep(0.05)
        assert http.get("/ready").json() == {"ready": True, "error": None}
        assert http.post("/classify", json={"texts": ["Спартак обыграл Зенит"]}).status_code == 200
    assert errors == []
    with TestClient(create_app(tfidf.parent / "missing", background_load=True, on_load_error=errors.append)) as http:
        deadline = time.monotonic() + 20
        while not errors:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        r = http.get("/ready")
        assert r.status_code == 503 and r.json()["error"] == errors[0] and "missing" in errors[0]


@pytest.fixture
def live_server(tfidf: Path):
    port = free_port()
    with running_server(["serve", "--classifier", str(tfidf), "--summariser", "textrank",
                         "--host", "127.0.0.1", "--port", str(port), "log_level=warning"], port) as url:
        yield url


def test_real_uvicorn_process(live_server: str):
    with httpx.Client(base_url=live_server, timeout=30) as http:
        r = http.post("/classify", json={"texts": ["Госдума приняла закон", "Спартак обыграл Зенит в матче"]})
        assert r.status_code == 200
        assert [p["label"] for p in r.json()["predictions"]] == ["politics", "sports"]
        r = http.post("/summarise", json={"text": ARTICLE})
        assert r.status_code == 200 and r.json()["method"].startswith("textrank")
        assert http.post("/classify", json={"texts": ["a"] * 1000}).status_code == 413
        r = http.post("/classify", json={"texts": ["Госдума приняла закон"], "ids": ["k1"], "top_k": 2})
        assert r.status_code == 200 and r.json()["predictions"][0]["id"] == "k1" and len(r.json()["predictions"][0]["top_k"]) == 2
        r = http.post("/summarise", json={"page": PAGE})
        assert r.status_code == 200 and "10:02" not in r.json()["summary"]
        assert http.get("/ready").json() == {"ready": True, "error": None}
        metrics = http.get("/metrics").text
        assert 'mlnews_http_requests_total{method="POST",path="/classify",status="413"} 1.0' in metrics
        assert "mlnews_texts_classified_total 3.0" in metrics


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


def test_classify_serves_calibrated_scores_and_says_so(tfidf: Path, tmp_path: Path):
    """A folder with a calibration: /classify scores are the calibrated ones, model.temperature names T."""
    import shutil

    from mlnews.infer.classifier import Classifier

    folder = tmp_path / "calibrated"
    shutil.copytree(tfidf, folder)
    manifest = json.loads((folder / "mlnews.json").read_text(encoding="utf-8"))
    manifest["calibration"] = {"method": "temperature", "temperature": 0.5, "fitted_on": "validation", "rows": 18}
    (folder / "mlnews.json").write_text(json.dumps(manifest), encoding="utf-8")
    texts = ["Курс рубля упал", "Спартак обыграл Зенит"]
    with TestClient(create_app(folder, summariser=None)) as http:
        body = http.post("/classify", json={"texts": texts, "top_k": 2}).json()
    assert body["model"]["temperature"] == 0.5
    want = Classifier.load(folder).predict(texts, top_k=2)
    raw = Classifier.load(folder, calibrated=False).predict(texts)
    assert [r["score"] for r in body["predictions"]] == pytest.approx([p["score"] for p in want], abs=1e-4)
    assert [r["score"] for r in body["predictions"]] != pytest.approx([p["score"] for p in raw], abs=1e-3)
