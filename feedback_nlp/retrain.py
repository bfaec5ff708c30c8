"""Retrain on users' labelled files: add them to the shipped corpus (or not), tune, write a
model directory with its meta.json and MODEL_CARD.md, and replace an existing model only when
the new one is not worse on held-out data."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import __version__
from .data import LabelledData
from .errors import FeedbackNLPError, TrainingError
from .evaluation import compare_metrics, evaluate_model
from .labels import DEFAULT_THEMES, SENTIMENTS
from .persistence import load_model, save_model
from .training import Progress, hold_out, train_model
from .validation import Columns, corpus_files, load_labelled

CORPUS_DIR = Path(__file__).resolve().parent.parent / "corpora" / "civic_feedback"
DEFAULT_TOLERANCE = 0.01


class ReplaceRefusedError(FeedbackNLPError):
    """A retrained model scored worse than the model it was to replace."""


@dataclass
class TrainResult:
    output: Path
    meta: dict[str, Any]
    comparison: dict[str, Any] | None = None
    backup: Path | None = None


def _fingerprint(files: dict[str, str]) -> str:
    return hashlib.sha256("".join(f"{Path(k).name}:{v}\n" for k, v in sorted(files.items())).encode()).hexdigest()


def base_corpus() -> tuple[LabelledData, LabelledData]:
    """The shipped corpus's train and dev splits (its test split stays out for honest checks)."""
    files = corpus_files(CORPUS_DIR)
    options = {"theme_labels": DEFAULT_THEMES}
    return load_labelled([files["train"]], **options), load_labelled([files["dev"]], **options)


def train_from_files(
    data_files: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str] | None = None,
    *,
    base: str = "default",
    dev_file: str | os.PathLike[str] | None = None,
    seed: int = 0,
    columns: Columns | None = None,
    theme_labels: Sequence[str] | None = None,
    sentiment_labels: Sequence[str] = SENTIMENTS,
    replace: str | os.PathLike[str] | None = None,
    force: bool = False,
    tolerance: float = DEFAULT_TOLERANCE,
    n_jobs: int = -1,
    use_cache: bool = True,
    grid: dict[str, list[Any]] | None = None,
    drop_conflicts: bool = False,
    augment_without_diacritics: bool = False,
    neural: bool = False,
    command: str | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Train from labelled files and write the model directory (see module docstring)."""
    say = progress or (lambda _msg: None)
    if base not in ("default", "none"):
        raise TrainingError(f"--base must be 'default' or 'none', not {base!r}.")
    target = Path(replace if replace is not None else output) if (replace or output) else None
    if target is None:
        raise TrainingError("Say where to write the model with -o/--output or --replace.")
    if replace is not None and output is not None and Path(output).resolve() != Path(replace).resolve():
        raise TrainingError("Give either -o/--output or --replace, not both.")
    if replace is None and target.exists():
        raise TrainingError(f"{target} already exists; use --replace {target} to replace it safely, or another -o.")
    options = {"columns": columns, "sentiment_labels": list(sentiment_labels), "theme_labels": theme_labels,
               "drop_conflicts": drop_conflicts}
    user = load_labelled(list(data_files), **options)
    say(f"read {len(user):,} labelled texts from {len(data_files)} file(s)")
    if dev_file is not None:
        user_train, user_dev = user, load_labelled([dev_file], **options)
    else:
        user_train, user_dev = hold_out(user, 0.15, seed)
    if base == "default":
        base_train, base_dev = base_corpus()
        train, dev = base_train.concat(user_train), base_dev.concat(user_dev)
    else:
        train, dev = user_train, user_dev
    names = sorted({t for row in train.themes or [] if row for t in row})
    if theme_labels is not None:
        labels = list(theme_labels)
    elif base == "default":
        labels = list(DEFAULT_THEMES) + [t for t in names if t not in DEFAULT_THEMES]
    else:
        labels = names
    model, report = train_model(
        train, dev, seed=seed, grid=grid, theme_labels=labels or None, sentiment_labels=list(sentiment_labels),
        n_jobs=n_jobs, use_cache=use_cache, augment_without_diacritics=augment_without_diacritics, neural=neural,
        progress=say,
    )
    # The users' own held-out texts, scored by the model as tuned before the final refit (which
    # sees them): the fair ground for comparing with an existing model.
    # With --base none the dev split is the users' own, and the trainer has already scored it so.
    held_out_metrics = (report.dev_metrics if dev is user_dev
                        else evaluate_model(report.tuned_model, user_dev, use_cache=use_cache))  # segmented while training
    comparison, backup = None, None
    if replace is not None and Path(replace).exists():
        old = load_model(replace)
        comparison = compare_metrics(evaluate_model(old, user_dev, use_cache=use_cache), held_out_metrics, tolerance, names=("old", "new"))
        say(comparison["verdict_line"])
        if comparison["verdict"] == "worse" and not force:
            raise ReplaceRefusedError(
                f"Not replacing {replace}: {comparison['verdict_line']}. The old model is unchanged; use --force to replace anyway."
            )
    all_files = {**train.files, **dev.files}
    meta = {
        "name": target.name,
        "version": f"{__version__}+{datetime.now(timezone.utc).strftime('%Y%m%d%H%M%S')}",
        "created": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "training_data": {
            "files": all_files, "fingerprint": _fingerprint(all_files), "base": base,
            "n_train": len(train), "n_dev": len(dev), "fitted_on": "train + dev (tuned on dev)",
        },
        "tuning": {"chosen": report.params, "seed": seed, "seconds": report.seconds, "tried": len(report.tried),
                   "neural": report.neural},
        "metrics": {"dev": report.dev_metrics, "held_out_user_data": held_out_metrics},
        "recipe": command or "feedback-nlp train",
    }
    meta["_extra_files"] = {"MODEL_CARD.md": model_card(meta, labels, list(sentiment_labels))}
    if replace is not None and target.exists():
        backup = target.with_name(f"{target.name}.bak-{datetime.now().strftime('%Y%m%dT%H%M%S')}")
        shutil.copytree(target, backup)
        say(f"kept the old model as {backup}")
    save_model(model, target, meta)
    meta.pop("_extra_files", None)
    return TrainResult(target, meta, comparison, backup)


def _neural_lines(neural: dict[str, Any] | None) -> list[str]:
    if not neural:
        return []
    if not neural["weight"]:
        return ["", f"A neural member (word BiLSTM) was trained but left out: blending it did not raise dev macro-F1 ({neural['dev_macro_f1']:.3f})."]
    return ["", f"Sentiment blends a word BiLSTM ({neural['size']} units, {neural['epochs']} epochs, learnt from scratch) "
                f"into the linear model's scores with weight {neural['weight']} (chosen on dev). Explanations list the linear "
                "model's features only; the scores include the network."]


def model_card(meta: dict[str, Any], themes: list[str], sentiments: list[str]) -> str:
    """A short MODEL_CARD.md: intended use, data, per-label dev metrics, limitations."""
    dev = meta["metrics"]["dev"]
    lines = [
        f"# Model card: {meta['name']} ({meta['version']})",
        "",
        "## Intended use",
        "Tagging Vietnamese civic feedback (citizen comments, survey answers, petitions, news on administrative reform)",
        f"with themes ({', '.join(themes) or 'none'}) and sentiment ({', '.join(sentiments)}), for analysts who read the",
        "results in aggregate and check samples. Not for decisions about individual people or officials.",
        "",
        "## Training data",
        f"Base corpus: {meta['training_data']['base']}. {meta['training_data']['n_train']:,} training and "
        f"{meta['training_data']['n_dev']:,} dev texts; fitted on {meta['training_data']['fitted_on']}.",
        "",
        "| file | SHA-256 |", "|---|---|",
        *(f"| {Path(path).name} | `{digest[:16]}…` |" for path, digest in meta["training_data"]["files"].items()),
        "",
        f"Chosen settings: `{meta['tuning']['chosen']}` (seed {meta['tuning']['seed']}).",
        *_neural_lines(meta["tuning"].get("neural")),
        "",
        "## Metrics on the dev split (before the final refit)",
    ]
    if "themes" in dev:
        lines += ["", "| theme | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
        lines += [f"| {t} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |" for t, m in dev["themes"]["per_theme"].items()]
        lines += ["", f"Theme macro-F1 {dev['themes']['macro_f1']:.3f}, micro-F1 {dev['themes']['micro_f1']:.3f}, "
                      f"texts with no true theme that got one: {dev['themes']['false_theme_rate']:.1%}."]
    if "sentiment" in dev:
        lines += ["", "| sentiment | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
        lines += [f"| {s} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |" for s, m in dev["sentiment"]["per_class"].items()]
        lines += ["", f"Sentiment macro-F1 {dev['sentiment']['macro_f1']:.3f}, accuracy {dev['sentiment']['accuracy']:.3f}."]
    lines += [
        "",
        "## Limitations",
        "- A linear model over word and character n-grams: it knows the wording of its training data, not the world;",
        "  sarcasm, long reasoning and new slang are often missed.",
        "- Dev scores come from data written or labelled by the same people as the training data and flatter the model;",
        "  expect lower accuracy on other offices' wording. Check a sample of the output before reporting figures.",
        "- Texts over the length limit and texts without words are not tagged (their `error` says why).",
        "",
    ]
    return "\n".join(lines)
