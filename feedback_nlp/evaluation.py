"""Metrics for theme (multi-label) and sentiment (multi-class) predictions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support


def theme_metrics(true: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], labels: Sequence[str]) -> dict[str, Any]:
    """Per-theme P/R/F1/support, micro and macro F1, subset accuracy, false-theme rate."""
    labels = list(labels)
    y_true = np.array([[t in row for t in labels] for row in true], dtype=bool).reshape(len(true), len(labels))
    y_pred = np.array([[t in row for t in labels] for row in pred], dtype=bool).reshape(len(pred), len(labels))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, average=None, zero_division=0)
    no_theme = ~y_true.any(axis=1)
    return {
        "per_theme": {
            label: {"precision": round(float(p[j]), 4), "recall": round(float(r[j]), 4), "f1": round(float(f[j]), 4), "support": int(s[j])}
            for j, label in enumerate(labels)
        },
        "micro_f1": round(float(f1_score(y_true, y_pred, average="micro", zero_division=0)), 4),
        "macro_f1": round(float(f1_score(y_true, y_pred, average="macro", zero_division=0)), 4),
        "subset_accuracy": round(float((y_true == y_pred).all(axis=1).mean()), 4) if len(true) else 0.0,
        "no_theme_texts": int(no_theme.sum()),
        "false_theme_rate": round(float(y_pred[no_theme].any(axis=1).mean()), 4) if no_theme.any() else 0.0,
    }


def sentiment_metrics(true: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """Per-class P/R/F1/support, macro and weighted F1, accuracy, confusion matrix (rows = true)."""
    labels = list(labels)
    p, r, f, s = precision_recall_fscore_support(true, pred, labels=labels, average=None, zero_division=0)
    return {
        "per_class": {
            label: {"precision": round(float(p[k]), 4), "recall": round(float(r[k]), 4), "f1": round(float(f[k]), 4), "support": int(s[k])}
            for k, label in enumerate(labels)
        },
        "macro_f1": round(float(f1_score(true, pred, labels=labels, average="macro", zero_division=0)), 4),
        "weighted_f1": round(float(f1_score(true, pred, labels=labels, average="weighted", zero_division=0)), 4),
        "accuracy": round(float(accuracy_score(true, pred)), 4) if len(true) else 0.0,
        "confusion_matrix": {"labels": labels, "rows_true_cols_pred": confusion_matrix(true, pred, labels=labels).tolist()},
    }


def best_threshold(scores: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """The decision threshold that maximises F1 on (scores, target); ties go to the one nearest 0.5."""
    best = (0.5, -1.0)
    for threshold in np.round(np.arange(0.05, 0.951, 0.01), 2):
        predicted = scores >= threshold
        tp = float(np.sum(predicted & target))
        denom = float(predicted.sum() + target.sum())
        f1 = 2 * tp / denom if denom else 0.0
        if f1 > best[1] + 1e-9 or (abs(f1 - best[1]) <= 1e-9 and abs(threshold - 0.5) < abs(best[0] - 0.5)):
            best = (float(threshold), f1)
    return best
