"""Measurement: the linear solvers the trainer fits most, by time and distance to the optimum, on UIT-VSFC.

Usage: python scripts/compare_solvers_uit_vsfc.py [--data ../shared/data/uit-vsfc] [--tasks sentiment,topic]

On the train split, featurised with the default grid's largest setting (word 1-3 + char 2-5
n-grams), it fits:
- the logistic-regression member (multinomial) at each C and class weight of the default grid,
  with scikit-learn's default lbfgs (the trainer's solver before commit 3de12ad) and with
  newton-cg (the trainer's now);
- the NB-LR member's binary fits (one per class, C 3) with liblinear's primal and dual solvers.
Each is timed and compared with the same model fitted to tolerance 1e-9 (1e-10 for liblinear):
the largest difference in predicted probability on the dev split, and dev macro-F1. One process,
one run; the timings of each row are measured back to back, so compare them within the row.
Skips with a message when the data is absent.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feedback_nlp.evaluation import sentiment_metrics  # noqa: E402
from feedback_nlp.model import FeedbackModel  # noqa: E402
from feedback_nlp.training import DEFAULT_GRID, prepare_texts  # noqa: E402
from feedback_nlp.validation import Columns, load_labelled  # noqa: E402

TASKS = {
    "sentiment": ["negative", "neutral", "positive"],
    "topic": ["lecturer", "training_program", "facility", "others"],
}


def timed_fit(estimator: LogisticRegression, x: object, y: np.ndarray) -> tuple[LogisticRegression, float]:
    started = time.perf_counter()
    estimator.fit(x, y)
    return estimator, time.perf_counter() - started


def compare_multinomial(x: object, y: np.ndarray, dev_x: object, dev_y: list[str], labels: list[str]) -> None:
    print(f"{'C':>5} {'weight':>8} | {'lbfgs s':>8} {'iters':>5} {'max|dp|':>8} {'macro':>6} | "
          f"{'newton-cg s':>11} {'iters':>5} {'max|dp|':>8} {'macro':>6} | {'optimum macro':>13}")
    for c in DEFAULT_GRID["C"]:
        for weight in DEFAULT_GRID["class_weight"]:
            optimum = LogisticRegression(C=c, class_weight=weight, solver="newton-cg", tol=1e-9, max_iter=3000).fit(x, y)
            reference = optimum.predict_proba(dev_x)
            row = [f"{c:>5g} {str(weight):>8}"]
            for solver in ("lbfgs", "newton-cg"):
                fitted, seconds = timed_fit(LogisticRegression(C=c, class_weight=weight, solver=solver, max_iter=3000), x, y)
                proba = fitted.predict_proba(dev_x)
                macro = sentiment_metrics(dev_y, list(fitted.classes_[proba.argmax(axis=1)]), labels)["macro_f1"]
                width = 8 if solver == "lbfgs" else 11
                row.append(f"{seconds:>{width}.2f} {int(fitted.n_iter_[0]):>5} {np.abs(proba - reference).max():>8.4f} {macro:>6.4f}")
            macro = sentiment_metrics(dev_y, list(optimum.classes_[reference.argmax(axis=1)]), labels)["macro_f1"]
            print(" | ".join(row) + f" | {macro:>13.4f}", flush=True)


def compare_nb_binary(x: object, y: np.ndarray, dev_x: object) -> None:
    print(f"{'class':>18} | {'primal s':>8} {'max|dp|':>8} | {'dual s':>8} {'max|dp|':>8}")
    present = (x > 0).astype(np.float32).tocsr()  # as NBLogisticRegression.fit
    for label in np.unique(y):
        mask = y == label
        p = np.asarray(present[mask].sum(axis=0)).ravel() + 1.0
        q = np.asarray(present[~mask].sum(axis=0)).ravel() + 1.0
        scale = sp.diags(np.log((p / p.sum()) / (q / q.sum())).astype(np.float32))
        xs, dev_xs = x @ scale, dev_x @ scale
        reference = LogisticRegression(C=3.0, solver="liblinear", dual=True, tol=1e-10, max_iter=100_000).fit(xs, mask)
        reference_proba = reference.predict_proba(dev_xs)[:, 1]
        row = [f"{label:>18}"]
        for dual in (False, True):
            fitted, seconds = timed_fit(LogisticRegression(C=3.0, solver="liblinear", dual=dual, max_iter=2000), xs, mask)
            row.append(f"{seconds:>8.2f} {np.abs(fitted.predict_proba(dev_xs)[:, 1] - reference_proba).max():>8.5f}")
        print(" | ".join(row), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "uit-vsfc")
    parser.add_argument("--tasks", default="sentiment,topic")
    args = parser.parse_args()
    if not all((args.data / f"{s}.jsonl").is_file() for s in ("train", "dev")):
        print(f"skipped: UIT-VSFC not found in {args.data} (expects train.jsonl and dev.jsonl)")
        return
    warnings.simplefilter("ignore")  # the 1e-9 reference fits end in rounding-noise line-search warnings
    setting = DEFAULT_GRID["features"][-1]
    for task in args.tasks.split(","):
        labels = TASKS[task]
        columns = Columns(text="text", themes="themes", sentiment=task)
        train, dev = (load_labelled([args.data / f"{s}.jsonl"], columns=columns, sentiment_labels=labels, drop_conflicts=True)
                      for s in ("train", "dev"))
        docs = prepare_texts(train.texts, -1, use_cache=True)
        featuriser = FeedbackModel(**setting).fit_featuriser(docs)
        x, dev_x = featuriser.transform(docs), featuriser.transform(prepare_texts(dev.texts, use_cache=True))
        y = np.array(train.sentiment)
        print(f"\n{task}: {x.shape[0]:,} texts x {x.shape[1]:,} features ({setting}); dev {dev_x.shape[0]:,} texts")
        print("logistic-regression member (multinomial), fitted on train, compared on dev:")
        compare_multinomial(x, y, dev_x, list(dev.sentiment), labels)  # type: ignore[arg-type]
        print("NB-LR member's binary fits (C 3), fitted on train, compared on dev:")
        compare_nb_binary(x, y, dev_x)


if __name__ == "__main__":
    main()
