"""Stage 4: the classifier. One estimator with two heads over shared features.

`FeedbackModel` follows scikit-learn's estimator API (parameters in ``__init__``, learned
state with a trailing underscore, ``fit``/``predict``/``predict_proba``) and adds the
user-facing ``tag``/``tag_many``. Themes are multi-label (one logistic regression per theme,
each with its own decision threshold); sentiment is multi-class (one multinomial logistic
regression).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import expit
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression

from .ensemble import SentimentEnsemble, candidate_members
from .errors import InvalidTextError, TrainingError
from .features import build_featuriser
from .labels import NEUTRAL, LabelSet
from .normalise import normalise_text
from .segment import segment_words

DEFAULT_MAX_CHARS = 50_000


@dataclass
class TagResult:
    """Themes and sentiment of one text. ``skipped`` says why a text was not tagged."""

    text: Any
    themes: list[str]
    theme_scores: dict[str, float]
    sentiment: str
    sentiment_scores: dict[str, float]
    skipped: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "text": self.text if isinstance(self.text, str) else None,
            "themes": list(self.themes),
            "theme_scores": dict(self.theme_scores),
            "sentiment": self.sentiment,
            "sentiment_scores": dict(self.sentiment_scores),
        }
        if self.skipped:
            out["skipped"] = self.skipped
        out.update(self.extra)
        return out


def split_targets(y: Any) -> tuple[list[list[str] | None] | None, list[str | None] | None]:
    """Read training targets given as a DataFrame/mapping of columns or a sequence of records.

    Each record has ``themes`` (a list of names) and/or ``sentiment`` (a name); a missing
    column means that head is not trained, a None value that the row does not train it.
    """
    if y is None:
        raise TrainingError("fit() needs targets: records or columns with 'themes' and/or 'sentiment'.")
    if hasattr(y, "columns") or isinstance(y, Mapping):
        columns = list(y.columns) if hasattr(y, "columns") else list(y.keys())
        themes = [None if t is None else list(t) for t in y["themes"]] if "themes" in columns else None
        sentiment = [None if s is None else str(s) for s in y["sentiment"]] if "sentiment" in columns else None
    else:
        records = list(y)
        has_themes = all(isinstance(r, Mapping) and "themes" in r for r in records)
        has_sentiment = all(isinstance(r, Mapping) and "sentiment" in r for r in records)
        themes = [None if r["themes"] is None else list(r["themes"]) for r in records] if has_themes else None
        sentiment = [None if r["sentiment"] is None else str(r["sentiment"]) for r in records] if has_sentiment else None
    if themes is None and sentiment is None:
        raise TrainingError("The targets have neither a 'themes' nor a 'sentiment' column.")
    return themes, sentiment


def prepare_text(text: str) -> str:
    """Normalise and segment one text: what the featuriser consumes."""
    return segment_words(normalise_text(text))


class FeedbackModel(BaseEstimator):
    """Theme (multi-label) and sentiment (multi-class) classifier for Vietnamese feedback.

    ``fit(X, y)`` takes raw texts and targets (see :func:`split_targets`); after fitting,
    ``thresholds_`` holds one decision threshold per theme (0.5 until tuned).
    """

    def __init__(
        self,
        word_ngram_range: tuple[int, int] = (1, 2),
        char_ngram_range: tuple[int, int] = (2, 5),
        min_df: int = 1,
        char_max_features: int | None = 300_000,
        theme_C: float = 10.0,
        sentiment_C: float = 10.0,
        class_weight: str | None = "balanced",
        theme_labels: Sequence[str] | None = None,
        sentiment_labels: Sequence[str] | None = None,
        max_chars: int = DEFAULT_MAX_CHARS,
        random_state: int = 0,
        sentiment_members: tuple[str, ...] = ("lr",),
        syllable_ngram_range: tuple[int, int] | None = None,
    ) -> None:
        self.word_ngram_range = word_ngram_range
        self.char_ngram_range = char_ngram_range
        self.min_df = min_df
        self.char_max_features = char_max_features
        self.theme_C = theme_C
        self.sentiment_C = sentiment_C
        self.class_weight = class_weight
        self.theme_labels = theme_labels
        self.sentiment_labels = sentiment_labels
        self.max_chars = max_chars
        self.random_state = random_state
        self.sentiment_members = sentiment_members
        self.syllable_ngram_range = syllable_ngram_range

    # ----------------------------------------------------------------- fitting
    def fit(self, X: Iterable[str], y: Any, *, prepared: Sequence[str] | None = None,
            theme_scope: Sequence[Any] | None = None) -> FeedbackModel:
        """Fit features and both heads.

        ``prepared`` may pass already segmented texts. A row whose ``themes`` or ``sentiment``
        is None does not train that head; ``theme_scope`` (one set of theme names per row)
        limits which themes a row is a positive or negative example for.
        """
        texts = list(X)
        themes, sentiment = split_targets(y)
        docs = list(prepared) if prepared is not None else [prepare_text(t) for t in texts]
        if len(docs) != len(texts):
            raise TrainingError(f"{len(texts)} texts but {len(docs)} prepared texts.")
        for name, column in (("themes", themes), ("sentiment", sentiment), ("theme_scope", theme_scope)):
            if column is not None and len(column) != len(texts):
                raise TrainingError(f"{len(texts)} texts but {len(column)} '{name}' values.")
        self.featuriser_ = self.fit_featuriser(docs)
        return self.fit_heads(self.featuriser_.transform(docs), themes, sentiment, theme_scope)

    def new_featuriser(self) -> Any:
        """Return an unfitted featuriser (a FeatureUnion of TF-IDF blocks) with this model's settings."""
        return build_featuriser(self.word_ngram_range, self.char_ngram_range, self.min_df, self.char_max_features,
                                self.syllable_ngram_range)

    def fit_featuriser(self, docs: Sequence[str]) -> Any:
        """Return a featuriser with this model's settings, fitted on segmented texts."""
        return self.new_featuriser().fit(docs)

    def fit_heads(self, features: Any, themes: Sequence[Sequence[str] | None] | None, sentiment: Sequence[str | None] | None,
                  theme_scope: Sequence[Any] | None = None) -> FeedbackModel:
        """Fit the theme and sentiment heads on features from the already fitted ``featuriser_``."""
        self.theme_labels_: list[str] = []
        self.theme_estimators_: list[LogisticRegression] = []
        self.thresholds_: dict[str, float] = {}
        if themes is not None and any(row is not None for row in themes):
            self._fit_themes(features, themes, theme_scope)
        self.sentiment_labels_: list[str] = []
        self.sentiment_estimator_: Any = None
        self.sentiment_bias_ = np.zeros(0)
        self.sentiment_neural_: Any = None  # optional WordBiLSTM (feedback_nlp.neural), set by the trainer
        self.neural_weight_ = 0.0
        if sentiment is not None and any(s is not None for s in sentiment):
            self._fit_sentiment(features, sentiment)
        return self

    def _fit_themes(self, features: Any, themes: Sequence[Sequence[str] | None], scope: Sequence[Any] | None) -> None:
        seen = sorted({t for row in themes if row is not None for t in row})
        labels = list(self.theme_labels) if self.theme_labels is not None else seen
        unknown = sorted(set(seen) - set(labels))
        if unknown:
            raise TrainingError(f"Theme names {unknown} are not among the declared themes {labels}.")
        for label in labels:
            rows = [i for i, row in enumerate(themes) if row is not None and (scope is None or label in scope[i])]
            target = np.array([label in themes[i] for i in rows], dtype=bool)  # type: ignore[operator]
            if target.all() or not target.any():
                raise TrainingError(
                    f"Theme '{label}' is on {'every' if target.all() else 'no'} training text that is labelled for it; "
                    "a theme needs both positive and negative examples."
                )
            # The dual solver: texts are fewer than features, and it was 1.6-3x faster than the primal
            # one on UIT-VSFC, and closer to the optimum (BENCHMARKS.md, section 3).
            clf = LogisticRegression(
                C=self.theme_C, class_weight=self.class_weight, solver="liblinear", dual=True, max_iter=1000,
                random_state=self.random_state,
            )
            self.theme_estimators_.append(clf.fit(features[rows] if len(rows) < features.shape[0] else features, target))
        self.theme_labels_ = labels
        self.thresholds_ = {label: 0.5 for label in labels}

    def _fit_sentiment(self, features: Any, sentiment: Sequence[str | None]) -> None:
        rows = [i for i, s in enumerate(sentiment) if s is not None]
        values = [str(sentiment[i]) for i in rows]
        labels = list(self.sentiment_labels) if self.sentiment_labels is not None else sorted(set(values))
        unknown = sorted(set(values) - set(labels))
        if unknown:
            raise TrainingError(f"Sentiment names {unknown} are not among the declared sentiments {labels}.")
        if len(set(values)) < 2:
            raise TrainingError("Sentiment needs at least two different labels in the training data.")
        members = candidate_members(self.sentiment_C, self.class_weight, self.random_state)
        chosen = [members[name] for name in self.sentiment_members]
        clf = chosen[0] if list(self.sentiment_members) == ["lr"] else SentimentEnsemble(chosen)
        self.sentiment_estimator_ = clf.fit(features[rows] if len(rows) < features.shape[0] else features, np.asarray(values))
        self.sentiment_labels_ = labels
        self.sentiment_bias_ = np.zeros(len(labels))

    # -------------------------------------------------------------- predicting
    @property
    def labels(self) -> LabelSet:
        """Theme and sentiment names this model predicts."""
        return LabelSet(tuple(self.theme_labels_), tuple(self.sentiment_labels_))

    def predict_proba_prepared(self, docs: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Theme and sentiment probabilities for segmented texts, columns in label order."""
        if len(docs) == 0:
            return np.zeros((0, len(self.theme_labels_))), np.zeros((0, len(self.sentiment_labels_)))
        themes, sentiment = self.predict_proba_features(self.featuriser_.transform(docs))
        return themes, self.blend_neural(docs, sentiment)

    def blend_neural(self, docs: Sequence[str], sentiment: np.ndarray) -> np.ndarray:
        """Sentiment probabilities blended with the neural member's, when the model has one."""
        neural = getattr(self, "sentiment_neural_", None)
        weight = getattr(self, "neural_weight_", 0.0)
        if neural is None or not weight or not len(docs):
            return sentiment
        from .neural import blend

        return blend(sentiment, neural.predict_proba_in(list(docs), self.sentiment_labels_), weight)

    def predict_proba_features(self, features: Any) -> tuple[np.ndarray, np.ndarray]:
        """Theme and sentiment probabilities from featurised texts (sentiment offsets applied)."""
        n = features.shape[0]
        themes = np.zeros((n, len(self.theme_labels_)))
        if self.theme_estimators_ and n:
            # One sparse product for all themes: each head is a binary logistic regression.
            weights, bias = self._stacked_theme_weights()
            themes = expit(features @ weights + bias)
        sentiment = np.zeros((n, len(self.sentiment_labels_)))
        if self.sentiment_estimator_ is not None and n:
            proba = self.sentiment_estimator_.predict_proba(features)
            for k, label in enumerate(self.sentiment_estimator_.classes_):
                sentiment[:, self.sentiment_labels_.index(str(label))] = proba[:, k]
            bias = getattr(self, "sentiment_bias_", None)
            if bias is not None and np.any(bias):
                # Offsets tuned on dev for macro-F1, applied in log space and renormalised.
                sentiment = sentiment * np.exp(bias)
                sentiment /= sentiment.sum(axis=1, keepdims=True)
        return themes, sentiment

    def _stacked_theme_weights(self) -> tuple[np.ndarray, np.ndarray]:
        stacked = self.__dict__.get("_stacked")
        if stacked is None or stacked[0] is not self.theme_estimators_:
            weights = np.column_stack([clf.coef_[0] for clf in self.theme_estimators_])
            bias = np.array([clf.intercept_[0] for clf in self.theme_estimators_])
            stacked = self.__dict__["_stacked"] = (self.theme_estimators_, weights, bias)
        return stacked[1], stacked[2]

    def predict_proba(self, X: Iterable[str]) -> dict[str, np.ndarray]:
        """``{"themes": (n, n_themes), "sentiment": (n, n_sentiments)}`` probabilities."""
        themes, sentiment = self.predict_proba_prepared([prepare_text(t) for t in X])
        return {"themes": themes, "sentiment": sentiment}

    def predict(self, X: Iterable[str]) -> list[dict[str, Any]]:
        """``[{"themes": [...], "sentiment": name}, ...]`` in input order."""
        return [{"themes": r.themes, "sentiment": r.sentiment} for r in self.tag_many(list(X), strict=True)]

    # ------------------------------------------------------------------ tagging
    def _result_from_scores(self, text: Any, theme_row: np.ndarray, sentiment_row: np.ndarray) -> TagResult:
        theme_scores = {t: round(float(p), 4) for t, p in zip(self.theme_labels_, theme_row)}
        themes = [t for t, p in zip(self.theme_labels_, theme_row) if p >= self.thresholds_[t]]
        sentiment_scores = {s: round(float(p), 4) for s, p in zip(self.sentiment_labels_, sentiment_row)}
        sentiment = self.sentiment_labels_[int(np.argmax(sentiment_row))] if self.sentiment_labels_ else ""
        return TagResult(text, themes, theme_scores, sentiment, sentiment_scores)

    def skipped_result(self, text: Any, reason: str) -> TagResult:
        """The result for a text that was not tagged: no themes, neutral sentiment."""
        neutral = NEUTRAL if NEUTRAL in self.sentiment_labels_ else (self.sentiment_labels_ or [""])[0]
        return TagResult(
            text, [], {t: 0.0 for t in self.theme_labels_}, neutral,
            {s: float(s == neutral) for s in self.sentiment_labels_}, skipped=reason,
        )

    def check_text(self, text: Any, strict: bool = False) -> str | None:
        """Return why ``text`` cannot be tagged ("missing", "not_text", "empty", "too_long"), or None."""
        if not isinstance(text, str):
            missing = text is None or (isinstance(text, float) and math.isnan(text))
            if strict:
                kind = "None/NaN" if missing else type(text).__name__
                raise InvalidTextError(f"Expected a text (str), got {kind}: {text!r:.60}")
            return "missing" if missing else "not_text"
        if not text.strip():
            return "empty"
        if len(text) > self.max_chars:
            return "too_long"
        return None

    def explain(self, text: Any, top: int = 8) -> Any:
        """The n-grams that pushed each predicted theme and the sentiment most, with the margin
        to each decision threshold (see :mod:`feedback_nlp.explain`)."""
        from .explain import explain_text

        return explain_text(self, text, top)

    def tag_frame(self, frame: Any, text_column: str | Sequence[str] | None = None, *, by_sentence: bool = False,
                  fix_encoding: bool = True) -> Any:
        """Return a copy of a DataFrame with themes, scores, sentiment and error columns added."""
        from .batch import tag_frame

        return tag_frame(self, frame, text_column, by_sentence=by_sentence, fix_encoding=fix_encoding)

    def tag(self, text: Any, *, strict: bool = False, fix_encoding: bool = True) -> TagResult:
        """Tag one text. Non-text, empty and over-long input is skipped with a reason
        (or, with ``strict=True``, non-text raises :class:`InvalidTextError`)."""
        return self.tag_many([text], strict=strict, fix_encoding=fix_encoding)[0]

    def tag_many(self, texts: Iterable[Any], *, strict: bool = False, batch_size: int = 2048,
                 fix_encoding: bool = True) -> list[TagResult]:
        """Tag texts in input order. Texts identical after normalisation are classified once.
        ``fix_encoding=False`` leaves text that looks like TCVN3/VNI mojibake as it is."""
        texts = list(texts)
        results: list[TagResult | None] = [None] * len(texts)
        positions: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            reason = self.check_text(text, strict)
            normalised = normalise_text(text, fix_encoding=fix_encoding) if reason is None else ""
            if reason is None and not normalised:
                reason = "empty"
            if reason is not None:
                results[i] = self.skipped_result(text, reason)
            else:
                positions.setdefault(normalised, []).append(i)
        unique = list(positions)
        for start in range(0, len(unique), batch_size):
            chunk = unique[start:start + batch_size]
            themes, sentiment = self.predict_proba_prepared([segment_words(t) for t in chunk])
            for row, normalised in enumerate(chunk):
                for i in positions[normalised]:
                    results[i] = self._result_from_scores(texts[i], themes[row], sentiment[row])
        return results  # type: ignore[return-value]
