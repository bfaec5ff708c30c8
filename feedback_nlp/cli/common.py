"""Helpers shared by CLI commands: loading a model and reporting errors in one line."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import NoReturn

import typer

from ..errors import FeedbackNLPError
from ..labels import SENTIMENTS
from ..model import FeedbackModel
from ..persistence import load_model

MODEL_HELP = "Model directory (holds meta.json and model.skops). Default: the shipped model."
# Options shared by the commands that read labelled files (validate, train, evaluate).
TEXT_COLUMN = typer.Option("text", "--text-column", help="Column holding the text.")
THEMES_COLUMN = typer.Option("themes", "--themes-column", help="Column holding the themes (a list, or names split by ; | or ,).")
SENTIMENT_COLUMN = typer.Option("sentiment", "--sentiment-column", help="Column holding the sentiment name.")
SENTIMENT_LABELS = typer.Option(",".join(SENTIMENTS), "--sentiment-labels",
                                help="Comma-separated sentiment (or other single-choice) label names.")
FIX_ENCODING_HELP = "auto: convert text typed in the legacy TCVN3 (ABC) or VNI encodings to Unicode; off: leave it."


class FixEncoding(str, Enum):
    auto = "auto"
    off = "off"


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def load_model_or_exit(model_dir: Path | None) -> FeedbackModel:
    try:
        return load_model(model_dir)
    except FeedbackNLPError as exc:
        fail(str(exc))
