"""The server's front door: an ASGI middleware that every request passes before FastAPI sees it.

In this order, each off unless configured (``configs/serve/default.yaml``, docs/inference.md):

1. **API key** (``api_key_file`` / ``--api-key-file`` / ``$MLNEWS_API_KEY``): every path except
   :data:`OPEN_PATHS` needs ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``; the key is compared
   in constant time (:func:`hmac.compare_digest`) with each configured key. Otherwise 401.
2. **Per-client concurrency** (``limits.max_concurrent_per_client``, 0 = off): requests in flight per
   client address; one more answers 429 with ``Retry-After: 1`` before its body is read.
3. **Body size** (``limits.max_body_bytes``, always on): the body is read from the ASGI ``receive``
   channel chunk by chunk, whatever the ``Content-Length`` or ``Transfer-Encoding: chunked``. A declared
   length over the limit answers 413 at once; a chunked body answers 413 as soon as the bytes received
   pass the limit. The rest is never buffered or parsed: the server (uvicorn) discards it as it
   arrives, so a client that is still sending gets the 413 instead of a reset connection.
4. **Lone surrogates**: a JSON body with a ``\\ud800``-style escape that has no partner is re-encoded
   with U+FFFD in its place (:func:`mlnews.io.loads_json`), so no handler, model or error message
   ever meets a string that UTF-8 cannot encode.

Errors have the app's shape: ``{"message": ..., "detail": ...}``.
"""

from __future__ import annotations

import hmac
import json
import os
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable, Mapping

from mlnews.errors import InputError

#: Paths answered without an API key (liveness and readiness probes).
OPEN_PATHS = frozenset({"/health", "/ready"})
#: Environment variable holding one API key (used when no key file is given).
API_KEY_ENV = "MLNEWS_API_KEY"
MIN_KEY_CHARS = 16

Scope = dict
Message = dict
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def load_api_keys(path: str | os.PathLike | None, env: Mapping[str, str] = os.environ) -> list[str]:
    """The accepted API keys: one per non-blank, non-``#`` line of ``path``; else ``$MLNEWS_API_KEY``; else none (auth off)."""
    if path is None:
        key = env.get(API_KEY_ENV, "").strip()
        if key and len(key) < MIN_KEY_CHARS:
            raise InputError(f"${API_KEY_ENV}: the key is {len(key)} characters; expected at least {MIN_KEY_CHARS}")
        return [key] if key else []
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InputError(f"{p}: cannot read the API key file ({reason}); expected a UTF-8 file with one key per line") from None
    keys = []
    for lineno, line in enumerate(lines, start=1):
        key = line.strip()
        if not key or key.startswith("#"):
            continue
        if len(key) < MIN_KEY_CHARS:
            raise InputError(f"{p}:{lineno}: the key is {len(key)} characters; expected at least {MIN_KEY_CHARS}")
        keys.append(key)
    if not keys:
        raise InputError(f"{p}: no API key in the file; expected one key per line (blank and # lines are ignored)")
    return keys


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return {k.lower(): v for k, v in scope.get("headers", [])}


async def _reply(send: Send, status: int, message: str, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"message": message, "detail": message}, ensure_ascii=False).encode("utf-8")
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    """ASGI middleware: API key, per-client concurrency, bounded body reading, surrogate-free JSON (see the module)."""

    def __init__(self, app: Any, *, max_body_bytes: int, api_keys: Iterable[str] = (),
                 max_concurrent_per_client: int = 0, open_paths: Iterable[str] = OPEN_PATHS) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.keys = [k.encode("utf-8") for k in api_keys]
        self.max_concurrent = max_concurrent_per_client
        self.open_paths = frozenset(open_paths)
        self.in_flight: dict[str, int] = {}  # one event loop: no lock needed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        guarded = scope.get("path", "") not in self.open_paths
        if guarded and self.keys and not self._authorised(scope):
            await _reply(send, 401, "missing or wrong API key; expected the header 'Authorization: Bearer KEY' "
                                    "or 'X-API-Key: KEY'", [(b"www-authenticate", b"Bearer")])
            return
        if not (guarded and self.max_concurrent):
            await self._bounded(scope, receive, send)
            return
        client = (scope.get("client") or ("?", 0))[0]
        n = self.in_flight.get(client, 0)
        if n >= self.max_concurrent:
            await _reply(send, 429, f"{n} requests of client {client} are in flight; the limit is "
                                    f"limits.max_concurrent_per_client={self.max_concurrent}", [(b"retry-after", b"1")])
            return
        self.in_flight[client] = n + 1
        try:
            await self._bounded(scope, receive, send)
        finally:
            left = self.in_flight[client] - 1
            if left:
                self.in_flight[client] = left
            else:
                del self.in_flight[client]

    def _authorised(self, scope: Scope) -> bool:
        headers = _headers(scope)
        given = headers.get(b"x-api-key", b"").strip()
        auth = headers.get(b"authorization", b"")
        if not given and auth[:7].lower() == b"bearer ":
            given = auth[7:].strip()
        ok = False
        for key in self.keys:  # every key is compared: the time does not depend on which one matched
            ok |= hmac.compare_digest(given, key)
        return ok and bool(given)

    async def _bounded(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.max_body_bytes
        headers = _headers(scope)
        declared = headers.get(b"content-length", b"").strip()
        if declared.isdigit() and int(declared) > limit:
            await _reply(send, 413, f"request body is {int(declared)} bytes; the limit is limits.max_body_bytes={limit}")
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # http.disconnect: the client has gone
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _reply(send, 413, f"request body is over {limit} bytes ({size} received when reading stopped); "
                                        f"the limit is limits.max_body_bytes={limit}")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if (b"\\ud" in body or b"\\uD" in body) and b"json" in headers.get(b"content-type", b""):
            body = _without_lone_surrogates(body)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect as usual

        await self.app(scope, replay, send)


def _without_lone_surrogates(body: bytes) -> bytes:
    """The JSON ``body`` re-encoded with U+FFFD for each lone surrogate escape; not JSON -> unchanged (422 later)."""
    from mlnews.io import loads_json

    try:
        return json.dumps(loads_json(body), ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return body
