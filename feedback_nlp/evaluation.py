"""Metrics for theme (multi-label) and sentiment (multi-class) predictions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from .data import LabelledData, sentiment_rows, theme_rows


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


def macro_f1_codes(true: np.ndarray, pred: np.ndarray, n_classes: int) -> float:
    """Macro-F1 of integer-coded labels 0..n_classes-1 (as ``f1_score(average="macro")`` over
    all classes, zero_division=0), without sklearn's per-call overhead: tuning calls it thousands
    of times."""
    counts = np.bincount(true * n_classes + pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
    denominator = counts.sum(axis=0) + counts.sum(axis=1)
    f1 = np.divide(2.0 * np.diag(counts), denominator, out=np.zeros(n_classes), where=denominator > 0)
    return float(f1.mean())


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


def evaluate_prepared(model: Any, docs: Sequence[str], data: LabelledData) -> dict[str, Any]:
    """Metrics of ``model`` on already segmented texts with their labels (unlabelled rows skipped)."""
    themes, sentiment = model.predict_proba_prepared(list(docs))
    out: dict[str, Any] = {"n_texts": len(docs)}
    with_themes = theme_rows(data)
    if with_themes and model.theme_labels_:
        scope = data.scope()
        labels = [t for t in model.theme_labels_ if any(t in scope[i] for i in with_themes)] or model.theme_labels_
        predicted = [[t for j, t in enumerate(model.theme_labels_) if themes[i, j] >= model.thresholds_[t]] for i in with_themes]
        out["themes"] = theme_metrics([data.themes[i] for i in with_themes], predicted, labels)  # type: ignore[index]
    with_sentiment = sentiment_rows(data)
    if with_sentiment and model.sentiment_labels_:
        predicted_s = [model.sentiment_labels_[int(k)] for k in np.argmax(sentiment[with_sentiment], axis=1)]
        out["sentiment"] = sentiment_metrics([data.sentiment[i] for i in with_sentiment], predicted_s, model.sentiment_labels_)  # type: ignore[index]
    return out


def evaluate_model(model: Any, data: LabelledData, *, n_jobs: int = 1, use_cache: bool = False) -> dict[str, Any]:
    """Normalise, segment and score ``data`` with ``model``; metrics as :func:`evaluate_prepared`.
    ``use_cache`` reads and fills the training segmentation cache (``training.SegmentationCache``)."""
    from .training import prepare_texts

    return evaluate_prepared(model, prepare_texts(data.texts, n_jobs, use_cache=use_cache), data)


def _headline(metrics: dict[str, Any], themes: Sequence[str] | None) -> dict[str, float]:
    out = {}
    if "themes" in metrics:
        per = metrics["themes"]["per_theme"]
        names = [t for t in (themes or per) if t in per]
        out["theme macro-F1"] = round(float(np.mean([per[t]["f1"] for t in names])), 4) if names else 0.0
    if "sentiment" in metrics:
        out["sentiment macro-F1"] = metrics["sentiment"]["macro_f1"]
    return out


def compare_metrics(a: dict[str, Any], b: dict[str, Any], tolerance: float = 0.01,
                    names: tuple[str, str] = ("A", "B")) -> dict[str, Any]:
    """Per-label differences of two evaluations of the same data, and a verdict on B against A.

    B is "worse" when a headline score (theme macro-F1 over the themes both know, sentiment
    macro-F1) drops by more than ``tolerance``; "better" when none drops that much and one rises
    by more; otherwise "same".
    """
    rows = []
    shared_themes = None
    if "themes" in a and "themes" in b:
        shared_themes = [t for t in a["themes"]["per_theme"] if t in b["themes"]["per_theme"]]
        for theme in sorted(set(a["themes"]["per_theme"]) | set(b["themes"]["per_theme"])):
            fa = a["themes"]["per_theme"].get(theme, {}).get("f1")
            fb = b["themes"]["per_theme"].get(theme, {}).get("f1")
            rows.append({"label": f"theme {theme}", names[0]: fa, names[1]: fb, "diff": None if fa is None or fb is None else round(fb - fa, 4)})
        for key in ("micro_f1", "subset_accuracy", "false_theme_rate"):
            rows.append({"label": f"themes {key}", names[0]: a["themes"][key], names[1]: b["themes"][key], "diff": round(b["themes"][key] - a["themes"][key], 4)})
    if "sentiment" in a and "sentiment" in b:
        for label in a["sentiment"]["per_class"]:
            fa, fb = a["sentiment"]["per_class"][label]["f1"], b["sentiment"]["per_class"].get(label, {}).get("f1")
            rows.append({"label": f"sentiment {label}", names[0]: fa, names[1]: fb, "diff": None if fb is None else round(fb - fa, 4)})
        for key in ("weighted_f1", "accuracy"):
            rows.append({"label": f"sentiment {key}", names[0]: a["sentiment"][key], names[1]: b["sentiment"][key], "diff": round(b["sentiment"][key] - a["sentiment"][key], 4)})
    head_a, head_b = _headline(a, shared_themes), _headline(b, shared_themes)
    deltas = {k: round(head_b[k] - head_a[k], 4) for k in head_a if k in head_b}
    if not deltas:
        verdict = "incomparable"
    elif any(d < -tolerance for d in deltas.values()):
        verdict = "worse"
    elif any(d > tolerance for d in deltas.values()):
        verdict = "better"
    else:
        verdict = "same"
    described = ", ".join(f"{k} {head_a[k]:.3f} -> {head_b[k]:.3f} ({deltas[k]:+.3f})" for k in deltas)
    verdict_line = f"verdict: {names[1]} is {verdict} than {names[0]}" if verdict in ("better", "worse") else (
        f"verdict: {names[1]} is the same as {names[0]} within {tolerance}" if verdict == "same" else "verdict: no shared labels to compare")
    return {"rows": rows, "headline": {names[0]: head_a, names[1]: head_b}, "deltas": deltas, "tolerance": tolerance,
            "verdict": verdict, "verdict_line": f"{verdict_line} ({described})" if described else verdict_line}


def metrics_report(output: dict[str, Any]) -> str:
    """A Markdown report of ``feedback-nlp evaluate`` results."""
    lines = [f"# Evaluation on `{output['data']}`", ""]
    for name, metrics in output["models"].items():
        lines += [f"## Model `{name}` ({metrics['n_texts']} texts)", ""]
        if "themes" in metrics:
            t = metrics["themes"]
            lines += ["| theme | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
            lines += [f"| {k} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |" for k, m in t["per_theme"].items()]
            lines += ["", f"Micro-F1 {t['micro_f1']:.3f}, macro-F1 {t['macro_f1']:.3f}, subset accuracy {t['subset_accuracy']:.3f}; "
                          f"{t['false_theme_rate']:.1%} of the {t['no_theme_texts']} texts without a true theme were given one.", ""]
        if "sentiment" in metrics:
            s = metrics["sentiment"]
            lines += ["| sentiment | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
            lines += [f"| {k} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |" for k, m in s["per_class"].items()]
            labels = s["confusion_matrix"]["labels"]
            lines += ["", f"Macro-F1 {s['macro_f1']:.3f}, weighted-F1 {s['weighted_f1']:.3f}, accuracy {s['accuracy']:.3f}.", "",
                      "Confusion matrix (rows: true, columns: predicted)", "",
                      "| | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
            lines += [f"| {label} | " + " | ".join(str(v) for v in row) + " |"
                      for label, row in zip(labels, s["confusion_matrix"]["rows_true_cols_pred"])]
            lines.append("")
    comparison = output.get("comparison")
    if comparison:
        a, b = list(output["models"])
        lines += ["## Comparison", "", f"| label | {a} | {b} | diff |", "|---|---:|---:|---:|"]
        for row in comparison["rows"]:
            fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
            lines.append(f"| {row['label']} | {fmt(row[a])} | {fmt(row[b])} | {'' if row['diff'] is None else format(row['diff'], '+.3f')} |")
        lines += ["", f"**{comparison['verdict_line']}**", ""]
    return "\n".join(lines)
