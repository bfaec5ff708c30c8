"""``feedback-nlp tag``: tag texts given as arguments or read from standard input."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path

import typer

from ..model import TagResult
from .common import FIX_ENCODING_HELP, MODEL_HELP, FixEncoding, fail, load_model_or_exit


class OutputFormat(str, Enum):
    json = "json"
    table = "table"


def format_table(results: list[TagResult]) -> str:
    """A plain-text table: one line per text with themes, sentiment and the text's start."""
    rows = [("#", "themes", "sentiment", "text")]
    for i, r in enumerate(results, 1):
        themes = ", ".join(f"{t} {r.theme_scores[t]:.2f}" for t in r.themes) or ("-" if not r.skipped else f"(skipped: {r.skipped})")
        text = r.text if isinstance(r.text, str) else repr(r.text)
        text = " ".join(text.split())
        rows.append((str(i), themes, f"{r.sentiment} {r.sentiment_scores.get(r.sentiment, 0):.2f}", text[:70] + ("…" if len(text) > 70 else "")))
    widths = [max(len(row[k]) for row in rows) for k in range(3)]
    return "\n".join(f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:<{widths[2]}}  {d}" for a, b, c, d in rows)


def tag_command(
    texts: list[str] = typer.Argument(..., help='Texts to tag. Use "-" to read one text per line from standard input.'),
    output_format: OutputFormat = typer.Option(OutputFormat.json, "--format", "-f", help="json: one JSON object per line; table: aligned columns for reading."),
    model_dir: Path = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    fix_encoding: FixEncoding = typer.Option(FixEncoding.auto, "--fix-encoding", help=FIX_ENCODING_HELP),
) -> None:
    """Tag texts with themes and sentiment and print the result of each."""
    if texts == ["-"]:
        texts = [line.rstrip("\r\n") for line in sys.stdin]
    elif "-" in texts:
        fail('"-" (read standard input) cannot be mixed with texts given as arguments.', code=2)
    model = load_model_or_exit(model_dir)
    results = model.tag_many(texts, fix_encoding=fix_encoding is FixEncoding.auto)
    if output_format is OutputFormat.table:
        typer.echo(format_table(results))
    else:
        for result in results:
            typer.echo(json.dumps(result.to_dict(), ensure_ascii=False))
