"""``mlnews serve``: the FastAPI app of :mod:`mlnews.serve` under uvicorn."""

from __future__ import annotations

from typing import Optional

import typer

from mlnews.cli.app import app


@app.command("serve")
def serve_cmd(
    classifier: str = typer.Option(..., "--classifier", "-c", help="Classifier model folder (transformer, onnx or tfidf)."),
    summariser: Optional[str] = typer.Option(
        None, "--summariser", "-s", help="lead, textrank (or lead-N/textrank-N) or a seq2seq model folder; without it /summarise answers 503."
    ),
    host: Optional[str] = typer.Option(None, "--host", help="Listen address (config default 127.0.0.1)."),
    port: Optional[int] = typer.Option(None, "--port", "-p", help="TCP port (config default 8000)."),
    config: Optional[str] = typer.Option(
        None, "--config", help="Serve config YAML (default: configs/serve/default.yaml of the checkout, else built-in defaults)."
    ),
    api_key_file: Optional[str] = typer.Option(
        None, "--api-key-file", help="File with one API key per line; requests then need 'Authorization: Bearer KEY' "
        "(/health and /ready stay open). Default: the config's api_key_file, else $MLNEWS_API_KEY, else no key needed."
    ),
    overrides: Optional[list[str]] = typer.Argument(None, metavar="[KEY=VALUE]...", help="Config overrides, e.g. limits.max_texts=64."),
) -> None:
    """Serve the classifier (and optionally a summariser) over HTTP: POST /classify, POST /summarise, GET /health, GET /ready, GET /labels, GET /metrics, OpenAPI docs at /docs.

    POST /classify gives the records of `mlnews classify` (ids, leads, bodies, top_k, min_score); POST /summarise takes {"text"} or a whole {"page"} (summarised from its body, never the sidebar). Models load after the port opens: /health answers at once, /ready is 200 once they are loaded. /metrics is in Prometheus text format.

    Request limits come from the config (413 when exceeded; a body is read no further than limits.max_body_bytes); malformed bodies get 422 naming the field.

    With --api-key-file (or $MLNEWS_API_KEY) every path but /health and /ready needs the key (401 without it); limits.max_concurrent_per_client=N answers 429 to a client with N requests in flight.

    Example:

        mlnews serve --classifier runs/e5-small-onnx-int8 --summariser textrank --port 8000

        MLNEWS_API_KEY=$(cat key.txt) mlnews serve -c runs/tfidf limits.max_concurrent_per_client=4

        curl -s localhost:8000/classify -H 'content-type: application/json' -d '{"texts": ["Курс рубля упал"], "ids": ["n1"], "top_k": 2}'

        curl -s localhost:8000/summarise -H 'content-type: application/json' --data-binary @<(jq -Rs '{page: .}' page.txt)
    """
    import sys

    import uvicorn

    from mlnews.serve import create_app, load_serve_config

    cfg = load_serve_config(config, overrides or [])
    if host is not None:
        cfg.host = host
    if port is not None:
        if not 0 < port < 65536:
            from mlnews.errors import InputError

            raise InputError(f"--port {port}: expected a TCP port 1..65535")
        cfg.port = port
    from pathlib import Path

    from mlnews.errors import InputError

    if not Path(classifier).exists():
        raise InputError(f"--classifier {classifier}: no such model folder")
    failed: list[str] = []

    def stop(error: str) -> None:  # a model that fails to load stops the server with a one-line error
        failed.append(error)
        server.should_exit = True

    from mlnews.serve_guard import load_api_keys

    api_keys = load_api_keys(api_key_file or cfg.api_key_file)
    if api_keys:
        print(f"mlnews serve: {len(api_keys)} API key(s); every path but /health and /ready needs one", file=sys.stderr)
    application = create_app(
        classifier, summariser=summariser, limits=cfg.limits, backend=cfg.backend, model_threads=cfg.model_threads, api_keys=api_keys,
        background_load=True, on_load_error=stop,
    )
    server = uvicorn.Server(uvicorn.Config(application, host=cfg.host, port=cfg.port, log_level=cfg.log_level))
    print(f"mlnews serve: http://{cfg.host}:{cfg.port} (docs at /docs; GET /ready is 200 once the models are loaded)",
          file=sys.stderr)
    server.run()
    if failed:
        raise InputError(failed[0])
