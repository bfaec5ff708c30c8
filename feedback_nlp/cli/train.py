"""``feedback-nlp train``: train a model on labelled files and write a model directory."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer

from ..errors import FeedbackNLPError
from ..retrain import DEFAULT_TOLERANCE, ReplaceRefusedError, train_from_files
from ..validation import Columns
from .common import SENTIMENT_COLUMN, SENTIMENT_LABELS, TEXT_COLUMN, THEMES_COLUMN, fail


def train_command(
    data: list[Path] = typer.Argument(..., help="Labelled files (.jsonl, .csv, .tsv, .xlsx, .parquet) with text, themes and/or sentiment."),
    output: Path = typer.Option(None, "--output", "-o", help="New model directory to write (must not exist)."),
    base: str = typer.Option("default", "--base", help="'default': add your data to the shipped corpus; 'none': train on your data only."),
    dev: Path = typer.Option(None, "--dev", help="Labelled file to tune on; default: hold out 15% of DATA (seeded)."),
    seed: int = typer.Option(0, "--seed", help="Seed for the hold-out split and the solvers: same data and seed, same model."),
    labels: str = typer.Option(None, "--labels", help="Comma-separated theme names, in the order the model reports them (default: the themes in the data)."),
    sentiment_labels: str = SENTIMENT_LABELS,
    text_column: str = TEXT_COLUMN,
    themes_column: str = THEMES_COLUMN,
    sentiment_column: str = SENTIMENT_COLUMN,
    replace: Path = typer.Option(None, "--replace", help="Existing model directory to replace, only if the new model is not worse on held-out data; the old one is kept as a .bak directory."),
    force: bool = typer.Option(False, "--force", help="With --replace: replace even when the new model scores worse."),
    tolerance: float = typer.Option(DEFAULT_TOLERANCE, "--tolerance", help="With --replace: how much macro-F1 the new model may lose."),
    augment: bool = typer.Option(False, "--augment-no-diacritics", help="Also train on copies of the texts with diacritics removed (more robust to text typed without them; the shipped model uses it)."),
    neural: bool = typer.Option(False, "--neural", help="Also train a small word BiLSTM for the sentiment (single-choice) labels and blend it in with a weight chosen on dev. Needs PyTorch to train (pip install \"feedback-nlp[neural]\"), not to tag; it trains in background processes beside the linear search, roughly doubling training time (BENCHMARKS.md, section 3)."),
    drop_conflicts: bool = typer.Option(False, "--drop-conflicts", help="Leave out texts that appear with different labels (with a warning) instead of stopping."),
    jobs: int = typer.Option(-1, "--jobs", "-j", help="Processes for word segmentation (-1: all cores)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the segmentation cache (~/.cache/feedback-nlp)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the result."),
) -> None:
    """Train theme and sentiment models on labelled files, tuned on a dev split, and write MODEL_DIR.

    The model directory gets model.skops, meta.json (labels, thresholds, settings, file hashes,
    versions, dev metrics) and MODEL_CARD.md. It is written to a temporary directory first and
    renamed into place, so a failed run leaves nothing half-written.
    """
    say = (lambda _m: None) if quiet else (lambda m: typer.echo(m, err=True))
    try:
        result = train_from_files(
            data, output, base=base, dev_file=dev, seed=seed, columns=Columns(text_column, themes_column, sentiment_column),
            theme_labels=[t.strip() for t in labels.split(",") if t.strip()] if labels else None,
            sentiment_labels=[s.strip() for s in sentiment_labels.split(",") if s.strip()], replace=replace, force=force,
            tolerance=tolerance, n_jobs=jobs, use_cache=not no_cache, drop_conflicts=drop_conflicts,
            augment_without_diacritics=augment, neural=neural,
            command="feedback-nlp " + " ".join(shlex.quote(a) for a in sys.argv[1:]), progress=say,
        )
    except ReplaceRefusedError as exc:
        fail(str(exc), code=3)
    except FeedbackNLPError as exc:
        fail(str(exc))
    dev_metrics = result.meta["metrics"]["dev"]
    parts = []
    if "themes" in dev_metrics:
        parts.append(f"theme macro-F1 {dev_metrics['themes']['macro_f1']:.3f}")
    if "sentiment" in dev_metrics:
        parts.append(f"sentiment macro-F1 {dev_metrics['sentiment']['macro_f1']:.3f}")
    typer.echo(f"wrote {result.output} (dev: {', '.join(parts)})")
    if result.comparison:
        typer.echo(result.comparison["verdict_line"])
