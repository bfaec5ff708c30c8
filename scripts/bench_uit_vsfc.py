"""Real-data check of the retraining path on UIT-VSFC (Vietnamese students' feedback).

Usage: python scripts/bench_uit_vsfc.py [--data ../shared/data/uit-vsfc] [--json OUT] [--jobs -1] [--syllables 1,2] [--neural]

(As ``feedback-nlp train --drop-conflicts``: one train sentence appears twice with different
sentiment labels, and both copies are left out.)

Trains the project's pipeline through the same code as ``feedback-nlp train --base none``
(``feedback_nlp.retrain.train_from_files``), once for sentiment and once for topic (as a
single-choice label set), on train.jsonl, tuned on dev.jsonl by the trainer's own automatic
tuning, and reports on test.jsonl: accuracy, weighted F1, macro F1, neutral-class F1 and
training time (cold and warm segmentation cache). UIT-VSFC is read from ../shared at run time
and never copied into the project; the script skips with a message when it is absent.

Published results on this test split, for comparison (see ../shared/data/uit-vsfc/README.md;
the papers' "F1" is support-weighted): MaxEnt 87.94 sentiment / 84.03 topic (the corpus paper,
KSE 2018); Bi-LSTM 92.0 / 89.6; CNN/LSTM ensemble 92.79 / 89.70; PhoBERT 93.92 sentiment.
Macro-F1 of models trained from scratch: Transformer 75.12 / 76.22 (Nguyen et al.).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_tagging import raw_segmentation  # noqa: E402  (the batch benchmark's reference)
from feedback_nlp.evaluation import evaluate_model  # noqa: E402
from feedback_nlp.persistence import load_model  # noqa: E402
from feedback_nlp.retrain import train_from_files  # noqa: E402
from feedback_nlp.training import grid_with_syllables  # noqa: E402
from feedback_nlp.validation import Columns, load_labelled  # noqa: E402

TASKS = {
    "sentiment": ("sentiment", ["negative", "neutral", "positive"]),
    "topic": ("topic", ["lecturer", "training_program", "facility", "others"]),
}


def run_task(name: str, data: Path, work: Path, jobs: int, grid: dict | None = None, neural: bool = False) -> dict:
    column, labels = TASKS[name]
    columns = Columns(text="text", themes="themes", sentiment=column)
    result = {}
    for cache in ("cold", "warm"):
        os.environ["FEEDBACK_NLP_CACHE"] = str(work / "cache")
        if cache == "cold" and (work / "cache").exists():
            for f in (work / "cache").iterdir():
                f.unlink()
        started = time.perf_counter()
        out = train_from_files([data / "train.jsonl"], work / f"{name}-{cache}", base="none", dev_file=data / "dev.jsonl",
                               columns=columns, sentiment_labels=labels, n_jobs=jobs, use_cache=True, drop_conflicts=True, grid=grid, neural=neural,
                               progress=lambda m: print(f"  [{name}] {m}", file=sys.stderr) if not m.startswith("segmented ") else None)
        result[f"train_seconds_{cache}_cache"] = round(time.perf_counter() - started, 1)
    model = load_model(out.output)
    test = load_labelled([data / "test.jsonl"], columns=columns, sentiment_labels=labels, min_examples=0)
    metrics = evaluate_model(model, test)["sentiment"]
    result.update({
        "accuracy": metrics["accuracy"], "weighted_f1": metrics["weighted_f1"], "macro_f1": metrics["macro_f1"],
        "per_class_f1": {k: v["f1"] for k, v in metrics["per_class"].items()},
        "chosen": out.meta["tuning"]["chosen"], "dev": out.meta["metrics"]["dev"]["sentiment"]["macro_f1"],
        "bias": json.loads((out.output / "meta.json").read_text())["sentiment_bias"],
        "neural": out.meta["tuning"].get("neural"),
    })
    if "neutral" in result["per_class_f1"]:
        result["neutral_f1"] = result["per_class_f1"]["neutral"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "uit-vsfc")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--jobs", type=int, default=-1)
    parser.add_argument("--tasks", default="sentiment,topic")
    parser.add_argument("--syllables", metavar="LOW,HIGH",
                        help="also offer the trainer feature settings with syllable n-grams (not in the default grid)")
    parser.add_argument("--neural", action="store_true",
                        help="train with feedback-nlp train --neural (a word BiLSTM blended in; needs PyTorch)")
    args = parser.parse_args()
    grid = grid_with_syllables(tuple(int(n) for n in args.syllables.split(","))) if args.syllables else None
    if not all((args.data / f"{s}.jsonl").is_file() for s in ("train", "dev", "test")):
        print(f"skipped: UIT-VSFC not found in {args.data} (expects train.jsonl, dev.jsonl, test.jsonl)")
        return
    # The machine's speed in the same run, before and after (machines here vary up to 2x within an
    # hour): raw underthesea segmentation of 2,000 training texts on one process, as in bench_tagging.py.
    sample = [json.loads(line)["text"] for line in (args.data / "train.jsonl").open(encoding="utf-8")][:2000]
    before = raw_segmentation(sample)
    print(f"machine reference: raw underthesea word_tokenize, 1 process, 2,000 UIT-VSFC texts: {before:,.0f} texts/s",
          file=sys.stderr)
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for task in args.tasks.split(","):
            results[task] = run_task(task, args.data, Path(tmp), args.jobs, grid, args.neural)
    after = raw_segmentation(sample)
    print(f"\nUIT-VSFC test split, feedback-nlp train --base none (tuned on dev), {os.cpu_count()} CPUs:")
    print(f"{'task':<10} {'accuracy':>9} {'weighted-F1':>12} {'macro-F1':>9} {'neutral-F1':>11} {'train s (cold/warm cache)':>27}")
    for task, r in results.items():
        neutral = f"{r['neutral_f1']:.4f}" if "neutral_f1" in r else "-"
        print(f"{task:<10} {r['accuracy']:>9.4f} {r['weighted_f1']:>12.4f} {r['macro_f1']:>9.4f} {neutral:>11} "
              f"{r['train_seconds_cold_cache']:>16.1f} / {r['train_seconds_warm_cache']:.1f}")
        print(f"           per class F1 {r['per_class_f1']}; chosen {r['chosen']}; offsets {r['bias']}; neural {r['neural']}")
    print(f"machine reference (same run): raw underthesea word_tokenize, 1 process: {before:,.0f} texts/s before, "
          f"{after:,.0f} after")
    print("published (weighted F1): MaxEnt 0.8794 sentiment / 0.8403 topic; Bi-LSTM 0.920 / 0.896; PhoBERT 0.9392 sentiment")
    if args.json:
        results["machine_reference_texts_per_s"] = {"before": round(before), "after": round(after)}
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
