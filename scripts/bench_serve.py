"""HTTP service benchmark: start ``feedback-nlp serve`` on loopback, send a bounded load, report.

Usage: python scripts/bench_serve.py [--workers 1] [--model DIR] [--clients 20] [--requests 2000] [--batch 10]
                                     [--by-sentence] [--max-seconds 600] [--json OUT]

Starts the service as a subprocess on a free 127.0.0.1 port (nothing else is contacted), waits
for /health, sends ``--warmup`` untimed requests, then has ``--clients`` threads (one keep-alive
connection each) send ``--requests`` POST /v1/tag requests of ``--batch`` comments between them.
The comments are recombined clauses of the project's corpus (about one in five typed without
diacritics), all distinct, so no request repeats another. Prints requests/s, comments/s, latency
p50/p95/p99/max and the error count (non-200 answers and failed connections), then stops the
server. The run stops by itself after ``--requests`` requests or ``--max-seconds``.

The clients run in this process, on the same machine as the server: on a small machine they
take CPU from the server, so figures are a lower bound for a server with its own cores.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_tagging import distinct_comments  # noqa: E402  (the same comments as the batch benchmark)

HOST = "127.0.0.1"


def make_comments(count: int, seed: int = 0) -> list[str]:
    """``count`` distinct comments of one to three corpus clauses."""
    return distinct_comments(count, random.Random(seed))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def start_server(port: int, workers: int, log_path: Path, model: Path | None = None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "FEEDBACK_NLP_API_KEY"}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "feedback_nlp", "serve", "--host", HOST, "--port", str(port), "--workers", str(workers),
             "--no-access-log", "--log-level", "warning"] + (["--model", str(model)] if model is not None else []),
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=5)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                connection.close()
                return process
        except OSError:
            time.sleep(0.2)
    stop_server(process)
    raise SystemExit(f"the server did not answer /health within 180 s:\n{log_path.read_text()}")


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


def run_load(port: int, bodies: list[bytes], clients: int, max_seconds: float) -> tuple[list[float], int, float]:
    """Send every body once from ``clients`` threads; returns latencies (s), errors, wall time."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    next_index = iter(range(len(bodies)))
    stop_at = time.monotonic() + max_seconds

    def client() -> None:
        nonlocal errors
        connection = http.client.HTTPConnection(HOST, port, timeout=60)
        mine: list[float] = []
        failed = 0
        while time.monotonic() < stop_at:
            with lock:
                i = next(next_index, None)
            if i is None:
                break
            started = time.perf_counter()
            try:
                connection.request("POST", "/v1/tag", body=bodies[i], headers={"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                connection.close()
                connection = http.client.HTTPConnection(HOST, port, timeout=60)
            mine.append(time.perf_counter() - started)
            failed += not ok
        connection.close()
        with lock:
            latencies.extend(mine)
            errors += failed

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors, time.perf_counter() - started


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--model", type=Path, help="model directory to serve (default: the shipped model)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent client threads (one connection each)")
    parser.add_argument("--requests", type=int, default=2000, help="timed requests in total")
    parser.add_argument("--batch", type=int, default=10, help="comments per request")
    parser.add_argument("--warmup", type=int, default=40, help="untimed requests first")
    parser.add_argument("--by-sentence", action="store_true", help="send by_sentence=true")
    parser.add_argument("--max-seconds", type=float, default=600, help="stop the timed run after this long")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    for name in ("workers", "clients", "requests", "batch"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")

    comments = make_comments((args.requests + args.warmup) * args.batch, args.seed)
    bodies = [json.dumps({"texts": comments[i:i + args.batch], "by_sentence": args.by_sentence}, ensure_ascii=False).encode()
              for i in range(0, len(comments), args.batch)]
    warmup, timed = bodies[:args.warmup], bodies[args.warmup:]
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "serve.log"
        started = time.perf_counter()
        server = start_server(port, args.workers, log_path, args.model)
        ready = time.perf_counter() - started
        try:
            if warmup:
                run_load(port, warmup, min(args.clients, len(warmup)), args.max_seconds)
            latencies, errors, wall = run_load(port, timed, args.clients, args.max_seconds)
        finally:
            stop_server(server)
        server_log = log_path.read_text(errors="replace")
    latencies.sort()
    done = len(latencies)
    figures = {
        "workers": args.workers, "clients": args.clients, "requests": done, "requested": len(timed), "batch": args.batch,
        "by_sentence": args.by_sentence, "errors": errors, "seconds": round(wall, 2),
        "requests_per_second": round(done / wall, 1), "comments_per_second": round(done * args.batch / wall, 1),
        "latency_ms": {name: round(1000 * percentile(latencies, q), 1) for name, q in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100))},
        "server_start_seconds": round(ready, 1), "cpus": os.cpu_count(), "load_average_before": os.getloadavg()[0],
    }
    lat = figures["latency_ms"]
    print(f"feedback-nlp serve on {HOST}:{port}: {args.workers} worker(s), ready in {ready:.1f} s")
    print(f"{args.clients} clients, {done} requests of {args.batch} comments{' (by sentence)' if args.by_sentence else ''} "
          f"in {wall:.1f} s")
    print(f"requests/s {figures['requests_per_second']:.1f}   comments/s {figures['comments_per_second']:.0f}")
    print(f"latency ms  p50 {lat['p50']:.1f}   p95 {lat['p95']:.1f}   p99 {lat['p99']:.1f}   max {lat['max']:.1f}")
    print(f"errors {errors}" + (f" (and {len(timed) - done} requests not sent within --max-seconds)" if done < len(timed) else ""))
    if errors and server_log.strip():
        print("server log:\n" + server_log[-3000:], file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
