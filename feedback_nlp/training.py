"""Train a FeedbackModel: segment, tune on a dev split, refit on everything.

Tuning picks the featuriser settings, the regularisation strength and class weighting of each
head by dev macro-F1, and one decision threshold per theme by dev F1. Deterministic for a
given seed.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from joblib import Parallel, delayed

from .errors import TrainingError
from .evaluation import best_threshold, sentiment_metrics, theme_metrics
from .model import FeedbackModel, prepare_text

Progress = Callable[[str], None]

# Feature settings cheapest first: a later (costlier) setting must beat an earlier one on dev
# by more than TOLERANCE to be chosen, so tagging speed does not hang on dev-split noise.
DEFAULT_GRID: dict[str, list[Any]] = {
    "features": [
        {"word_ngram_range": (1, 2), "char_ngram_range": (3, 5)},
        {"word_ngram_range": (1, 2), "char_ngram_range": (2, 5)},
        {"word_ngram_range": (1, 3), "char_ngram_range": (2, 5)},
    ],
    "C": [1.0, 3.0, 10.0, 30.0],
    "class_weight": ["balanced", None],
}
TOLERANCE = 0.005


@dataclass
class LabelledData:
    """Texts with optional theme lists and sentiment names (None: that head is not trained)."""

    texts: list[str]
    themes: list[list[str]] | None = None
    sentiment: list[str] | None = None
    files: dict[str, str] = field(default_factory=dict)  # path -> SHA-256

    def __len__(self) -> int:
        return len(self.texts)

    def concat(self, other: LabelledData) -> LabelledData:
        if (self.themes is None) != (other.themes is None) or (self.sentiment is None) != (other.sentiment is None):
            raise TrainingError("Cannot combine data sets with different label columns (themes/sentiment).")
        return LabelledData(
            self.texts + other.texts,
            None if self.themes is None else self.themes + other.themes,  # type: ignore[operator]
            None if self.sentiment is None else self.sentiment + other.sentiment,  # type: ignore[operator]
            {**self.files, **other.files},
        )


def _prepare_chunk(texts: list[str]) -> list[str]:
    return [prepare_text(t) for t in texts]


def prepare_texts(texts: Sequence[str], n_jobs: int = 1, chunk_size: int = 2000) -> list[str]:
    """Normalise and segment texts in order; with n_jobs > 1, in worker processes."""
    texts = list(texts)
    if n_jobs == 1 or len(texts) < 2 * chunk_size:
        return _prepare_chunk(texts)
    chunks = [texts[i:i + chunk_size] for i in range(0, len(texts), chunk_size)]
    done = Parallel(n_jobs=n_jobs)(delayed(_prepare_chunk)(chunk) for chunk in chunks)
    return [doc for chunk in done for doc in chunk]


@dataclass
class TrainingReport:
    """What tuning chose and how it scored on the dev split."""

    params: dict[str, Any]
    thresholds: dict[str, float]
    dev_metrics: dict[str, Any]
    seconds: float
    tried: list[dict[str, Any]]


def _score_themes(model: FeedbackModel, dev_features: Any, dev_themes: list[list[str]]) -> tuple[float, dict[str, float]]:
    labels = model.theme_labels_
    thresholds = {}
    for j, clf in enumerate(model.theme_estimators_):
        scores = clf.predict_proba(dev_features)[:, 1]
        target = np.array([labels[j] in row for row in dev_themes])
        thresholds[labels[j]], _ = best_threshold(scores, target)
    model.thresholds_ = thresholds
    predicted = _predict_themes(model, dev_features)
    return theme_metrics(dev_themes, predicted, labels)["macro_f1"], thresholds


def _predict_themes(model: FeedbackModel, features: Any) -> list[list[str]]:
    columns = [clf.predict_proba(features)[:, 1] >= model.thresholds_[t] for t, clf in zip(model.theme_labels_, model.theme_estimators_)]
    return [[t for t, col in zip(model.theme_labels_, columns) if col[i]] for i in range(features.shape[0])]


def train_model(
    train: LabelledData,
    dev: LabelledData | None = None,
    *,
    seed: int = 0,
    grid: dict[str, list[Any]] | None = None,
    theme_labels: Sequence[str] | None = None,
    sentiment_labels: Sequence[str] | None = None,
    dev_fraction: float = 0.15,
    n_jobs: int = 1,
    progress: Progress | None = None,
) -> tuple[FeedbackModel, TrainingReport]:
    """Tune on ``dev`` (or a seeded hold-out of ``train``), then refit on train + dev."""
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    grid = grid or DEFAULT_GRID
    if dev is None:
        train, dev = _hold_out(train, dev_fraction, seed)
    say(f"segmenting {len(train) + len(dev)} texts")
    train_docs = prepare_texts(train.texts, n_jobs)
    dev_docs = prepare_texts(dev.texts, n_jobs)
    base = {"theme_labels": theme_labels, "sentiment_labels": sentiment_labels, "random_state": seed}
    best_theme: tuple[float, dict[str, Any], dict[str, float]] = (-1.0, {}, {})
    best_sentiment: tuple[float, dict[str, Any]] = (-1.0, {})
    tried = []
    for feature_params in grid["features"]:
        say(f"featurising with {feature_params}")
        model = FeedbackModel(**base, **feature_params)
        model.featuriser_ = model.fit_featuriser(train_docs)
        train_x, dev_x = model.featuriser_.transform(train_docs), model.featuriser_.transform(dev_docs)
        for c, weight in itertools.product(grid["C"], grid["class_weight"]):
            params = {**feature_params, "theme_C": c, "sentiment_C": c, "class_weight": weight}
            model.set_params(**params)
            model.fit_heads(train_x, train.themes, train.sentiment)
            entry: dict[str, Any] = {k: v for k, v in params.items()}
            if train.themes is not None:
                score, thresholds = _score_themes(model, dev_x, dev.themes)  # type: ignore[arg-type]
                entry["theme_macro_f1"] = score
                if score > best_theme[0] + TOLERANCE:
                    best_theme = (score, params, thresholds)
            if train.sentiment is not None:
                predicted = model.sentiment_estimator_.predict(dev_x)  # type: ignore[union-attr]
                score = sentiment_metrics(dev.sentiment, list(predicted), model.sentiment_labels_)["macro_f1"]  # type: ignore[arg-type]
                entry["sentiment_macro_f1"] = score
                if score > best_sentiment[0] + TOLERANCE:
                    best_sentiment = (score, params)
            tried.append(entry)
            say(f"tried {entry}")
    chosen = _combine_choices(grid, best_theme[1], best_sentiment[1], tried)
    # Score the chosen setting on dev once more, for the report.
    model = FeedbackModel(**base, **chosen)
    model.fit(train.texts, _targets(train), prepared=train_docs)
    dev_metrics = evaluate_prepared(model, dev_docs, dev, thresholds=best_theme[2] or None)
    say(f"refitting on train + dev ({len(train) + len(dev)} texts) with {chosen}")
    everything = train.concat(dev)
    final = FeedbackModel(**base, **chosen)
    final.fit(everything.texts, _targets(everything), prepared=train_docs + dev_docs)
    if best_theme[2]:
        final.thresholds_ = dict(best_theme[2])
    report = TrainingReport(
        params=chosen, thresholds=dict(final.thresholds_), dev_metrics=dev_metrics,
        seconds=round(time.perf_counter() - started, 2), tried=tried,
    )
    return final, report


def _combine_choices(grid: dict[str, list[Any]], theme_params: dict[str, Any], sentiment_params: dict[str, Any], tried: list[dict[str, Any]]) -> dict[str, Any]:
    """Both heads share one featuriser: keep the feature setting with the best summed dev score."""
    if not theme_params or not sentiment_params:
        return dict(theme_params or sentiment_params)
    if all(theme_params[k] == sentiment_params[k] for k in ("word_ngram_range", "char_ngram_range")):
        features = {k: theme_params[k] for k in ("word_ngram_range", "char_ngram_range")}
    else:
        def best_of(key: str, feats: dict[str, Any]) -> float:
            return max(e[key] for e in tried if all(e[k] == v for k, v in feats.items()))
        features = max(grid["features"], key=lambda f: best_of("theme_macro_f1", f) + best_of("sentiment_macro_f1", f))
        def best_for(key: str) -> dict[str, Any]:
            return max((e for e in tried if all(e[k] == v for k, v in features.items())), key=lambda e: e[key])
        theme_params, sentiment_params = best_for("theme_macro_f1"), best_for("sentiment_macro_f1")
    return {
        **features,
        "theme_C": theme_params["theme_C"], "sentiment_C": sentiment_params["sentiment_C"],
        # One class_weight serves both heads; themes are imbalanced so theirs wins.
        "class_weight": theme_params["class_weight"],
    }


def _targets(data: LabelledData) -> dict[str, list[Any]]:
    targets: dict[str, list[Any]] = {}
    if data.themes is not None:
        targets["themes"] = data.themes
    if data.sentiment is not None:
        targets["sentiment"] = data.sentiment
    return targets


def _hold_out(data: LabelledData, fraction: float, seed: int) -> tuple[LabelledData, LabelledData]:
    if len(data) < 20:
        raise TrainingError(f"Only {len(data)} labelled texts: at least 20 are needed to hold out a dev split.")
    order = np.random.default_rng(seed).permutation(len(data))
    n_dev = max(10, int(round(fraction * len(data))))
    dev_idx, train_idx = sorted(order[:n_dev]), sorted(order[n_dev:])

    def take(idx: list[int]) -> LabelledData:
        return LabelledData(
            [data.texts[i] for i in idx],
            None if data.themes is None else [data.themes[i] for i in idx],
            None if data.sentiment is None else [data.sentiment[i] for i in idx],
            data.files,
        )
    return take(train_idx), take(dev_idx)


def evaluate_prepared(model: FeedbackModel, docs: Sequence[str], data: LabelledData, thresholds: dict[str, float] | None = None) -> dict[str, Any]:
    """Metrics of ``model`` on already segmented texts with their labels."""
    if thresholds:
        model.thresholds_ = dict(thresholds)
    themes, sentiment = model.predict_proba_prepared(list(docs))
    out: dict[str, Any] = {"n_texts": len(docs)}
    if data.themes is not None and model.theme_labels_:
        predicted = [[t for j, t in enumerate(model.theme_labels_) if themes[i, j] >= model.thresholds_[t]] for i in range(len(docs))]
        out["themes"] = theme_metrics(data.themes, predicted, model.theme_labels_)
    if data.sentiment is not None and model.sentiment_labels_:
        predicted_s = [model.sentiment_labels_[int(k)] for k in np.argmax(sentiment, axis=1)]
        out["sentiment"] = sentiment_metrics(data.sentiment, predicted_s, model.sentiment_labels_)
    return out
