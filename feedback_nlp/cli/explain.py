"""``feedback-nlp explain``: show which words pushed a text's themes and sentiment."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path

import typer

from ..explain import format_explanation
from .common import MODEL_HELP, load_model_or_exit


class ExplainFormat(str, Enum):
    table = "table"
    json = "json"


def explain_command(
    text: str = typer.Argument(..., help="The text to explain."),
    output_format: ExplainFormat = typer.Option(ExplainFormat.table, "--format", "-f", help="table for reading, json for tools."),
    top: int = typer.Option(8, "--top", help="How many n-grams to show per decision."),
    model_dir: Path = typer.Option(None, "--model", "-m", help=MODEL_HELP),
) -> None:
    """For each predicted theme, the nearest theme not given, and the sentiment: the words and
    n-grams that pushed the decision most (weight = TF-IDF value x model weight) and the score's
    margin to its threshold (for sentiment: to the runner-up class)."""
    explanation = load_model_or_exit(model_dir).explain(text, top=top)
    if output_format is ExplainFormat.json:
        typer.echo(json.dumps(explanation.to_dict(), ensure_ascii=False, indent=2))
    else:
        typer.echo(format_explanation(explanation))
