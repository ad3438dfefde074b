#!/usr/bin/env python
"""Bounded load test of `mlnews serve` on 127.0.0.1: fixed request count, fixed concurrency, stops by itself.

Starts ``mlnews serve`` as a subprocess on a free local port, waits for ``/health``, then sends
``--requests`` POST /classify requests (each ``--texts`` headlines) from ``--concurrency`` async
workers (httpx). Meanwhile one more task polls ``GET /health`` every 100 ms: its latency shows whether
model calls block the event loop. Prints JSON: requests/s, headlines/s, latency p50/p95/p99/max,
error count (non-200 or transport errors), and /health latency under load. The server is always
terminated at the end.

    nice -n 10 python scripts/bench_serve.py --classifier /tmp/mlnews-bench-classify/onnx-int8 \
        --requests 300 --concurrency 8 --texts 8

Headlines come from ``$MLNEWS_SHARED/data/headlines_lenta.jsonl`` when present (else a few built-in ones).
Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

from mlnews.io import write_json

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MLNEWS_SHARED", REPO.parent / "shared"))
FALLBACK = ["Курс рубля упал на бирже", "Спартак обыграл Зенит", "Уряд ухвалив новий бюджет", "Учёные открыли новую планету"]


def headlines(limit: int = 5000) -> list[str]:
    path = SHARED / "data" / "headlines_lenta.jsonl"
    if not path.is_file():
        return FALLBACK
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            out.append(json.loads(line)["title"])
            if len(out) >= limit:
                break
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)) * 1000, 1) if values else float("nan")


async def load(url: str, texts: list[str], n_requests: int, concurrency: int, per_request: int) -> dict:
    latencies: list[float] = []
    health: list[float] = []
    statuses: dict[str, int] = {}
    next_id = 0
    done = asyncio.Event()

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal next_id
        while next_id < n_requests:
            i = next_id
            next_id += 1
            start = (i * per_request) % max(1, len(texts) - per_request)
            body = {"texts": texts[start : start + per_request], "top_k": 1}
            t0 = time.perf_counter()
            try:
                r = await client.post("/classify", json=body)
                key = str(r.status_code)
                if r.status_code == 200 and len(r.json()["predictions"]) != len(body["texts"]):
                    key = "200-wrong-count"
            except httpx.HTTPError as exc:
                key = type(exc).__name__
            latencies.append(time.perf_counter() - t0)
            statuses[key] = statuses.get(key, 0) + 1

    async def poll_health(client: httpx.AsyncClient) -> None:
        while not done.is_set():
            t0 = time.perf_counter()
            r = await client.get("/health")
            if r.status_code == 200:
                health.append(time.perf_counter() - t0)
            await asyncio.sleep(0.1)

    limits = httpx.Limits(max_connections=concurrency + 2)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        poller = asyncio.create_task(poll_health(client))
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        seconds = time.perf_counter() - t0
        done.set()
        await poller
    errors = sum(n for k, n in statuses.items() if k != "200")
    return {
        "requests": n_requests, "concurrency": concurrency, "texts_per_request": per_request,
        "seconds": round(seconds, 2), "requests_per_s": round(n_requests / seconds, 2),
        "headlines_per_s": round(n_requests * per_request / seconds, 1),
        "latency_ms": {"p50": pct(latencies, 50), "p95": pct(latencies, 95), "p99": pct(latencies, 99), "max": pct(latencies, 100)},
        "errors": errors, "statuses": statuses,
        "health_under_load_ms": {"n": len(health), "p50": pct(health, 50), "p95": pct(health, 95), "max": pct(health, 100)},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--classifier", required=True, help="model folder served by mlnews serve")
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--texts", type=int, default=8, help="headlines per request")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "mlnews", "serve", "--classifier", args.classifier, "--host", "127.0.0.1",
           "--port", str(port), "log_level=warning"]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        while True:
            if server.poll() is not None:
                raise SystemExit(f"server exited: {server.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("server did not answer /health within 300 s")
            time.sleep(0.5)
        info = httpx.get(f"{url}/health").json()
        res = asyncio.run(load(url, headlines(), args.requests, args.concurrency, args.texts))
        res["server"] = {"classifier": info["classifier"], "cpus": len(os.sched_getaffinity(0)), "loadavg_1m": os.getloadavg()[0]}
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    print(json.dumps(res, indent=2, ensure_ascii=False))
    if args.json:
        write_json(args.json, res)  # atomic


if __name__ == "__main__":
    main()
