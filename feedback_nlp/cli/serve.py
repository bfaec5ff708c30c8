"""``feedback-nlp serve``: the HTTP service (FastAPI + uvicorn) for tools not written in Python."""

from __future__ import annotations

import gc
import ipaddress
import os
import socket
from pathlib import Path

import typer

from ..errors import FeedbackNLPError
from .common import MODEL_HELP, fail

# The service's defaults (feedback_nlp.service.DEFAULT_MAX_*), repeated here so that the other
# commands do not import FastAPI at start-up; tests check that they agree.
DEFAULT_MAX_TEXTS = 1000
DEFAULT_MAX_BYTES = 1_000_000
DEFAULT_MAX_CHARS = 20_000
API_KEY_ENV = "FEEDBACK_NLP_API_KEY"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_port_free(host: str, port: int) -> None:
    """Fail with one clear line, before loading the model, when the address cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            hint = "pass another --port or stop the program using it" if exc.errno in (98, 48) else "check --host"
            fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}; {hint}.")


def serve_command(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on. The default accepts connections from this machine only; use 0.0.0.0 to serve the network (set FEEDBACK_NLP_API_KEY then)."),
    port: int = typer.Option(8000, "--port", "-p", help="TCP port to listen on."),
    model_dir: Path = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    workers: int = typer.Option(1, "--workers", "-w", help="Worker processes; each loads the model once (about 1 s and a few hundred MB each). Requests within a worker are served concurrently by threads."),
    max_texts: int = typer.Option(DEFAULT_MAX_TEXTS, "--max-texts", help="Most texts accepted in one request (more gives 413)."),
    max_bytes: int = typer.Option(DEFAULT_MAX_BYTES, "--max-bytes", help="Largest request body in bytes (larger gives 413 before the body is parsed)."),
    max_chars: int = typer.Option(DEFAULT_MAX_CHARS, "--max-chars", help="Longest text in characters (longer gives 413)."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level: critical, error, warning, info, debug."),
    access_log: bool = typer.Option(True, "--access-log/--no-access-log", help="Log one line per request."),
) -> None:
    """Serve tagging over HTTP: GET /health, GET /v1/model, POST /v1/tag; schema at /openapi.json, docs at /docs.

    POST /v1/tag takes {"texts": ["...", ...], "by_sentence": false} and returns
    {"model": version, "results": [{"themes", "theme_scores", "sentiment", "sentiment_scores"}, ...]}
    in input order. Bad input gets a 4xx with {"error": ..., "detail": ...}.

    When the environment variable FEEDBACK_NLP_API_KEY is set, /v1/* requests need the header
    'Authorization: Bearer <key>' (401 otherwise). Stop the server with Ctrl-C.
    """
    import uvicorn

    from ..service import MAX_BYTES_ENV, MAX_CHARS_ENV, MAX_TEXTS_ENV, MODEL_ENV, create_app

    if not 1 <= port <= 65535:
        fail(f"--port must be between 1 and 65535, got {port}.")
    for name, value in (("--workers", workers), ("--max-texts", max_texts), ("--max-bytes", max_bytes), ("--max-chars", max_chars)):
        if value < 1:
            fail(f"{name} must be at least 1, got {value}.")
    levels = ("critical", "error", "warning", "info", "debug", "trace")
    if log_level.lower() not in levels:
        fail(f"--log-level must be one of {', '.join(levels)}, got {log_level!r}.")
    if model_dir is not None and not model_dir.is_dir():
        fail(f"model directory {model_dir} does not exist; pass --model with a directory holding meta.json and model.skops.")
    if not _is_loopback(host) and not os.environ.get(API_KEY_ENV):
        typer.echo(f"warning: serving on {host} without {API_KEY_ENV}: anyone who can reach port {port} can use the service.", err=True)
    _check_port_free(host, port)
    options = dict(host=host, port=port, log_level=log_level.lower(), access_log=access_log, server_header=False)
    try:
        if workers == 1:
            app = create_app(model_dir, max_texts=max_texts, max_bytes=max_bytes, max_chars=max_chars)
            uvicorn.run(app, **options)
            return
        # Worker processes are spawned and build their own app (and model) from the environment.
        create_app(model_dir, max_texts=max_texts, max_bytes=max_bytes, max_chars=max_chars)  # fail here, not in N workers
        gc.collect()  # the check's model is not kept in the supervising process
        if model_dir is not None:
            os.environ[MODEL_ENV] = str(model_dir.resolve())
        os.environ.update({MAX_TEXTS_ENV: str(max_texts), MAX_BYTES_ENV: str(max_bytes), MAX_CHARS_ENV: str(max_chars)})
        uvicorn.run("feedback_nlp.service:app_from_env", factory=True, workers=workers, **options)
    except FeedbackNLPError as exc:
        fail(str(exc))
