"""mlnews.serve_guard over a real uvicorn on 127.0.0.1: bounded body reading (chunked too), lone
surrogates, API keys and the per-client concurrency limit."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from infer_helpers import tiny_tfidf_dir  # noqa: E402
from mlnews.errors import ConfigError, InputError  # noqa: E402
from mlnews.serve import ServeLimits, create_app, load_serve_config  # noqa: E402
from mlnews.serve_guard import API_KEY_ENV, load_api_keys  # noqa: E402

KEY = "k3y-0123456789abcdef"
ARTICLE = "Центробанк снизил ключевую ставку. Решение объяснили \\ud800 инфляцией. Рубль почти не изменился."


@pytest.fixture(scope="module")
def tfidf(tmp_path_factory) -> Path:
    return tiny_tfidf_dir(tmp_path_factory.mktemp("m") / "tfidf")


@contextlib.contextmanager
def serving(app) -> Iterator[tuple[str, int]]:
    """``app`` under a real uvicorn in a thread, on a free loopback port; stopped (bounded) on exit."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start within 30 s"
    try:
        yield f"http://127.0.0.1:{port}", port
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def _chunked_upload(port: int, path: str, total: int, chunk: int = 65536) -> tuple[int, dict, int]:
    """POST ``total`` bytes chunked, stopping as soon as a response arrives; (status, body, bytes sent)."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=30)
    conn.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n".encode())
    payload = b'{"texts": ["' + b"a" * chunk
    sent, reply = 0, b""
    try:
        while sent < total:
            if select.select([conn], [], [], 0)[0]:
                break  # the server answered before the body was complete
            piece = payload if sent == 0 else b"a" * chunk
            conn.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            sent += len(piece)
        else:
            conn.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server closed the connection after its answer
    conn.settimeout(30)
    with contextlib.suppress(ConnectionResetError):
        while b"\r\n\r\n" not in reply or len(reply) < reply.index(b"\r\n\r\n") + 4 + _length(reply):
            data = conn.recv(65536)
            if not data:
                break
            reply += data
    conn.close()
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body[:_length(reply)]), sent


def _length(reply: bytes) -> int:
    for line in reply.split(b"\r\n\r\n")[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def test_chunked_body_over_the_limit_is_refused_without_reading_the_rest(tfidf: Path):
    app = create_app(tfidf, limits=ServeLimits(max_body_bytes=100_000))
    with serving(app) as (_, port):
        status, body, sent = _chunked_upload(port, "/classify", total=20_000_000)
    assert status == 413
    assert "the limit is limits.max_body_bytes=100000" in body["message"]
    assert sent < 10_000_000  # answered long before the 20 MB were sent (kernel buffers hold a few MB at most)


def test_declared_length_over_the_limit_and_a_chunked_body_within_it(tfidf: Path):
    app = create_app(tfidf, limits=ServeLimits(max_body_bytes=2000))
    with serving(app) as (url, port):
        r = httpx.post(url + "/classify", content=b"{" + b" " * 3000 + b"}", headers={"content-type": "application/json"})
        assert r.status_code == 413 and r.json()["message"] == "request body is 3002 bytes; the limit is limits.max_body_bytes=2000"
        small = httpx.post(url + "/classify", content=iter([b'{"texts": ', '["Курс рубля упал"]}'.encode()]),
                           headers={"content-type": "application/json"})  # an iterator is sent chunked
        assert small.status_code == 200 and small.json()["predictions"][0]["label"] == "economy"
        status, body, _ = _chunked_upload(port, "/classify", total=1_000_000, chunk=1000)
        assert status == 413


def test_lone_surrogate_escapes_are_replacement_characters(tfidf: Path):
    app = create_app(tfidf, summariser="lead")
    with serving(app) as (url, _):
        post = lambda path, raw: httpx.post(url + path, content=raw.encode(), headers={"content-type": "application/json"})  # noqa: E731
        r = post("/summarise", '{"text": "%s", "max_words": 40}' % ARTICLE)  # was a 500
        assert r.status_code == 200, r.text
        assert "\ufffd" in " ".join(r.json()["sentences"])
        r = post("/classify", '{"texts": ["Курс \\ud800 рубля упал"], "x\\udc80": "\\udfff"}')  # the 422 handler failed
        assert r.status_code == 422 and "x\ufffd" in r.json()["message"]
        r = post("/classify", '{"texts": ["Курс \\ud800 рубля упал"]}')
        assert r.status_code == 200 and r.json()["predictions"][0]["label"] == "economy"


def test_api_key_is_required_except_for_health(tfidf: Path):
    app = create_app(tfidf, api_keys=["another-key-0123456789", KEY])
    with serving(app) as (url, _):
        body = {"texts": ["Курс рубля упал"]}
        assert httpx.get(url + "/health").status_code == 200
        for headers in ({}, {"authorization": "Bearer wrong-key-0123456789"}, {"x-api-key": KEY[:-1]},
                        {"authorization": f"Basic {KEY}"}):
            r = httpx.post(url + "/classify", json=body, headers=headers)
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
            assert r.json()["message"].startswith("missing or wrong API key")
        assert httpx.get(url + "/labels").status_code == 401
        assert httpx.post(url + "/classify", json=body, headers={"authorization": f"Bearer {KEY}"}).status_code == 200
        assert httpx.post(url + "/classify", json=body, headers={"x-api-key": KEY}).status_code == 200


def test_no_key_configured_means_no_auth(tfidf: Path):
    with serving(create_app(tfidf)) as (url, _):
        assert httpx.post(url + "/classify", json={"texts": ["Курс рубля упал"]}).status_code == 200


def test_per_client_concurrency_limit(tfidf: Path):
    from mlnews.infer.classifier import Classifier

    clf = Classifier.load(tfidf)
    started, release = threading.Event(), threading.Event()
    predict = clf.predict
    clf.predict = lambda *a, **k: (started.set(), release.wait(30), predict(*a, **k))[2]  # held until released
    app = create_app(clf, limits=ServeLimits(max_concurrent_per_client=1), model_threads=2)
    with serving(app) as (url, _):
        body = {"texts": ["Курс рубля упал"]}
        first: dict = {}
        thread = threading.Thread(target=lambda: first.setdefault("r", httpx.post(url + "/classify", json=body, timeout=60)))
        thread.start()
        assert started.wait(30)  # the first request holds the client's only slot
        r = httpx.post(url + "/classify", json=body)
        assert r.status_code == 429 and r.headers["retry-after"] == "1"
        assert "the limit is limits.max_concurrent_per_client=1" in r.json()["message"]
        assert httpx.get(url + "/health").status_code == 200  # probes are never limited
        release.set()
        thread.join(60)
        assert first["r"].status_code == 200
        assert httpx.post(url + "/classify", json=body).status_code == 200  # the slot is free again


def test_load_api_keys(tmp_path: Path):
    keys = tmp_path / "keys.txt"
    keys.write_text(f"# rotated monthly\n{KEY}\n\n  second-key-0123456789  \n", encoding="utf-8")
    assert load_api_keys(keys) == [KEY, "second-key-0123456789"]
    assert load_api_keys(None, env={API_KEY_ENV: KEY}) == [KEY]
    assert load_api_keys(None, env={}) == []
    (tmp_path / "short.txt").write_text(f"{KEY}\nabc\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"short\.txt:2: the key is 3 characters; expected at least 16$"):
        load_api_keys(tmp_path / "short.txt")
    (tmp_path / "empty.txt").write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"empty\.txt: no API key in the file; expected one key per line"):
        load_api_keys(tmp_path / "empty.txt")
    with pytest.raises(InputError, match=r"missing\.txt: cannot read the API key file \(No such file or directory\)"):
        load_api_keys(tmp_path / "missing.txt")
    with pytest.raises(InputError, match=rf"\${API_KEY_ENV}: the key is 5 characters"):
        load_api_keys(None, env={API_KEY_ENV: "short"})


def test_config_keys(tmp_path: Path):
    cfg = load_serve_config(None, ["limits.max_concurrent_per_client=3", f"api_key_file={tmp_path / 'k'}"])
    assert cfg.limits.max_concurrent_per_client == 3 and cfg.api_key_file == str(tmp_path / "k")
    assert load_serve_config(None).limits.max_concurrent_per_client == 0 and load_serve_config(None).api_key_file is None
    with pytest.raises(ConfigError, match="max_concurrent_per_client: expected 0 .no limit. or more"):
        load_serve_config(None, ["limits.max_concurrent_per_client=-1"])


def test_cli_bad_api_key_file_is_one_line_before_serving(tfidf: Path, tmp_path: Path, capsys):
    from cli_runner import main

    with pytest.raises(SystemExit) as exc:
        main(["serve", "-c", str(tfidf), "--api-key-file", str(tmp_path / "missing.txt"), "--port", "1"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1
    assert err.startswith(f"mlnews: error: {tmp_path / 'missing.txt'}: cannot read the API key file")
