"""``feedback-nlp evaluate``: score a model on labelled data, optionally against another model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from ..errors import FeedbackNLPError
from ..evaluation import compare_metrics, evaluate_model, metrics_report
from ..validation import Columns, load_labelled
from .common import SENTIMENT_COLUMN, SENTIMENT_LABELS, TEXT_COLUMN, THEMES_COLUMN, MODEL_HELP, fail, load_model_or_exit


def _summary(metrics: dict[str, Any]) -> str:
    lines = []
    if "themes" in metrics:
        t = metrics["themes"]
        lines.append("theme            precision  recall     F1  support")
        for name, m in t["per_theme"].items():
            lines.append(f"{name:<16} {m['precision']:>9.3f} {m['recall']:>7.3f} {m['f1']:>6.3f} {m['support']:>8}")
        lines.append(f"themes: micro-F1 {t['micro_f1']:.3f}, macro-F1 {t['macro_f1']:.3f}, subset accuracy {t['subset_accuracy']:.3f}, "
                     f"texts without a true theme given one: {t['false_theme_rate']:.1%} of {t['no_theme_texts']}")
    if "sentiment" in metrics:
        s = metrics["sentiment"]
        lines.append("sentiment        precision  recall     F1  support")
        for name, m in s["per_class"].items():
            lines.append(f"{name:<16} {m['precision']:>9.3f} {m['recall']:>7.3f} {m['f1']:>6.3f} {m['support']:>8}")
        lines.append(f"sentiment: macro-F1 {s['macro_f1']:.3f}, weighted-F1 {s['weighted_f1']:.3f}, accuracy {s['accuracy']:.3f}")
        labels = s["confusion_matrix"]["labels"]
        lines.append("confusion (rows true, columns predicted): " + " | ".join(
            f"{label}: {row}" for label, row in zip(labels, s["confusion_matrix"]["rows_true_cols_pred"])))
    return "\n".join(lines)


def _comparison_table(comparison: dict[str, Any], names: tuple[str, str]) -> str:
    def cell(value: Any) -> str:
        return "-" if value is None else f"{value:.3f}"

    lines = [f"{'label':<28} {names[0]:>8} {names[1]:>8}   diff"]
    for row in comparison["rows"]:
        diff = "" if row["diff"] is None else f"{row['diff']:+.3f}"
        lines.append(f"{row['label']:<28} {cell(row[names[0]]):>8} {cell(row[names[1]]):>8} {diff:>7}")
    lines.append(comparison["verdict_line"])
    return "\n".join(lines)


def evaluate_command(
    data: Path = typer.Argument(..., help="Labelled file to score on (.jsonl, .csv, .tsv, .xlsx, .parquet)."),
    model_dir: Path = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    compare: Path = typer.Option(None, "--compare", help="Another model directory: show both side by side with a verdict."),
    json_out: Path = typer.Option(None, "--json", help="Write all metrics as JSON here."),
    report: Path = typer.Option(None, "--report", help="Write a Markdown report here."),
    tolerance: float = typer.Option(0.01, "--tolerance", help="With --compare: differences within this are 'the same'."),
    text_column: str = TEXT_COLUMN,
    themes_column: str = THEMES_COLUMN,
    sentiment_column: str = SENTIMENT_COLUMN,
    sentiment_labels: str = SENTIMENT_LABELS,
) -> None:
    """Per-theme and per-class precision, recall and F1, micro/macro/weighted F1, subset accuracy,
    the confusion matrix and the rate of theme-less texts given a theme."""
    model = load_model_or_exit(model_dir)
    try:
        labelled = load_labelled([data], columns=Columns(text_column, themes_column, sentiment_column),
                                 sentiment_labels=[s.strip() for s in sentiment_labels.split(",")], min_examples=0)
    except FeedbackNLPError as exc:
        fail(str(exc))
    metrics = evaluate_model(model, labelled)
    names = (str(model_dir or "default"), str(compare)) if compare else (str(model_dir or "default"),)
    output: dict[str, Any] = {"data": str(data), "models": {names[0]: metrics}}
    typer.echo(f"{names[0]} on {data} ({len(labelled)} texts)\n{_summary(metrics)}")
    comparison = None
    if compare:
        other = load_model_or_exit(compare)
        other_metrics = evaluate_model(other, labelled)
        output["models"][names[1]] = other_metrics
        typer.echo(f"\n{names[1]} on {data}\n{_summary(other_metrics)}")
        comparison = compare_metrics(metrics, other_metrics, tolerance, names=(names[0], names[1]))
        output["comparison"] = comparison
        typer.echo("\n" + _comparison_table(comparison, (names[0], names[1])))
    if json_out:
        json_out.write_text(json.dumps(output, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    if report:
        report.write_text(metrics_report(output), encoding="utf-8")
