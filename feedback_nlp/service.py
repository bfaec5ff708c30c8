"""HTTP service: tag feedback over JSON for tools that are not written in Python.

``create_app()`` builds a FastAPI application around one model, loaded once when the app is
created (so once per worker process). Endpoints:

- ``GET /health``: ``{"status": "ok", "model": <version>}``;
- ``GET /v1/model``: labels, thresholds, version and metrics from the model's ``meta.json``,
  plus the request limits;
- ``POST /v1/tag``: ``{"texts": [...], "by_sentence": false}`` ->
  ``{"model": <version>, "results": [...]}`` in input order.

Bad input never gives a 500: every refusal is a 4xx with a JSON body
``{"error": <code>, "detail": <what was wrong and what to do>}``. The body size is checked
before anything parses it (``Content-Length`` first, then the bytes as they arrive). When
``FEEDBACK_NLP_API_KEY`` is set, ``/v1/*`` needs ``Authorization: Bearer <key>``; ``/health``
and the OpenAPI schema stay open so that probes and client generators work.

Concurrency: tagging runs in FastAPI's thread pool. The model's lazily built state (the word
segmenter, the stacked theme weights, the sentence splitter) is built under a lock when the
app is created; afterwards tagging only reads the model, apart from the syllable feature
cache, which is a dict updated with single atomic operations.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import threading
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import Body, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr
from starlette.exceptions import HTTPException as StarletteHTTPException

from .batch import score_normalised, split_sentences
from .errors import FeedbackNLPError
from .model import FeedbackModel
from .normalise import normalise_text
from .persistence import load_model

API_KEY_ENV = "FEEDBACK_NLP_API_KEY"
MAX_TEXTS_ENV = "FEEDBACK_NLP_MAX_TEXTS"
MAX_BYTES_ENV = "FEEDBACK_NLP_MAX_BYTES"
MAX_CHARS_ENV = "FEEDBACK_NLP_MAX_CHARS"
MODEL_ENV = "FEEDBACK_NLP_MODEL"
DEFAULT_MAX_TEXTS = 1000
DEFAULT_MAX_BYTES = 1_000_000
DEFAULT_MAX_CHARS = 20_000
# A body over the limit is read and thrown away up to this many bytes, so that the client can
# finish sending and read the 413; beyond it the connection is answered and closed at once.
DRAIN_LIMIT = 16 * 1024 * 1024

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("feedback_nlp.service")


class ServiceConfigError(FeedbackNLPError):
    """The service was configured with an unusable limit or environment variable."""


# --------------------------------------------------------------------------- request/response models
EXAMPLE_TEXTS = [
    "Cán bộ phường hướng dẫn rất tận tình, nộp hồ sơ online chỉ mất 10 phút",
    "cb xã đòi 2 triệu mới ký",
    "Cổng dịch vụ công lỗi cả ngày, không nộp được hồ sơ",
]
EXAMPLE_RESULT = {
    "themes": ["harassment"],
    "theme_scores": {"harassment": 0.99, "delays": 0.12, "courtesy": 0.04, "digitalisation": 0.01},
    "sentiment": "negative",
    "sentiment_scores": {"negative": 0.97, "neutral": 0.02, "positive": 0.01},
}


class TagRequest(BaseModel):
    """Texts to tag. Unknown fields are refused so that a misspelt option is not silently ignored."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"texts": EXAMPLE_TEXTS, "by_sentence": False}]},
    )

    texts: list[StrictStr] = Field(
        ..., description="Texts to tag (Vietnamese, with or without diacritics). Empty texts come back with skipped='empty'.",
        examples=[EXAMPLE_TEXTS],
    )
    by_sentence: StrictBool = Field(
        False, description="Tag each sentence and combine (for news articles and long petitions); adds 'evidence'.",
    )


class TagResultModel(BaseModel):
    """Themes and sentiment of one text."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_RESULT]})

    themes: list[str] = Field(..., description="Themes whose score reaches the theme's threshold (zero or more).")
    theme_scores: dict[str, float] = Field(..., description="Probability of each theme.")
    sentiment: str = Field(..., description="negative, neutral or positive.")
    sentiment_scores: dict[str, float] = Field(..., description="Probability of each sentiment.")
    skipped: str | None = Field(None, description="Why the text was not tagged ('empty', 'no_words', ...); absent when tagged.")
    evidence: dict[str, str] | None = Field(
        None, description="With by_sentence: the sentence behind each predicted theme.",
    )


class TagResponse(BaseModel):
    """Results in input order."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"model": "0.1.0+corpus.c76d17d7", "results": [EXAMPLE_RESULT]}]})

    model: str = Field(..., description="Version of the model that tagged the texts.")
    results: list[TagResultModel]


class HealthResponse(BaseModel):
    status: str = Field(..., examples=["ok"])
    model: str = Field(..., examples=["0.1.0+corpus.c76d17d7"])


class ErrorResponse(BaseModel):
    """Every 4xx (and an unexpected 5xx) has this body."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"error": "too_many_texts", "detail": "1200 texts in one request; the limit is 1000. Split the texts into smaller requests."},
    ]})

    error: str = Field(..., description="A short machine-readable code, e.g. invalid_json, too_many_texts.")
    detail: str = Field(..., description="What was wrong and what to do.")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "The body is not valid JSON."},
    401: {"model": ErrorResponse, "description": "FEEDBACK_NLP_API_KEY is set and the Bearer token is missing or wrong."},
    413: {"model": ErrorResponse, "description": "Too many texts, a text too long, or a body too large."},
    415: {"model": ErrorResponse, "description": "The body is not sent as application/json."},
    422: {"model": ErrorResponse, "description": "The JSON does not have the expected fields and types."},
}

TAG_BODY_EXAMPLES = {
    "binh_luan": {
        "summary": "Bình luận của người dân / Citizen comments",
        "value": {"texts": EXAMPLE_TEXTS, "by_sentence": False},
    },
    "bai_bao": {
        "summary": "Bài báo dài, gắn nhãn từng câu / A news report, tagged sentence by sentence",
        "value": {
            "texts": ["UBND tỉnh vừa khai trương cổng dịch vụ công mới. Tuy nhiên nhiều người dân phản ánh "
                      "hồ sơ nộp trực tuyến vẫn bị trễ hẹn cả tháng."],
            "by_sentence": True,
        },
    },
}


# --------------------------------------------------------------------------- errors
class APIError(Exception):
    """A refusal with its HTTP status, short code and actionable message."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail


def _clean(text: Any, limit: int = 300) -> str:
    """A string safe to put in a UTF-8 JSON body (lone surrogates replaced), cut to ``limit``."""
    text = str(text)
    if len(text) > limit:
        text = text[:limit] + "…"
    return text.encode("utf-8", "replace").decode("utf-8")


def error_body(error: str, detail: str) -> bytes:
    return json.dumps({"error": error, "detail": _clean(detail, 2000)}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _error_response(status: int, error: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "detail": _clean(detail, 2000)}, status_code=status, headers=headers)


HTTP_ERROR_CODES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
                    413: "body_too_large", 415: "unsupported_media_type"}


def _describe_validation_errors(errors: Sequence[dict[str, Any]]) -> str:
    """One readable line per problem, e.g. ``texts[2]: Input should be a valid string``."""
    parts = []
    for err in list(errors)[:10]:
        loc = [p for p in err.get("loc", ()) if p != "body"]
        where = ""
        for p in loc:
            where += f"[{p}]" if isinstance(p, int) else (f".{_clean(p, 60)}" if where else _clean(p, 60))
        message = str(err.get("msg", "invalid value"))
        if err.get("type") == "extra_forbidden":
            message = "unknown field; the body takes only 'texts' and 'by_sentence'"
        elif err.get("type") == "string_unicode":
            message = "a field name or string is not valid Unicode (a lone surrogate escape such as \\ud800)"
        elif err.get("type") == "missing" and where == "texts":
            message = "required: a list of strings"
        parts.append(f"{where or 'body'}: {message}")
    if len(errors) > 10:
        parts.append(f"... and {len(errors) - 10} more problems")
    return "; ".join(parts) + ". Expected a JSON object like {\"texts\": [\"...\"], \"by_sentence\": false}."


# --------------------------------------------------------------------------- ASGI guard
class RequestGuard:
    """Outermost ASGI layer: checks the API key and the body size before any route runs.

    The body is buffered here (at most ``max_bytes``) and replayed to the application, so a
    body over the limit is refused without being parsed or kept in memory.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, api_key: str | None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.api_key = api_key.encode("utf-8") if api_key else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name.lower(): value for name, value in scope.get("headers", [])}
        if self.api_key is not None and scope.get("path", "").startswith("/v1/") and not self._authorised(headers):
            await self._respond(send, 401, "unauthorized",
                                f"This service needs 'Authorization: Bearer <key>' with the key in {API_KEY_ENV}.",
                                extra_headers=[(b"www-authenticate", b'Bearer realm="feedback-nlp"')])
            return
        if scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await self._respond(send, 400, "bad_request", "The Content-Length header is not a number.", close=True)
                return
            if int(declared) > self.max_bytes:
                drained = await self._drain(receive, int(declared))
                await self._too_large(send, int(declared), close=not drained)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                drained = message.get("more_body", False) is False or await self._drain(receive, None, size)
                await self._too_large(send, size, close=not drained, at_least=message.get("more_body", False))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _authorised(self, headers: dict[bytes, bytes]) -> bool:
        value = headers.get(b"authorization", b"")
        scheme, _, token = value.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.api_key or b"")

    async def _drain(self, receive: Receive, declared: int | None, already: int = 0) -> bool:
        """Read and discard the rest of a refused body (up to DRAIN_LIMIT); True when all was read."""
        if declared is not None and declared > DRAIN_LIMIT:
            return False
        seen = already
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return False
            seen += len(message.get("body", b""))
            if not message.get("more_body", False):
                return True
            if seen > DRAIN_LIMIT:
                return False

    async def _too_large(self, send: Send, size: int, close: bool, at_least: bool = False) -> None:
        amount = f"{'more than ' if at_least else ''}{size:,} bytes"
        await self._respond(send, 413, "body_too_large",
                            f"The request body has {amount}; the limit is {self.max_bytes:,} bytes. "
                            "Send the texts in several smaller requests.", close=close)

    @staticmethod
    async def _respond(send: Send, status: int, error: str, detail: str, close: bool = False,
                       extra_headers: list[tuple[bytes, bytes]] | None = None) -> None:
        body = error_body(error, detail)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if close:
            headers.append((b"connection", b"close"))
        headers.extend(extra_headers or [])
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


# --------------------------------------------------------------------------- tagging
def _result_dict(model: FeedbackModel, theme_row: np.ndarray, sentiment_row: np.ndarray) -> dict[str, Any]:
    theme_scores = {t: round(float(p), 4) for t, p in zip(model.theme_labels_, theme_row)}
    sentiment_scores = {s: round(float(p), 4) for s, p in zip(model.sentiment_labels_, sentiment_row)}
    return {
        "themes": [t for t, p in zip(model.theme_labels_, theme_row) if p >= model.thresholds_[t]],
        "theme_scores": theme_scores,
        "sentiment": model.sentiment_labels_[int(np.argmax(sentiment_row))] if model.sentiment_labels_ else "",
        "sentiment_scores": sentiment_scores,
    }


def _skipped_dict(model: FeedbackModel, text: Any, reason: str) -> dict[str, Any]:
    out = model.skipped_result(text, reason).to_dict()
    out.pop("text", None)
    return out


def tag_texts(model: FeedbackModel, texts: Sequence[str]) -> list[dict[str, Any]]:
    """Tag whole texts with the model's own ``tag_many`` (result dicts without the text)."""
    results = []
    for result in model.tag_many(texts):
        out = result.to_dict()
        out.pop("text", None)
        results.append(out)
    return results


def tag_texts_by_sentence(model: FeedbackModel, texts: Sequence[str]) -> list[dict[str, Any]]:
    """Tag each sentence of each text and combine as ``tag-file --by-sentence`` does: a theme's
    score is its best sentence's score, sentiment the mean over sentences weighted by their
    length in words; ``evidence`` names the sentence behind each predicted theme."""
    results: list[dict[str, Any] | None] = [None] * len(texts)
    per_text: list[tuple[int, list[str], list[str]]] = []
    distinct: dict[str, int] = {}
    for i, text in enumerate(texts):
        reason = model.check_text(text)
        if reason is not None:
            results[i] = _skipped_dict(model, text, reason)
            continue
        keys, sentences = [], []
        for sentence in split_sentences(text):
            key = normalise_text(sentence)
            if key and any(ch.isalpha() for ch in key):
                keys.append(key)
                sentences.append(sentence)
                distinct.setdefault(key, len(distinct))
        if not keys:
            results[i] = _skipped_dict(model, text, "no_words")
        else:
            per_text.append((i, keys, sentences))
    themes, sentiment = score_normalised(model, list(distinct))
    for i, keys, sentences in per_text:
        rows = [distinct[k] for k in keys]
        theme_block = themes[rows].astype(np.float64)
        weights = np.array([max(len(k.split()), 1) for k in keys], dtype=np.float64)
        sentiment_row = (sentiment[rows].astype(np.float64) * weights[:, None]).sum(axis=0) / weights.sum()
        out = _result_dict(model, theme_block.max(axis=0), sentiment_row)
        best = theme_block.argmax(axis=0)
        out["evidence"] = {t: _clean(sentences[best[model.theme_labels_.index(t)]].strip(), 1000) for t in out["themes"]}
        results[i] = out
    return results  # type: ignore[return-value]


_WARM_UP_LOCK = threading.Lock()


def _warm_up(model: FeedbackModel) -> None:
    """Build every lazily created piece of shared state once, before requests arrive."""
    model.tag_many(["Cán bộ phường hướng dẫn tận tình", "web lỗi hoài"])
    split_sentences("Khởi động. Xong.")


# --------------------------------------------------------------------------- app factory
def _positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ServiceConfigError(f"{name} must be a positive whole number, got {value!r}.")
    return value


def create_app(
    model_dir: str | os.PathLike[str] | None = None,
    max_texts: int = DEFAULT_MAX_TEXTS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_chars: int = DEFAULT_MAX_CHARS,
    *,
    api_key: str | None = None,
    model: FeedbackModel | None = None,
) -> FastAPI:
    """Build the service around one model, loaded now (once per process).

    ``api_key`` defaults to $FEEDBACK_NLP_API_KEY (an empty value means no key); ``model``
    may pass an already loaded model instead of ``model_dir``. Raises a
    :class:`~feedback_nlp.errors.FeedbackNLPError` when the model cannot be loaded or a limit
    is not a positive number.
    """
    max_texts = _positive("max_texts", max_texts)
    max_bytes = _positive("max_bytes", max_bytes)
    max_chars = _positive("max_chars", max_chars)
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV, "")
    if model is None:
        model = load_model(model_dir)
    with _WARM_UP_LOCK:
        _warm_up(model)
    meta: dict[str, Any] = dict(getattr(model, "meta_", None) or {})
    version = str(meta.get("version", "unknown"))
    limits = {"max_texts": max_texts, "max_bytes": max_bytes, "max_chars": max_chars}

    app = FastAPI(
        title="feedback-nlp",
        version=version,
        description=(
            "Gắn nhãn chủ đề (nhũng nhiễu, chậm trễ, thái độ phục vụ, chuyển đổi số) và sắc thái cho ý kiến "
            "phản ánh của người dân.\n\nTag Vietnamese civic feedback by theme (harassment, delays, courtesy, "
            f"digitalisation) and sentiment. Limits: {max_texts:,} texts, {max_bytes:,} bytes per request, "
            f"{max_chars:,} characters per text."
        ),
    )
    app.state.model = model
    app.state.limits = limits

    @app.exception_handler(APIError)
    async def _api_error(_request: Request, exc: APIError) -> JSONResponse:
        return _error_response(exc.status, exc.error, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        content_type = request.headers.get("content-type", "")
        if request.method == "POST" and "json" not in content_type.lower():
            return _error_response(415, "unsupported_media_type",
                                   f"Send the body as JSON with 'Content-Type: application/json' (got {content_type or 'no Content-Type'}).")
        decode = next((e for e in errors if e.get("type") == "json_invalid"), None)
        if decode is not None:
            reason = (decode.get("ctx") or {}).get("error", "decode error")
            position = decode.get("loc", ("body", "?"))[-1]
            return _error_response(400, "invalid_json", f"The body is not valid JSON: {reason} at character {position}.")
        return _error_response(422, "invalid_request", _describe_validation_errors(errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_ERROR_CODES.get(exc.status_code, "http_error")
        detail = str(exc.detail)
        if exc.status_code == 400 and request.method == "POST":
            code, detail = "invalid_json", "The body could not be parsed as JSON (too deeply nested or not UTF-8)."
        elif exc.status_code == 404:
            detail = f"No endpoint {request.url.path}. Endpoints: GET /health, GET /v1/model, POST /v1/tag, GET /openapi.json."
        elif exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}."
        return _error_response(exc.status_code, code, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error while serving a request")
        return _error_response(500, "internal_error", f"Unexpected {type(exc).__name__}; the server log has the details.")

    @app.get("/health", response_model=HealthResponse, summary="Liveness check / Kiểm tra dịch vụ")
    def health() -> dict[str, str]:
        """The service is up and which model it serves."""
        return {"status": "ok", "model": version}

    @app.get("/v1/model", summary="Model description / Thông tin mô hình", responses={401: ERROR_RESPONSES[401]})
    def model_info() -> dict[str, Any]:
        """Labels, thresholds, version and metrics from the model's meta.json, and the request limits."""
        return {
            "name": meta.get("name"),
            "version": version,
            "created": meta.get("created"),
            "labels": {"themes": list(model.labels.themes), "sentiments": list(model.labels.sentiments)},
            "thresholds": dict(model.thresholds_),
            "metrics": meta.get("metrics", {}),
            "limits": limits,
        }

    @app.post(
        "/v1/tag", response_model=TagResponse, response_model_exclude_none=True, responses=ERROR_RESPONSES,
        summary="Tag texts / Gắn nhãn văn bản",
    )
    def tag(body: TagRequest = Body(..., openapi_examples=TAG_BODY_EXAMPLES)) -> dict[str, Any]:
        """Themes and sentiment of each text, in input order.

        Runs in the thread pool (a ``def`` endpoint), so requests are tagged concurrently.
        """
        texts = body.texts
        if len(texts) > max_texts:
            raise APIError(413, "too_many_texts", f"{len(texts)} texts in one request; the limit is {max_texts}. "
                           "Split the texts into smaller requests.")
        too_long = [i for i, text in enumerate(texts) if len(text) > max_chars]
        if too_long:
            first = too_long[0]
            raise APIError(413, "text_too_long",
                           f"texts[{first}] has {len(texts[first]):,} characters; the limit is {max_chars:,} per text"
                           f"{f' ({len(too_long)} texts are over it)' if len(too_long) > 1 else ''}. "
                           "Split long documents, or send them with by_sentence after cutting them into parts.")
        tagger = tag_texts_by_sentence if body.by_sentence else tag_texts
        return {"model": version, "results": tagger(model, texts)}

    app.add_middleware(RequestGuard, max_bytes=max_bytes, api_key=key or None)
    return app


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw.replace("_", ""))
    except ValueError:
        raise ServiceConfigError(f"${name} must be a whole number, got {raw!r}.") from None


def limit_blas_threads() -> None:
    """Give this worker process one BLAS thread: the worker processes are the parallelism. With a
    neural model and numpy's default (a thread per core in every worker), two workers served 313
    comments/s against 491 for one; with one thread each, 1,136 (BENCHMARKS.md, section 4). A
    single server process keeps the default: there the BLAS threads are its only use of other cores."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def app_from_env() -> FastAPI:
    """App factory for ``uvicorn --factory feedback_nlp.service:app_from_env`` and worker
    processes: settings from $FEEDBACK_NLP_MODEL, $FEEDBACK_NLP_MAX_TEXTS,
    $FEEDBACK_NLP_MAX_BYTES, $FEEDBACK_NLP_MAX_CHARS and $FEEDBACK_NLP_API_KEY.
    Limits the process to one BLAS thread (``limit_blas_threads``)."""
    limit_blas_threads()
    model_dir = os.environ.get(MODEL_ENV) or None
    return create_app(
        Path(model_dir) if model_dir else None,
        max_texts=_env_int(MAX_TEXTS_ENV, DEFAULT_MAX_TEXTS),
        max_bytes=_env_int(MAX_BYTES_ENV, DEFAULT_MAX_BYTES),
        max_chars=_env_int(MAX_CHARS_ENV, DEFAULT_MAX_CHARS),
    )
