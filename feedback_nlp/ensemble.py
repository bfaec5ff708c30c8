"""Single-choice (sentiment) head members and their ensemble.

Three linear models that err differently on text: logistic regression, a linear SVM (its
decision values turned into scores with a softmax), and logistic regression over features
scaled by naive-Bayes log-count ratios (NB-LR, Wang & Manning 2012). The trainer picks which
of them to combine by cross-validated macro-F1; the ensemble multiplies (geometric mean) the
members' class probabilities.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

SVM_SCORE_SCALE = 3.0  # decision values are margins, ~[-1.5, 1.5]; the scale only spreads the softmax


class SoftmaxLinearSVC(ClassifierMixin, BaseEstimator):
    """A linear SVM whose ``predict_proba`` is a softmax over its decision values."""

    def __init__(self, C: float = 1.0, class_weight: str | None = "balanced", random_state: int = 0) -> None:
        self.C = C
        self.class_weight = class_weight
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> SoftmaxLinearSVC:
        self.svm_ = LinearSVC(C=self.C, class_weight=self.class_weight, random_state=self.random_state).fit(X, y)
        self.classes_ = self.svm_.classes_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        decision = self.svm_.decision_function(X)
        if decision.ndim == 1:
            decision = np.column_stack([-decision, decision])
        return softmax(decision * SVM_SCORE_SCALE, axis=1)


class NBLogisticRegression(ClassifierMixin, BaseEstimator):
    """One-vs-rest logistic regression over features scaled by naive-Bayes log-count ratios."""

    def __init__(self, C: float = 3.0, random_state: int = 0) -> None:
        self.C = C
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> NBLogisticRegression:
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        present = (X > 0).astype(np.float32).tocsr()
        ratios, estimators = [], []
        for label in self.classes_:
            mask = y == label
            p = np.asarray(present[mask].sum(axis=0)).ravel() + 1.0
            q = np.asarray(present[~mask].sum(axis=0)).ravel() + 1.0
            ratio = np.log((p / p.sum()) / (q / q.sum())).astype(np.float32)
            ratios.append(ratio)
            # dual=True: as the theme heads (model.py), faster where texts are fewer than features.
            clf = LogisticRegression(C=self.C, solver="liblinear", dual=True, max_iter=2000, random_state=self.random_state)
            estimators.append(clf.fit(X @ sp.diags(ratio), mask))
        self.ratios_ = np.vstack(ratios)
        self.estimators_ = estimators
        return self

    def _folded(self) -> tuple[np.ndarray, np.ndarray]:
        # A logistic regression on X·diag(r) with weights w is one on X with weights w∘r: fold
        # the ratios in once, so predicting is one sparse product (no per-call diagonal matrix).
        folded = self.__dict__.get("_folded_weights")
        if folded is None:
            weights = np.column_stack([clf.coef_[0] * r for clf, r in zip(self.estimators_, self.ratios_)])
            bias = np.array([clf.intercept_[0] for clf in self.estimators_])
            folded = self.__dict__["_folded_weights"] = (weights, bias)
        return folded

    def predict_proba(self, X: Any) -> np.ndarray:
        weights, bias = self._folded()
        scores = expit(np.asarray(X @ weights) + bias)
        return scores / np.clip(scores.sum(axis=1, keepdims=True), 1e-12, None)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_folded_weights", None)
        return state


class SentimentEnsemble(ClassifierMixin, BaseEstimator):
    """Geometric mean of the members' class probabilities (members share ``classes_``)."""

    def __init__(self, members: Sequence[Any] = ()) -> None:
        self.members = members

    def fit(self, X: Any, y: Any) -> SentimentEnsemble:
        self.members_ = [clone(m).fit(X, y) for m in self.members]
        self.classes_ = self.members_[0].classes_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        return combine([m.predict_proba(X) for m in self.members_])

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def combine(probabilities: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray:
    """Geometric mean (weighted, when ``weights`` summing to 1 are given) of probability
    matrices, renormalised per row."""
    logs = [np.log(np.clip(p, 1e-9, 1.0)) for p in probabilities]
    log_mean = np.mean(logs, axis=0) if weights is None else sum(w * log for w, log in zip(weights, logs))
    merged = np.exp(log_mean - log_mean.max(axis=1, keepdims=True))
    return merged / merged.sum(axis=1, keepdims=True)


def candidate_members(C: float, class_weight: str | None, seed: int) -> dict[str, Any]:
    """The members the trainer may combine; logistic regression keeps the tuned C and weighting."""
    return {
        # newton-cg, not the default lbfgs: 1.7-3.8x faster on UIT-VSFC, and as close or closer to
        # the optimum at the same tolerance (BENCHMARKS.md, section 3).
        "lr": LogisticRegression(C=C, class_weight=class_weight, solver="newton-cg", max_iter=3000, random_state=seed),
        "svm": SoftmaxLinearSVC(C=1.0, class_weight="balanced", random_state=seed),
        "nblr": NBLogisticRegression(C=3.0, random_state=seed),
    }
