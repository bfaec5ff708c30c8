"""``feedback-nlp info``: what a model is, what it predicts and how well it scored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from ..normalise import NORMALISER_VERSION
from .common import MODEL_HELP, load_model_or_exit


def describe_model(meta: dict[str, Any], model_dir: str) -> str:
    """A readable summary of a model's meta.json."""
    lines = [
        f"model:        {meta.get('name', '?')} {meta.get('version', '?')}  ({model_dir})",
        f"created:      {meta.get('created', '?')}",
        f"themes:       {', '.join(meta['labels']['themes']) or '(none)'}",
        f"sentiments:   {', '.join(meta['labels']['sentiments']) or '(none)'}",
        "thresholds:   " + ", ".join(f"{k} {v:.2f}" for k, v in meta.get("thresholds", {}).items()),
        f"training data: fingerprint {meta.get('training_data', {}).get('fingerprint', '?')}",
    ]
    for path, digest in meta.get("training_data", {}).get("files", {}).items():
        lines.append(f"    {path}  sha256 {digest[:16]}…")
    lines.append("libraries:    " + ", ".join(f"{k} {v}" for k, v in meta.get("libraries", {}).items()))
    lines.append(f"normaliser:   version {meta.get('normaliser_version', '?')} (this installation normalises with version {NORMALISER_VERSION})")
    lines.append(f"recipe:       {meta.get('recipe', '?')}")
    for split, metrics in meta.get("metrics", {}).items():
        themes, sentiment = metrics.get("themes"), metrics.get("sentiment")
        lines.append(f"metrics on {split} ({metrics.get('n_texts', '?')} texts):")
        if themes:
            per = ", ".join(f"{k} {v['f1']:.3f}" for k, v in themes["per_theme"].items())
            lines.append(f"    themes: macro-F1 {themes['macro_f1']:.3f}, micro-F1 {themes['micro_f1']:.3f}  ({per})")
        if sentiment:
            lines.append(f"    sentiment: macro-F1 {sentiment['macro_f1']:.3f}, accuracy {sentiment['accuracy']:.3f}")
    return "\n".join(lines)


def info_command(
    model_dir: Path = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the model's full meta.json instead of a summary."),
) -> None:
    """Show a model's version, labels, thresholds, training data, library versions and scores."""
    model = load_model_or_exit(model_dir)
    if as_json:
        typer.echo(json.dumps(model.meta_, ensure_ascii=False, indent=2))
    else:
        typer.echo(describe_model(model.meta_, model.model_dir_))
