"""Exploration: the neural member's training settings against UIT-VSFC test scores and time.

Usage: python scripts/compare_network_settings_uit_vsfc.py [--data ../shared/data/uit-vsfc] [--threads 1]

Trains the linear model once per task with the trainer (``train_model``, no network), then, for
each setting below, the word BiLSTM as the trainer does (on train with the epoch chosen on dev,
then again on train + dev for that many epochs), picks the blend weight on dev and scores the
blend on test; "dev macro" is the blend's dev macro-F1 at that weight (train-only models), the
score a choice between settings may use. The first setting is the trainer's own, so its row
reproduces ``bench_uit_vsfc.py --neural``. Needs PyTorch; skips with a message without it or without the data.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feedback_nlp.evaluation import sentiment_metrics  # noqa: E402
from feedback_nlp.neural import WordBiLSTM, blend, choose_blend_weight, torch_available  # noqa: E402
from feedback_nlp.training import prepare_texts, train_model  # noqa: E402
from feedback_nlp.validation import Columns, load_labelled  # noqa: E402

TASKS = {
    "sentiment": ["negative", "neutral", "positive"],
    "topic": ["lecturer", "training_program", "facility", "others"],
}
SETTINGS = [
    {},  # the trainer's: batches of 64, learning rate 1e-3, up to 10 epochs
    {"batch_size": 128, "learning_rate": 2e-3},
    {"batch_size": 128, "learning_rate": 2e-3, "epochs": 6},
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "uit-vsfc")
    parser.add_argument("--threads", type=int, default=1, help="PyTorch and BLAS threads (the trainer uses 1)")
    args = parser.parse_args()
    if not all((args.data / f"{s}.jsonl").is_file() for s in ("train", "dev", "test")):
        print(f"skipped: UIT-VSFC not found in {args.data} (expects train.jsonl, dev.jsonl, test.jsonl)")
        return
    if not torch_available():
        print("skipped: PyTorch is not installed (pip install torch==2.13.0)")
        return
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    print(f"{'task':<10} {'setting':<52} {'epoch':>5} {'weight':>6} {'dev macro':>9} {'weighted-F1':>11} {'macro-F1':>8} "
          f"{'train s':>8} {'refit s':>8}")
    for task, labels in TASKS.items():
        columns = Columns(text="text", themes="themes", sentiment=task)
        train, dev, test = (load_labelled([args.data / f"{s}.jsonl"], columns=columns, sentiment_labels=labels,
                                          min_examples=0, drop_conflicts=s != "test") for s in ("train", "dev", "test"))
        model, report = train_model(train, dev, sentiment_labels=labels, n_jobs=-1, use_cache=True)
        docs = prepare_texts(train.texts + dev.texts + test.texts, use_cache=True)
        train_docs, dev_docs, test_docs = docs[:len(train)], docs[len(train):len(train) + len(dev)], docs[len(train) + len(dev):]
        linear_dev = report.tuned_model.predict_proba_prepared(dev_docs)[1]
        linear_test = model.predict_proba_prepared(test_docs)[1]  # offsets already applied
        for setting in SETTINGS:
            with threadpool_limits(args.threads):
                started = time.perf_counter()
                tuned = WordBiLSTM(random_state=0, **setting).fit(train_docs, train.sentiment, dev_docs, dev.sentiment)
                trained = time.perf_counter()
                refit = WordBiLSTM(random_state=0, **{**setting, "epochs": tuned.best_epoch_}).fit(
                    train_docs + dev_docs, train.sentiment + dev.sentiment)
                refitted = time.perf_counter()
            weight, dev_score = choose_blend_weight(linear_dev, tuned.predict_proba_in(dev_docs, labels), dev.sentiment, labels)
            proba = blend(linear_test, refit.predict_proba_in(test_docs, labels), weight) if weight else linear_test
            metrics = sentiment_metrics(test.sentiment, [labels[k] for k in np.argmax(proba, axis=1)], labels)
            print(f"{task:<10} {str(setting or 'trainer default'):<52} {tuned.best_epoch_:>5} {weight:>6} {dev_score:>9.4f} "
                  f"{metrics['weighted_f1']:>11.4f} {metrics['macro_f1']:>8.4f} {trained - started:>8.1f} {refitted - trained:>8.1f}",
                  flush=True)


if __name__ == "__main__":
    main()
