"""Batch-tagging benchmark: tag-file throughput against raw underthesea segmentation, in one run.

Usage: python scripts/bench_tagging.py [--rows 100000] [--rounds 3] [--million] [--model DIR] [--json OUT]

Generates realistic comments from the corpus vocabulary (clauses of corpus records recombined,
some typed without diacritics, ~30% of rows repeating earlier ones or common survey answers),
then, per round and interleaved so machine noise hits every measurement alike:
  (a) raw ``underthesea.word_tokenize`` throughput on the distinct texts (one process, and a
      2-process pool for reference),
  (b) ``feedback-nlp tag-file`` end-to-end (process start, model load, read, tag, write) on the
      distinct texts at --jobs 1 and --jobs 2, and on the rows with repeats,
  (c) peak RSS of each tag-file run (largest process, and the whole process tree),
  (d) the ratios. Prints medians over rounds. ``--million`` also tags 1,000,000 rows (jobs 2)
      and reports peak RSS.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COMMON_ANSWERS = [
    "không có ý kiến", "tốt", "hài lòng", "rất hài lòng", "bình thường", "ko co y kien", "không", "ok", "tạm được",
    "cán bộ nhiệt tình", "nhanh", "chậm", "không hài lòng", "cần cải thiện thêm", "hai long", "tot", "ổn",
    "thủ tục còn rườm rà", "phục vụ tốt", "không có góp ý", "chờ lâu quá", "mong nhanh hơn", "web hay lỗi",
]


def load_clauses() -> list[str]:
    clauses = []
    for split in ("train", "dev", "test"):
        for line in (ROOT / "corpora" / "civic_feedback" / f"{split}.jsonl").read_text(encoding="utf-8").splitlines():
            text = json.loads(line)["text"]
            clauses += [c.strip() for c in re.split(r"[,.;!?:]", text) if len(c.split()) >= 3]
    return clauses


def distinct_comments(count: int, rng: random.Random) -> list[str]:
    """``count`` distinct comments of one to three corpus clauses, a fifth without diacritics."""
    from feedback_nlp.features import strip_diacritics

    clauses = load_clauses()
    seen: set[str] = set()
    comments: list[str] = []
    while len(comments) < count:
        text = ", ".join(rng.sample(clauses, rng.choice((1, 1, 2, 2, 3))))
        if rng.random() < 0.2:
            text = strip_diacritics(text).lower()
        if text not in seen:
            seen.add(text)
            comments.append(text)
    return comments


def generate(rows: int, repeat_share: float, seed: int) -> tuple[list[str], list[str]]:
    """Return (distinct texts, rows with repeats)."""
    rng = random.Random(seed)
    n_unique = int(rows * (1 - repeat_share))
    unique = distinct_comments(n_unique, rng)
    all_rows = list(unique)
    for _ in range(rows - n_unique):
        all_rows.append(rng.choice(COMMON_ANSWERS) if rng.random() < 0.5 else rng.choice(unique))
    rng.shuffle(all_rows)
    return unique, all_rows


def write_csv(path: Path, texts: list[str]) -> None:
    import pandas as pd

    pd.DataFrame({"id": range(1, len(texts) + 1), "y_kien": texts}).to_csv(path, index=False)


def _tokenize_chunk(texts: list[str]) -> int:
    from underthesea import word_tokenize

    for text in texts:
        word_tokenize(text)
    return len(texts)


def raw_segmentation(texts: list[str], processes: int = 1) -> float:
    """Texts per second of plain underthesea.word_tokenize (default arguments)."""
    if processes == 1:
        _tokenize_chunk(texts[:200])  # load the CRF model before timing
        started = time.perf_counter()
        _tokenize_chunk(texts)
        return len(texts) / (time.perf_counter() - started)
    chunks = [texts[i:i + 2000] for i in range(0, len(texts), 2000)]
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        pool.map(_tokenize_chunk, [texts[:200]] * processes)
        started = time.perf_counter()
        pool.map(_tokenize_chunk, chunks)
        return len(texts) / (time.perf_counter() - started)


def _tree_rss_kb(pid: int) -> tuple[int, int]:
    """(largest peak RSS of one process, sum of current RSS) in KB over pid and its descendants.

    The peak is each process's VmHWM, which exec resets. (The ru_maxrss that wait4 reports is not
    used: Linux carries the parent's resident size at fork into the child's ru_maxrss, so it would
    count this benchmark's own memory.)
    """
    pids, stack = [], [pid]
    while stack:
        current = stack.pop()
        pids.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    stack += [int(c) for c in handle.read().split()]
        except OSError:
            continue
    peaks, sizes = [], []
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as handle:
                for line in handle:
                    if line.startswith("VmHWM:"):
                        peaks.append(int(line.split()[1]))
                    elif line.startswith("VmRSS:"):
                        sizes.append(int(line.split()[1]))
        except OSError:
            continue
    return (max(peaks) if peaks else 0, sum(sizes))


def tag_file_run(input_csv: Path, jobs: int, workdir: Path, model: Path | None = None) -> dict[str, float]:
    """Run the CLI once; wall time, throughput and peak RSS (sampled every 50 ms)."""
    output = workdir / f"out-{jobs}.csv"
    command = [sys.executable, "-m", "feedback_nlp", "tag-file", str(input_csv), "-o", str(output),
               "--text-column", "y_kien", "--jobs", str(jobs), "--overwrite", "--quiet"]
    if model is not None:
        command += ["--model", str(model.resolve())]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    peak = {"max": 0, "sum": 0}

    def sample() -> None:
        while process.poll() is None:
            largest, total = _tree_rss_kb(process.pid)
            peak["max"], peak["sum"] = max(peak["max"], largest), max(peak["sum"], total)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    process.wait()
    seconds = time.perf_counter() - started
    sampler.join()
    stderr = process.stderr.read() if process.stderr else ""
    rows = sum(1 for _ in open(input_csv, encoding="utf-8")) - 1
    if not output.exists():
        raise SystemExit(f"tag-file failed: {stderr}")
    return {"seconds": seconds, "rows_per_s": rows / seconds, "peak_rss_mb": peak["max"] / 1024,
            "tree_rss_mb": peak["sum"] / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=float, default=0.30, help="share of rows that repeat another row")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--million", action="store_true", help="also tag 1,000,000 rows at --jobs 2 for peak RSS")
    parser.add_argument("--model", type=Path, help="model directory to tag with (default: the shipped model)")
    parser.add_argument("--json", type=Path, help="write all measurements here")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, python {sys.version.split()[0]}", flush=True)
    unique, rows = generate(args.rows, args.repeats, args.seed)
    print(f"generated {len(rows):,} rows, {len(unique):,} distinct texts, mean {statistics.mean(len(t.split()) for t in unique):.1f} words", flush=True)
    results: dict[str, list[dict[str, float]]] = {k: [] for k in ("raw1", "raw2", "unique_j1", "unique_j2", "rows_j1", "rows_j2")}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        unique_csv, rows_csv = workdir / "unique.csv", workdir / "rows.csv"
        write_csv(unique_csv, unique)
        write_csv(rows_csv, rows)
        for round_ in range(1, args.rounds + 1):
            results["raw1"].append({"rows_per_s": raw_segmentation(unique, 1)})
            results["unique_j1"].append(tag_file_run(unique_csv, 1, workdir, args.model))
            results["raw2"].append({"rows_per_s": raw_segmentation(unique, 2)})
            results["unique_j2"].append(tag_file_run(unique_csv, 2, workdir, args.model))
            results["rows_j1"].append(tag_file_run(rows_csv, 1, workdir, args.model))
            results["rows_j2"].append(tag_file_run(rows_csv, 2, workdir, args.model))
            last = {k: round(v[-1]["rows_per_s"]) for k, v in results.items()}
            print(f"round {round_}: texts/s {last}", flush=True)
        million = None
        if args.million:
            _, big = generate(1_000_000, args.repeats, args.seed + 1)
            big_csv = workdir / "million.csv"
            write_csv(big_csv, big)
            del big
            million = tag_file_run(big_csv, 2, workdir, args.model)

    def med(key: str, field: str = "rows_per_s") -> float:
        return statistics.median(r[field] for r in results[key])

    ratios = {
        "e2e_j1_over_raw_seg (unique)": statistics.median(u["rows_per_s"] / r["rows_per_s"] for u, r in zip(results["unique_j1"], results["raw1"])),
        "e2e_j2_over_e2e_j1 (unique)": statistics.median(b["rows_per_s"] / a["rows_per_s"] for a, b in zip(results["unique_j1"], results["unique_j2"])),
        "raw_seg_2proc_over_1proc": statistics.median(b["rows_per_s"] / a["rows_per_s"] for a, b in zip(results["raw1"], results["raw2"])),
        "e2e_j1_with_repeats_over_raw_seg": statistics.median(u["rows_per_s"] / r["rows_per_s"] for u, r in zip(results["rows_j1"], results["raw1"])),
    }
    print(f"\nmedians over {args.rounds} round(s), {len(unique):,} distinct texts / {len(rows):,} rows:")
    print(f"  (a) raw word_tokenize, 1 process     {med('raw1'):9,.0f} texts/s")
    print(f"      raw word_tokenize, 2 processes   {med('raw2'):9,.0f} texts/s")
    for key, label in (("unique_j1", "tag-file distinct, --jobs 1"), ("unique_j2", "tag-file distinct, --jobs 2"),
                       ("rows_j1", "tag-file with repeats, --jobs 1"), ("rows_j2", "tag-file with repeats, --jobs 2")):
        print(f"  (b) {label:32s} {med(key):9,.0f} rows/s   (c) peak RSS {med(key, 'peak_rss_mb'):6.0f} MB largest process, "
              f"{med(key, 'tree_rss_mb'):6.0f} MB all processes")
    for name, value in ratios.items():
        print(f"  (d) {name:40s} {value:.3f}")
    if million:
        print(f"  1,000,000 rows, --jobs 2: {million['rows_per_s']:,.0f} rows/s, peak RSS {million['peak_rss_mb']:.0f} MB largest process, "
              f"{million['tree_rss_mb']:.0f} MB all processes")
    if args.json:
        args.json.write_text(json.dumps({"results": results, "ratios": ratios, "million": million}, indent=1))


if __name__ == "__main__":
    main()
