"""Compare single-choice (sentiment) models beyond one logistic regression, on UIT-VSFC.

Usage: python scripts/compare_sentiment_models.py [--task sentiment|topic] [--mlp]

Same features for every model (word 1-3-grams + character 2-5-grams, fitted on train + dev).
For each model and each combination (geometric mean of probabilities) it tunes per-class offsets
by 5-fold cross-validated macro-F1 on train + dev, refits on train + dev and scores test.jsonl.
``--mlp`` adds a one-hidden-layer MLP on the TF-IDF features (slow). Skips when UIT-VSFC is absent.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402

from feedback_nlp.ensemble import candidate_members, combine  # noqa: E402
from feedback_nlp.features import SyllableCharVectorizer, WordNgramVectorizer  # noqa: E402
from feedback_nlp.training import prepare_texts, tune_sentiment_bias  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "uit-vsfc")
    parser.add_argument("--task", default="sentiment", choices=("sentiment", "topic"))
    parser.add_argument("--mlp", action="store_true")
    args = parser.parse_args()
    if not (args.data / "train.jsonl").is_file():
        print(f"skipped: UIT-VSFC not found in {args.data}")
        return
    load = lambda split: [json.loads(line) for line in (args.data / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()]  # noqa: E731
    train, dev, test = load("train"), load("dev"), load("test")
    docs = prepare_texts([r["text"] for r in train + dev + test], -1, use_cache=True)
    fit_docs, test_docs = docs[: len(train) + len(dev)], docs[len(train) + len(dev):]
    y = np.array([r[args.task] for r in train + dev])
    y_test = np.array([r[args.task] for r in test])
    labels = sorted(set(y))
    blocks = [WordNgramVectorizer((1, 3)).fit(fit_docs), SyllableCharVectorizer((2, 5)).fit(fit_docs)]
    x = sp.hstack([b.transform(fit_docs) for b in blocks]).tocsr()
    x_test = sp.hstack([b.transform(test_docs) for b in blocks]).tocsr()
    members = candidate_members(10.0, "balanced", 0)
    if args.mlp:
        from sklearn.neural_network import MLPClassifier

        members["mlp"] = MLPClassifier(hidden_layer_sizes=(128,), max_iter=8, random_state=0)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(np.zeros(len(y)), y))
    out_of_fold, on_test, seconds = {}, {}, {}
    for name, member in members.items():
        started = time.perf_counter()
        oof = np.zeros((len(y), len(labels)))
        for fit_rows, held in folds:
            oof[held] = clone(member).fit(x[fit_rows], y[fit_rows]).predict_proba(x[held])
        out_of_fold[name] = oof
        on_test[name] = clone(member).fit(x, y).predict_proba(x_test)
        seconds[name] = time.perf_counter() - started
    print(f"UIT-VSFC {args.task}: offsets tuned by 5-fold CV on train + dev, scored on test ({len(y_test)} texts)")
    print(f"{'model':<22} {'CV macro-F1':>11} {'test weighted-F1':>17} {'test macro-F1':>14} {'seconds (6 fits)':>17}")
    for size in range(1, len(members) + 1):
        for combo in itertools.combinations(members, size):
            bias, cv = tune_sentiment_bias(np.log(combine([out_of_fold[m] for m in combo])), list(y), labels)
            predicted = np.array(labels)[np.argmax(np.log(combine([on_test[m] for m in combo])) + bias, axis=1)]
            print(f"{'+'.join(combo):<22} {cv:>11.4f} {f1_score(y_test, predicted, average='weighted'):>17.4f} "
                  f"{f1_score(y_test, predicted, average='macro'):>14.4f} {sum(seconds[m] for m in combo):>17.0f}")


if __name__ == "__main__":
    main()
