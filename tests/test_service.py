"""The HTTP service, tested against the real server (``python -m feedback_nlp serve``) on loopback."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import PYTHON, ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from feedback_nlp.batch import split_sentences
from feedback_nlp.cli import app

META = json.loads((ROOT / "models" / "default" / "meta.json").read_text(encoding="utf-8"))
API_KEY = "khoa-bi-mat-123"
TEXTS = [
    "Cán bộ phường hướng dẫn rất tận tình, nộp hồ sơ online chỉ mất 10 phút",
    "cb xã đòi 2 triệu mới ký",
    "",
    "Cổng dịch vụ công lỗi cả ngày, không nộp được hồ sơ",
    "Đường vào thôn lầy lội quá",
    "   ",
    "Chờ cả buổi sáng mà vẫn chưa đến lượt",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """A ``feedback-nlp serve`` subprocess on a free loopback port."""

    def __init__(self, tmp: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.log = tmp / f"serve-{self.port}.log"
        full_env = {**os.environ, "PYTHONIOENCODING": "utf-8", **(env or {})}
        full_env.pop("FEEDBACK_NLP_MODEL", None)
        if env is None or "FEEDBACK_NLP_API_KEY" not in env:
            full_env.pop("FEEDBACK_NLP_API_KEY", None)
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [PYTHON, "-m", "feedback_nlp", "serve", "--port", str(self.port), "--no-access-log", *args],
                cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 90
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                if self.request("GET", "/health")[0] == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server did not answer /health within 90 s:\n{self.log.read_text()}")
            time.sleep(0.2)

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                raw: bytes | None = None, chunks: list[bytes] | None = None) -> tuple[int, dict[str, str], Any]:
        """One request on a fresh connection; returns status, headers and the decoded JSON body."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            sent_headers = dict(headers or {})
            if body is not None:
                raw = json.dumps(body).encode("utf-8")
                sent_headers.setdefault("Content-Type", "application/json")
            if chunks is not None:
                connection.request(method, path, body=iter(chunks), headers=sent_headers, encode_chunked=True)
            else:
                connection.request(method, path, body=raw, headers=sent_headers)
            response = connection.getresponse()
            data = response.read()
            content_type = response.getheader("content-type", "")
            decoded = json.loads(data) if "json" in content_type else data
            return response.status, {k.lower(): v for k, v in response.getheaders()}, decoded
        finally:
            connection.close()

    def tag(self, texts: list[str], by_sentence: bool = False, headers: dict[str, str] | None = None) -> Any:
        status, _, payload = self.request("POST", "/v1/tag", {"texts": texts, "by_sentence": by_sentence}, headers)
        assert status == 200, payload
        return payload

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = Server(tmp_path_factory.mktemp("serve"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory):
    """With an API key, and two worker processes (each builds its own app from the environment)."""
    running = Server(tmp_path_factory.mktemp("serve_key"), "--workers", "2", env={"FEEDBACK_NLP_API_KEY": API_KEY})
    yield running
    running.stop()


def without_text(result: Any) -> dict[str, Any]:
    out = result.to_dict()
    out.pop("text")
    return out


# --------------------------------------------------------------------------- endpoints
def test_health(server):
    status, _, payload = server.request("GET", "/health")
    assert status == 200 and payload == {"status": "ok", "model": META["version"]}


def test_model_description(server):
    status, _, payload = server.request("GET", "/v1/model")
    assert status == 200
    assert payload["version"] == META["version"]
    assert payload["labels"] == META["labels"]
    assert payload["thresholds"] == META["thresholds"]
    assert payload["metrics"] == META["metrics"]
    assert payload["limits"] == {"max_texts": 1000, "max_bytes": 1_000_000, "max_chars": 20_000}


def test_tag_gives_the_library_results_in_order(server, default_model):
    payload = server.tag(TEXTS)
    assert payload["model"] == META["version"]
    expected = [without_text(r) for r in default_model.tag_many(TEXTS)]
    assert payload["results"] == expected
    assert payload["results"][1]["themes"] == ["harassment"] and payload["results"][1]["sentiment"] == "negative"
    assert payload["results"][2]["skipped"] == "empty" and payload["results"][5]["skipped"] == "empty"
    assert "skipped" not in payload["results"][0]
    assert server.tag([])["results"] == []


def test_tag_by_sentence(server, default_model):
    article = ("UBND tỉnh vừa khai trương cổng dịch vụ công mới. Tuy nhiên nhiều người dân phản ánh hồ sơ "
               "nộp trực tuyến vẫn bị trễ hẹn cả tháng. Cán bộ tiếp dân còn quát tháo người dân.")
    whole, by_sentence = server.tag([article])["results"][0], server.tag([article, ""], by_sentence=True)["results"]
    first = by_sentence[0]
    sentences = split_sentences(article)
    assert len(sentences) == 3
    per_sentence = default_model.tag_many(sentences)
    # Each theme's score is its best sentence's score; evidence names that sentence.
    for theme in META["labels"]["themes"]:
        assert first["theme_scores"][theme] == pytest.approx(max(r.theme_scores[theme] for r in per_sentence), abs=2e-4)
    assert set(first["evidence"]) == set(first["themes"]) and {"delays", "courtesy"} <= set(first["themes"])
    assert "quát tháo" in first["evidence"]["courtesy"]
    assert by_sentence[1]["skipped"] == "empty" and "evidence" not in whole


def test_openapi_schema_has_vietnamese_examples(server):
    status, _, schema = server.request("GET", "/openapi.json")
    assert status == 200
    assert {"/health", "/v1/model", "/v1/tag"} <= set(schema["paths"])
    body = json.dumps(schema["paths"]["/v1/tag"]["post"]["requestBody"], ensure_ascii=False)
    assert "Cán bộ phường hướng dẫn rất tận tình" in body
    assert "413" in schema["paths"]["/v1/tag"]["post"]["responses"]


# --------------------------------------------------------------------------- refusals
BIG = "x" * 1_100_000
CASES = {
    "too_many_texts": (dict(body={"texts": ["tốt"] * 1001}), 413, "too_many_texts", "1000"),
    "body_too_large": (dict(body={"texts": [BIG]}), 413, "body_too_large", "1,000,000 bytes"),
    "chunked_body_too_large": (dict(chunks=[b'{"texts": ["' + b"x" * 300_000] * 4 + [b'"]}'],
                                    headers={"Content-Type": "application/json"}), 413, "body_too_large", "limit"),
    "text_too_long": (dict(body={"texts": ["ok", "á" * 20_001]}), 413, "text_too_long", "texts[1]"),
    "bad_json": (dict(raw=b'{"texts": ["a",', headers={"Content-Type": "application/json"}), 400, "invalid_json", "not valid JSON"),
    "deep_json": (dict(raw=b"[" * 200_000, headers={"Content-Type": "application/json"}), 400, "invalid_json", "JSON"),
    "texts_not_a_list": (dict(body={"texts": "cán bộ chậm"}), 422, "invalid_request", "texts"),
    "text_not_a_string": (dict(body={"texts": ["ok", 3, None]}), 422, "invalid_request", "texts[1]"),
    "by_sentence_not_bool": (dict(body={"texts": ["ok"], "by_sentence": "có"}), 422, "invalid_request", "by_sentence"),
    "unknown_field": (dict(body={"text": ["ok"]}), 422, "invalid_request", "unknown field"),
    "not_an_object": (dict(body=["ok"]), 422, "invalid_request", "Expected a JSON object"),
    "no_content_type": (dict(raw=b'{"texts": ["ok"]}'), 415, "unsupported_media_type", "application/json"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gets_a_clear_4xx(server, case):
    kwargs, status, error, words = CASES[case]
    got, _, payload = server.request("POST", "/v1/tag", **kwargs)
    assert got == status, payload
    assert payload["error"] == error and words in payload["detail"], payload
    assert server.request("GET", "/health")[0] == 200  # still serving


def test_unknown_route_and_method(server):
    status, _, payload = server.request("GET", "/v2/tag")
    assert status == 404 and payload["error"] == "not_found" and "/v1/tag" in payload["detail"]
    status, _, payload = server.request("GET", "/v1/tag")
    assert status == 405 and payload["error"] == "method_not_allowed"


# --------------------------------------------------------------------------- API key
def test_api_key(keyed_server):
    status, headers, payload = keyed_server.request("POST", "/v1/tag", {"texts": ["cb xã đòi 2 triệu mới ký"]})
    assert status == 401 and payload["error"] == "unauthorized" and "Bearer" in payload["detail"]
    assert headers["www-authenticate"].startswith("Bearer")
    assert keyed_server.request("GET", "/v1/model")[0] == 401
    wrong = keyed_server.request("POST", "/v1/tag", {"texts": ["x"]}, {"Authorization": "Bearer sai-roi"})
    assert wrong[0] == 401
    assert keyed_server.request("POST", "/v1/tag", {"texts": ["x"]}, {"Authorization": API_KEY})[0] == 401
    good = keyed_server.tag(["cb xã đòi 2 triệu mới ký"], headers={"Authorization": f"Bearer {API_KEY}"})
    assert good["results"][0]["themes"] == ["harassment"]
    assert keyed_server.request("GET", "/health")[0] == 200  # probes need no key


def test_server_without_key_needs_none(server):
    assert server.request("GET", "/v1/model")[0] == 200


# --------------------------------------------------------------------------- concurrency
def test_concurrent_requests_match_sequential(server, keyed_server):
    batches = [[f"{text} (lần {i})" if text.strip() else text for text in TEXTS[i % 3:]] for i in range(24)]
    auth = {"Authorization": f"Bearer {API_KEY}"}
    sequential = [server.tag(batch)["results"] for batch in batches]
    for target, headers in ((server, None), (keyed_server, auth)):
        concurrent: list[Any] = [None] * len(batches)
        failures: list[BaseException] = []

        def client(indices: list[int], target: Server = target, headers: Any = headers) -> None:
            try:
                for i in indices:
                    concurrent[i] = target.tag(batches[i], by_sentence=False, headers=headers)["results"]
            except BaseException as exc:  # reported below
                failures.append(exc)

        threads = [threading.Thread(target=client, args=(list(range(k, len(batches), 8)),)) for k in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not failures, failures
        assert concurrent == sequential


# --------------------------------------------------------------------------- random bodies
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
BODIES = st.one_of(
    JSON_VALUES,
    st.dictionaries(st.sampled_from(["texts", "by_sentence", "text", "model", ""]) | st.text(max_size=8), JSON_VALUES, max_size=4),
    st.fixed_dictionaries({"texts": st.lists(st.text(max_size=80) | JSON_VALUES, max_size=5)},
                          optional={"by_sentence": JSON_VALUES | st.booleans()}),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=BODIES)
def test_random_json_never_gives_a_server_error(server, body):
    status, _, payload = server.request("POST", "/v1/tag", raw=json.dumps(body).encode("utf-8"),
                                        headers={"Content-Type": "application/json"})
    assert status < 500, payload
    if status == 200:
        assert len(payload["results"]) == len(body["texts"])
    else:
        assert set(payload) == {"error", "detail"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=200))
def test_random_bytes_never_give_a_server_error(server, raw):
    status, _, payload = server.request("POST", "/v1/tag", raw=raw, headers={"Content-Type": "application/json"})
    assert status < 500, payload


# --------------------------------------------------------------------------- command line
def test_port_in_use_is_one_line(server, cli_env):
    out = subprocess.run([PYTHON, "-m", "feedback_nlp", "serve", "--port", str(server.port)], capture_output=True,
                         text=True, env=cli_env, cwd=ROOT, timeout=60)
    assert out.returncode == 1 and out.stderr.startswith("error: cannot listen on 127.0.0.1") and "--port" in out.stderr


def test_cli_checks_options_and_documents_them():
    from feedback_nlp import service
    from feedback_nlp.cli import serve

    runner = CliRunner()
    assert runner.invoke(app, ["serve", "--workers", "0"]).exit_code == 1
    bad = runner.invoke(app, ["serve", "--model", "/nowhere/model"])
    assert bad.exit_code == 1 and "does not exist" in bad.stderr
    usage = runner.invoke(app, ["serve", "--help"]).stdout
    assert "/v1/tag" in usage and "FEEDBACK_NLP_API_KEY" in usage
    assert (serve.DEFAULT_MAX_TEXTS, serve.DEFAULT_MAX_BYTES, serve.DEFAULT_MAX_CHARS) == (
        service.DEFAULT_MAX_TEXTS, service.DEFAULT_MAX_BYTES, service.DEFAULT_MAX_CHARS)


def test_worker_processes_use_one_blas_thread():
    """With --workers N, each worker limits BLAS to one thread (a neural member's matrix products
    otherwise oversubscribe the cores). Checked in a fresh process, as a worker starts."""
    code = ("from threadpoolctl import threadpool_info\n"
            "from feedback_nlp.service import app_from_env\n"
            "app_from_env()\n"
            "pools = [p for p in threadpool_info() if p['user_api'] == 'blas']\n"
            "assert pools and all(p['num_threads'] == 1 for p in pools), pools\n"
            "print('ok')\n")
    env = {**os.environ, "FEEDBACK_NLP_MODEL": str(ROOT / "models" / "default")}
    done = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
