"""Why a text got its themes and sentiment: the n-grams that pushed each decision most.

The heads are linear, so a feature's push on a decision is exactly its TF-IDF value times its
weight; these pushes plus the intercept make up the decision score.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Reason:
    feature: str  # a word n-gram ("sách_nhiễu"), syllables:"sách nhiễu" or a character n-gram chars:"nhieu"
    weight: float  # push on the decision (log-odds units); positive pushes towards the label

    def to_dict(self) -> dict[str, Any]:
        return {"feature": self.feature, "weight": round(self.weight, 4)}


@dataclass
class Decision:
    label: str
    score: float
    threshold: float
    predicted: bool
    reasons: list[Reason] = field(default_factory=list)

    @property
    def margin(self) -> float:
        """How far the score is above (positive) or below (negative) the decision threshold."""
        return self.score - self.threshold

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "score": round(self.score, 4), "threshold": round(self.threshold, 4),
                "margin": round(self.margin, 4), "predicted": self.predicted, "reasons": [r.to_dict() for r in self.reasons]}


@dataclass
class Explanation:
    text: str
    themes: list[Decision]  # predicted themes, then the theme nearest its threshold among the others
    sentiment: Decision | None  # threshold = the runner-up's probability
    skipped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "skipped": self.skipped, "themes": [d.to_dict() for d in self.themes],
                "sentiment": None if self.sentiment is None else self.sentiment.to_dict()}


def feature_names(model: Any) -> list[str]:
    """Names of the featuriser's columns in order (cached on the model)."""
    cached = model.__dict__.get("_feature_names")
    if cached is not None:
        return cached
    names: list[str] = []
    for block_name, block in model.featuriser_.transformer_list:
        inverse = sorted(block.vocabulary_, key=block.vocabulary_.get)
        if block_name == "chars":
            names += [f'chars:"{g.replace(" ", "·")}"' for g in inverse]
        elif block_name == "syllables":
            names += [f'syllables:"{g}"' for g in inverse]
        else:
            names += inverse
    model.__dict__["_feature_names"] = names
    return names


def _relative(coef: np.ndarray) -> np.ndarray:
    if coef.shape[0] == 1:  # two classes: scikit-learn keeps one row, for the second class
        coef = np.vstack([-coef[0], coef[0]])
    # Push towards each class relative to the average class (softmax is shift-invariant).
    return coef - coef.mean(axis=0)


def class_weights(estimator: Any) -> np.ndarray:
    """Per-class feature weights (n_classes, n_features) of a sentiment head, in log-score units.

    Exact for logistic regression and the SVM's decision values; for NB-LR the ratio scaling is
    folded into the weights; for an ensemble, the members' weights are averaged (its scores are
    the geometric mean of theirs)."""
    from .ensemble import NBLogisticRegression, SentimentEnsemble, SoftmaxLinearSVC

    if isinstance(estimator, SentimentEnsemble):
        return np.mean([class_weights(member) for member in estimator.members_], axis=0)
    if isinstance(estimator, SoftmaxLinearSVC):
        return _relative(estimator.svm_.coef_)
    if isinstance(estimator, NBLogisticRegression):
        return _relative(np.vstack([clf.coef_[0] * r for clf, r in zip(estimator.estimators_, estimator.ratios_)]))
    return _relative(estimator.coef_)


def _top_reasons(row: Any, weights: np.ndarray, names: list[str], top: int) -> list[Reason]:
    pushes = row.data * weights[row.indices]
    order = np.argsort(-pushes)[:top]
    return [Reason(names[row.indices[k]], float(pushes[k])) for k in order if pushes[k] > 0]


def explain_text(model: Any, text: Any, top: int = 8) -> Explanation:
    """Explain ``model``'s themes and sentiment for one text (see module docstring)."""
    from .model import prepare_text

    reason = model.check_text(text)
    doc = prepare_text(text) if reason is None else ""
    if reason is None and not doc:
        reason = "no_words"
    if reason is not None:
        return Explanation(text if isinstance(text, str) else repr(text), [], None, skipped=reason)
    row = model.featuriser_.transform([doc]).tocsr()
    names = feature_names(model)
    theme_scores, sentiment_scores = model.predict_proba_features(row)
    sentiment_scores = model.blend_neural([doc], sentiment_scores)  # reasons below come from the linear part
    decisions = []
    for j, (label, clf) in enumerate(zip(model.theme_labels_, model.theme_estimators_)):
        score, threshold = float(theme_scores[0, j]), float(model.thresholds_[label])
        decisions.append(Decision(label, score, threshold, score >= threshold, _top_reasons(row, clf.coef_[0], names, top)))
    chosen = [d for d in decisions if d.predicted]
    others = sorted((d for d in decisions if not d.predicted), key=lambda d: -d.margin)
    themes = chosen + others[:1]
    sentiment = None
    if model.sentiment_estimator_ is not None:
        probabilities = sentiment_scores[0]
        order = np.argsort(-probabilities)
        best, runner_up = model.sentiment_labels_[order[0]], model.sentiment_labels_[order[1]] if len(order) > 1 else None
        classes = [str(c) for c in model.sentiment_estimator_.classes_]
        relative = class_weights(model.sentiment_estimator_)[classes.index(best)]
        sentiment = Decision(best, float(probabilities[order[0]]),
                             float(probabilities[order[1]]) if runner_up else 0.0, True,
                             _top_reasons(row, relative, names, top))
    return Explanation(text, themes, sentiment)


def format_explanation(explanation: Explanation) -> str:
    """A plain-text table of an explanation for the terminal."""
    if explanation.skipped:
        return f"not tagged ({explanation.skipped}): {explanation.text[:80]}"
    lines = []
    for decision in explanation.themes + ([explanation.sentiment] if explanation.sentiment else []):
        is_sentiment = decision is explanation.sentiment
        kind = "sentiment" if is_sentiment else ("theme" if decision.predicted else "theme (not given)")
        against = "runner-up" if is_sentiment else "threshold"
        lines.append(f"{kind} {decision.label}: score {decision.score:.3f}, {against} {decision.threshold:.3f}, margin {decision.margin:+.3f}")
        for reason in decision.reasons:
            lines.append(f"    {reason.weight:+7.3f}  {reason.feature}")
    return "\n".join(lines) if lines else "no theme is near its threshold and the model has no sentiment head"
