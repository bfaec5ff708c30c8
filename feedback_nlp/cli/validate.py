"""``feedback-nlp validate``: check labelled files against the label standard before training."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import SENTIMENT_COLUMN, SENTIMENT_LABELS, TEXT_COLUMN, THEMES_COLUMN
from ..validation import MIN_EXAMPLES, Columns, ValidationReport, validate_files


def format_summary(report: ValidationReport) -> str:
    """Counts per label as an aligned table."""
    n = max(report.n_rows, 1)
    rows = [("label", "records", "share")]
    for name, count in sorted(report.theme_counts.items()):
        rows.append((f"theme {name}", str(count), f"{100 * count / n:.1f}%"))
    if report.has_themes:
        rows.append(("no theme", str(report.no_theme), f"{100 * report.no_theme / n:.1f}%"))
        rows.append(("2+ themes", str(report.multi_theme), f"{100 * report.multi_theme / n:.1f}%"))
    for name, count in sorted(report.sentiment_counts.items()):
        rows.append((f"sentiment {name}", str(count), f"{100 * count / n:.1f}%"))
    rows.append(("all records", str(report.n_rows), ""))
    widths = [max(len(r[k]) for r in rows) for k in range(3)]
    return "\n".join(f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c:>{widths[2]}}" for a, b, c in rows)


def validate_command(
    files: list[Path] = typer.Argument(..., help="Labelled files: .jsonl, .csv, .tsv, .xlsx or .parquet."),
    labels: str = typer.Option(None, "--labels", help="Comma-separated theme names allowed (default: any)."),
    sentiment_labels: str = SENTIMENT_LABELS,
    text_column: str = TEXT_COLUMN,
    themes_column: str = THEMES_COLUMN,
    sentiment_column: str = SENTIMENT_COLUMN,
    corpus: bool = typer.Option(False, "--corpus", help="Also check the corpus fields id, source and style, and treat duplicates and non-NFC text as errors."),
    min_examples: int = typer.Option(MIN_EXAMPLES, "--min-examples", help="Fewest examples a label needs."),
) -> None:
    """Check labelled files: columns, empty texts, label names, duplicates, NFC, class sizes.

    Prints each problem with file and line (JSONL) or row (spreadsheets, header = row 1),
    then a table of counts per label. Exits 1 when there are errors.
    """
    report, _ = validate_files(
        files,
        theme_labels=[t.strip() for t in labels.split(",")] if labels else None,
        sentiment_labels=[s.strip() for s in sentiment_labels.split(",")],
        columns=Columns(text_column, themes_column, sentiment_column),
        corpus_schema=corpus,
        min_examples=min_examples,
    )
    for problem in report.problems:
        typer.echo(str(problem), err=True)
    typer.echo(format_summary(report))
    typer.echo(f"{len(report.errors)} error(s), {len(report.warnings)} warning(s) in {len(files)} file(s).")
    if report.errors:
        raise typer.Exit(1)
