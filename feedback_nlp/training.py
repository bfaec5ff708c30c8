"""Train a FeedbackModel: segment, tune on a dev split, refit on everything.

Tuning picks the featuriser settings, the regularisation strength and class weighting of each
head by dev macro-F1, one decision threshold per theme by dev F1, and per-class offsets of the
sentiment scores by dev macro-F1 (rare classes such as "neutral" otherwise lose to priors).
Deterministic for a given seed.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.base import clone

from .data import LabelledData, sentiment_rows, theme_rows
from .ensemble import candidate_members, combine
from .errors import TrainingError
from .features import strip_diacritics
from .evaluation import best_threshold, evaluate_prepared, macro_f1_codes, sentiment_metrics, theme_metrics
from .model import FeedbackModel
from .normalise import NORMALISER_VERSION, normalise_text
from .segment import segment_words

Progress = Callable[[str], None]

# Feature settings cheapest first: a later (costlier) setting must beat an earlier one on dev
# by more than TOLERANCE to be chosen, so tagging speed does not hang on dev-split noise.
# The search is coordinate-wise: each feature setting is scored at the PROBE_C values (first
# class weight), then only the chosen setting gets the full C x class-weight grid. Settings may
# add "syllable_ngram_range" (features.build_featuriser); the default grid leaves it out, as it
# costs 7% of tagging throughput for no reliable gain through the trainer (BENCHMARKS.md, section 3).
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
PROBE_C = (3.0, 10.0)


def grid_with_syllables(syllable_ngram_range: tuple[int, int]) -> dict[str, list[Any]]:
    """DEFAULT_GRID plus its first and last feature settings with a syllable n-gram block added
    (the settings measured in BENCHMARKS.md, section 3)."""
    first, last = DEFAULT_GRID["features"][0], DEFAULT_GRID["features"][-1]
    extra = [{**first, "syllable_ngram_range": tuple(syllable_ngram_range)}, {**last, "syllable_ngram_range": tuple(syllable_ngram_range)}]
    return {**DEFAULT_GRID, "features": DEFAULT_GRID["features"] + extra}


# --------------------------------------------------------------------------- segmentation cache
def cache_dir() -> Path:
    """Where segmentations are cached across runs: $FEEDBACK_NLP_CACHE or ~/.cache/feedback-nlp."""
    return Path(os.environ.get("FEEDBACK_NLP_CACHE") or Path.home() / ".cache" / "feedback-nlp")


class SegmentationCache:
    """Segmented forms of normalised texts, kept in SQLite so later training runs skip underthesea."""

    def __init__(self, path: Path | None = None) -> None:
        from importlib.metadata import version

        self.path = path or cache_dir() / "segmentations.sqlite"
        self.namespace = f"n{NORMALISER_VERSION}-u{version('underthesea')}"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30)
        self._db.execute("CREATE TABLE IF NOT EXISTS seg (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.namespace}\0{text}".encode()).hexdigest()

    def get_many(self, texts: Sequence[str]) -> dict[str, str]:
        keys = {self._key(t): t for t in texts}
        found: dict[str, str] = {}
        items = list(keys)
        for start in range(0, len(items), 500):
            chunk = items[start:start + 500]
            rows = self._db.execute(f"SELECT key, value FROM seg WHERE key IN ({','.join('?' * len(chunk))})", chunk)
            found.update({keys[k]: v for k, v in rows})
        return found

    def put_many(self, pairs: dict[str, str]) -> None:
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO seg VALUES (?, ?)", [(self._key(t), s) for t, s in pairs.items()])

    def close(self) -> None:
        self._db.close()


def _segment_chunk(texts: list[str]) -> list[str]:
    return [segment_words(t) for t in texts]


def prepare_texts(texts: Sequence[str], n_jobs: int = 1, *, use_cache: bool = False, progress: Progress | None = None,
                  chunk_size: int = 1000) -> list[str]:
    """Normalise and segment texts in order: distinct texts once, on ``n_jobs`` processes
    (-1: all cores), reusing the on-disk cache when ``use_cache``."""
    normalised = [normalise_text(t) for t in texts]
    distinct = list(dict.fromkeys(normalised))
    cache = SegmentationCache() if use_cache else None
    done = cache.get_many(distinct) if cache else {}
    todo = [t for t in distinct if t not in done]
    if progress:
        progress(f"segmenting {len(todo):,} texts ({len(distinct) - len(todo):,} of {len(distinct):,} distinct from the cache)")
    if todo:
        chunks = [todo[i:i + chunk_size] for i in range(0, len(todo), chunk_size)]
        workers = _workers(n_jobs)
        if workers > 1 and len(todo) > 2 * chunk_size:
            results = Parallel(n_jobs=workers, return_as="generator")(delayed(_segment_chunk)(c) for c in chunks)
        else:
            results = (_segment_chunk(c) for c in chunks)
        new: dict[str, str] = {}
        for number, (chunk, segmented) in enumerate(zip(chunks, results), 1):
            new.update(zip(chunk, segmented))
            if progress and len(chunks) > 1:
                progress(f"segmented {min(number * chunk_size, len(todo)):,}/{len(todo):,}")
        if cache:
            cache.put_many(new)
        done.update(new)
    if cache:
        cache.close()
    return [done[t] for t in normalised]


# --------------------------------------------------------------------------- tuning
@dataclass
class TrainingReport:
    """What tuning chose and how it scored on the dev split."""

    params: dict[str, Any]
    thresholds: dict[str, float]
    sentiment_bias: dict[str, float]
    dev_metrics: dict[str, Any]
    seconds: float
    tried: list[dict[str, Any]]
    tuned_model: FeedbackModel  # fitted on train only: the one to score on held-out data
    cv_metrics: dict[str, Any]  # cross-validated scores of the sentiment model candidates
    neural: dict[str, Any] | None = None  # the neural member's epochs, blend weight and dev score


def _tune_thresholds(model: FeedbackModel, features: Any, data: LabelledData) -> tuple[float, dict[str, float]]:
    rows = theme_rows(data)
    scope = data.scope()
    scores = model.predict_proba_features(features[rows])[0]
    thresholds = {}
    for j, label in enumerate(model.theme_labels_):
        in_scope = np.array([label in scope[i] for i in rows], dtype=bool)
        target = np.array([label in data.themes[i] for i in rows], dtype=bool)  # type: ignore[index, operator]
        thresholds[label] = best_threshold(scores[in_scope, j], target[in_scope])[0] if in_scope.any() else 0.5
    model.thresholds_ = thresholds
    predicted = [[t for j, t in enumerate(model.theme_labels_) if scores[k, j] >= thresholds[t]] for k in range(len(rows))]
    return theme_metrics([data.themes[i] for i in rows], predicted, model.theme_labels_)["macro_f1"], thresholds  # type: ignore[index]


def tune_sentiment_bias(log_proba: np.ndarray, truth: Sequence[str], labels: Sequence[str]) -> tuple[np.ndarray, float]:
    """Per-class offsets added to log-probabilities that maximise macro-F1 (coordinate ascent)."""
    labels = list(labels)
    codes = np.array([labels.index(t) for t in truth], dtype=np.int64)
    bias = np.zeros(len(labels))

    def score(b: np.ndarray) -> float:
        return macro_f1_codes(codes, np.argmax(log_proba + b, axis=1), len(labels))

    best = score(bias)
    steps = np.round(np.arange(-2.0, 2.01, 0.25), 2)
    for _ in range(2):
        for k in range(len(labels)):
            for step in steps:
                trial = bias.copy()
                trial[k] = step
                value = score(trial)
                if value > best + 1e-9:
                    best, bias = value, trial
    return bias, round(best, 4)


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
    use_cache: bool = False,
    refit: bool = True,
    augment_without_diacritics: bool = False,
    neural: bool = False,
    progress: Progress | None = None,
) -> tuple[FeedbackModel, TrainingReport]:
    """Tune on ``dev`` (or a seeded hold-out of ``train``), then refit on train + dev.

    ``augment_without_diacritics`` adds to the training texts a copy, with diacritics removed,
    of each one that has them (BENCHMARKS.md: it halves what text typed without diacritics
    loses, at no cost on normal text). ``neural`` (needs PyTorch) also trains a word BiLSTM for
    the sentiment head and blends it in with a weight chosen on dev (0 leaves it out).
    """
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    grid = grid or DEFAULT_GRID
    if dev is None:
        train, dev = hold_out(train, dev_fraction, seed)
    if augment_without_diacritics:
        train = add_copies_without_diacritics(train)
        say(f"training on {len(train):,} texts with copies typed without diacritics")
    docs = prepare_texts(train.texts + dev.texts, n_jobs, use_cache=use_cache, progress=say)
    train_docs, dev_docs = docs[: len(train)], docs[len(train):]
    base = {"theme_labels": theme_labels, "sentiment_labels": sentiment_labels, "random_state": seed}
    has_themes, has_sentiment = bool(theme_rows(train)), bool(sentiment_rows(train))
    if not has_themes and not has_sentiment:
        raise TrainingError("The training data has neither theme nor sentiment labels.")
    if has_themes and not theme_rows(dev):
        raise TrainingError("The dev split has no theme labels to tune on; pass --dev with labelled themes.")
    if has_sentiment and not sentiment_rows(dev):
        raise TrainingError("The dev split has no sentiment labels to tune on; pass --dev with labelled sentiment.")
    # The networks train in background processes while the linear search below runs.
    neural_job = _start_neural_member(train, train_docs, dev, dev_docs, seed, refit, say) if neural and has_sentiment else None
    fits = FitRunner(_workers(n_jobs), neural_job)
    try:
        search = _GridSearch(grid, base, train, train_docs, dev, dev_docs, fits, say)
        features = search.choose_features()
        search.keep_blocks_of(features)
        theme_params, sentiment_params = search.choose_strength(features)
        chosen = {**features, "theme_C": (theme_params or sentiment_params)["theme_C"],
                  "sentiment_C": (sentiment_params or theme_params)["sentiment_C"],
                  # One class_weight serves both heads; themes are imbalanced so theirs wins.
                  "class_weight": (theme_params or sentiment_params)["class_weight"]}
        tried = search.tried
        everything = train.concat(dev)
        final = FeedbackModel(**base, **chosen)
        final.featuriser_ = final.fit_featuriser(train_docs + dev_docs)
        all_x = final.featuriser_.transform(train_docs + dev_docs)
        bias = None
        cv_metrics: dict[str, Any] = {}
        if has_sentiment:
            members, bias, cv_metrics = select_sentiment_members(all_x, everything, chosen, sentiment_labels, seed, fits, say)
            chosen["sentiment_members"] = members
        say(f"chosen: {chosen}")
        model = FeedbackModel(**base, **chosen)
        # The tuned model (train only) reuses the search's featuriser and matrices for its setting.
        model.featuriser_, train_x, dev_x = search.featurised(features)
        model.fit_heads(train_x, train.themes, train.sentiment, train.scope())
        if has_themes:
            _tune_thresholds(model, dev_x, dev)
        if bias is not None:
            model.sentiment_bias_ = bias
        if refit:
            say(f"refitting on train + dev ({len(everything):,} texts)")
            final.set_params(**chosen)
            final.fit_heads(all_x, everything.themes, everything.sentiment, everything.scope())
        neural_report, final_network = None, None
        if neural_job is not None:
            neural_report, final_network = _add_neural_member(model, neural_job, dev, dev_docs, dev_x, say)
        dev_metrics = evaluate_prepared(model, dev_docs, dev)
        if refit:
            final.thresholds_ = dict(model.thresholds_)
            final.sentiment_bias_ = model.sentiment_bias_.copy()
            if model.sentiment_neural_ is not None:
                final.sentiment_neural_, final.neural_weight_ = final_network, model.neural_weight_
        else:
            final = model
    except BaseException:
        if neural_job is not None:  # do not leave the network training after a failure or Ctrl-C
            neural_job.cancel()
        raise
    report = TrainingReport(
        params=chosen, thresholds=dict(final.thresholds_),
        sentiment_bias={s: float(b) for s, b in zip(final.sentiment_labels_, final.sentiment_bias_)},
        dev_metrics=dev_metrics, seconds=round(time.perf_counter() - started, 2), tried=tried, tuned_model=model,
        cv_metrics=cv_metrics, neural=neural_report,
    )
    return final, report


@dataclass
class _NeuralJob:
    """The word BiLSTMs training in background processes (``neural.fit_network``): the one tuned
    on dev and, when refitting, the one trained on train + dev at the same time."""

    executor: Any
    tuned: Any
    refitted: Any | None

    def result(self) -> tuple[Any, Any]:
        """Wait for (tuned network, refitted network cut at the tuned one's best epoch, or None),
        then stop the processes. If either fails (or the wait is interrupted), kill the other
        instead of waiting for it."""
        try:
            tuned = self.tuned.result()
            refitted = None if self.refitted is None else self.refitted.result().at_epoch(tuned.best_epoch_)
        except BaseException:
            self.cancel()
            raise
        self.executor.shutdown()
        return tuned, refitted

    @property
    def running(self) -> int:
        """How many networks are still training (each on one core)."""
        return sum(not future.done() for future in (self.tuned, self.refitted) if future is not None)

    def cancel(self) -> None:
        """Kill the processes (training failed or was interrupted)."""
        self.executor.shutdown(wait=False, kill_workers=True)


# The networks' processes run at this lower priority (POSIX "nice"). With three busy processes on
# two cores, the kernel's time-slicing made each run about a third slower (they evict each other's
# caches); at lower priority the networks take what the linear search leaves (mostly one core,
# then both when it ends): UIT-VSFC topic, warm cache, 69 s -> 58 s (BENCHMARKS.md, section 3).
NETWORK_NICENESS = 10


def lower_priority(niceness: int) -> None:
    """Lower this process's scheduling priority by ``niceness`` (where the OS has ``os.nice``):
    what the trainer's network processes run first."""
    if hasattr(os, "nice"):
        os.nice(niceness)


def _start_neural_member(train: LabelledData, train_docs: list[str], dev: LabelledData, dev_docs: list[str],
                         seed: int, refit: bool, say: Progress) -> _NeuralJob:
    """Start training the word BiLSTMs in background processes.

    The network to ship (train + dev) trains beside the one tuned on dev, keeping every epoch's
    weights, so it need not wait for the chosen epoch count: the tuned one's time is not added to it.
    """
    from joblib.externals.loky import ProcessPoolExecutor

    from .neural import fit_network, require_torch

    require_torch()  # fail now, not after the linear search
    rows, dev_rows = sentiment_rows(train), sentiment_rows(dev)
    docs, y = [train_docs[i] for i in rows], [train.sentiment[i] for i in rows]  # type: ignore[index]
    dev_docs_, dev_y = [dev_docs[i] for i in dev_rows], [dev.sentiment[i] for i in dev_rows]  # type: ignore[index]
    say(f"training the neural member (word BiLSTM) on {len(rows):,} texts, in the background")
    executor = ProcessPoolExecutor(max_workers=2 if refit else 1, initializer=lower_priority, initargs=(NETWORK_NICENESS,))
    tuned = executor.submit(fit_network, docs, y, dev_docs_, dev_y, random_state=seed)
    refitted = executor.submit(fit_network, docs + dev_docs_, y + dev_y, keep_epoch_weights=True, random_state=seed) if refit else None
    return _NeuralJob(executor, tuned, refitted)


def _add_neural_member(model: FeedbackModel, job: _NeuralJob, dev: LabelledData, dev_docs: list[str], dev_x: Any,
                       say: Progress) -> tuple[dict[str, Any], Any]:
    """Wait for the background network; attach it to ``model`` with the blend weight that
    maximises dev macro-F1 (weight 0 attaches nothing). Returns its report and the refitted network."""
    from .neural import choose_blend_weight

    say("waiting for the neural member")
    network, refitted = job.result()
    dev_rows = sentiment_rows(dev)
    linear_dev = model.predict_proba_features(dev_x[dev_rows])[1]
    neural_dev = network.predict_proba_in([dev_docs[i] for i in dev_rows], model.sentiment_labels_)
    truth = [dev.sentiment[i] for i in dev_rows]  # type: ignore[index]
    weight, score = choose_blend_weight(linear_dev, neural_dev, truth, model.sentiment_labels_)
    say(f"neural member: best epoch {network.best_epoch_}, blend weight {weight} (dev macro-F1 {score:.4f})")
    if weight > 0:
        model.sentiment_neural_, model.neural_weight_ = network, weight
    return {"size": network.size, "epochs": network.best_epoch_, "weight": weight, "dev_macro_f1": round(score, 4)}, refitted


def _workers(n_jobs: int) -> int:
    return (os.cpu_count() or 1) if n_jobs == -1 else max(1, n_jobs)


class FitRunner:
    """Runs the linear search's independent fits (grid points, cross-validation folds); results
    come back in task order, the same however many run at once.

    Alone, on up to ``cores`` joblib processes. Beside training networks (``neural_job``), on
    threads (scikit-learn's solvers and scipy's sparse products release the GIL), as many at once
    as the cores the networks leave free, at least one, counted again as each fit starts: a core
    that a finished network frees is used at once instead of idling until the search ends. More
    fits than free cores only add switching: on 2 cores, one linear worker instead of two beside the
    networks used 10 CPU-seconds less (BENCHMARKS.md, section 3).
    """

    def __init__(self, cores: int = 1, neural_job: _NeuralJob | None = None) -> None:
        self.cores = max(1, cores)
        self.neural_job = neural_job

    def free_cores(self) -> int:
        """How many fits may run at once now."""
        busy = 0 if self.neural_job is None else self.neural_job.running
        return max(1, self.cores - busy)

    def map(self, function: Callable[..., Any], tasks: Sequence[tuple[Any, ...]]) -> list[Any]:
        """``[function(*task) for task in tasks]``, spread over the free cores."""
        if self.cores == 1 or len(tasks) <= 1:
            return [function(*task) for task in tasks]
        if self.neural_job is None:
            return Parallel(n_jobs=min(self.cores, len(tasks)))(delayed(function)(*task) for task in tasks)
        changed = threading.Condition()
        running = 0

        def run(task: tuple[Any, ...]) -> Any:
            nonlocal running
            with changed:
                while running >= self.free_cores():
                    changed.wait(timeout=0.25)  # a network finishing does not notify: look again
                running += 1
            try:
                return function(*task)
            finally:
                with changed:
                    running -= 1
                    changed.notify_all()

        pool = ThreadPoolExecutor(max_workers=min(self.cores, len(tasks)), thread_name_prefix="feedback-nlp-fit")
        try:
            return list(pool.map(run, tasks))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # after a failure, start no more fits


def _score_grid_point(params: dict[str, Any], train_x: Any, dev_x: Any, train: LabelledData,
                      dev: LabelledData) -> tuple[dict[str, Any], dict[str, float]]:
    """Fit both heads with ``params`` on train; their dev macro-F1 (themes after threshold tuning)."""
    model = FeedbackModel(**params)
    model.fit_heads(train_x, train.themes, train.sentiment, train.scope())
    entry = {k: v for k, v in params.items() if k not in ("theme_labels", "sentiment_labels", "random_state")}
    thresholds: dict[str, float] = {}
    if model.theme_labels_ and theme_rows(dev):
        entry["theme_macro_f1"], thresholds = _tune_thresholds(model, dev_x, dev)
    sentiment_dev = sentiment_rows(dev)
    if model.sentiment_labels_ and sentiment_dev:
        predicted = model.sentiment_estimator_.predict(dev_x[sentiment_dev])
        truth = [dev.sentiment[i] for i in sentiment_dev]  # type: ignore[index]
        entry["sentiment_macro_f1"] = sentiment_metrics(truth, list(predicted), model.sentiment_labels_)["macro_f1"]
    return entry, thresholds


def add_copies_without_diacritics(data: LabelledData) -> LabelledData:
    """``data`` plus, for each text with diacritics, the same text and labels without them."""
    rows = [i for i, text in enumerate(data.texts) if strip_diacritics(text) != text]
    copies = data.take(rows)
    copies.texts = [strip_diacritics(text) for text in copies.texts]
    return data.concat(copies)


MEMBER_COMBINATIONS: list[tuple[str, ...]] = [
    ("lr",), ("svm",), ("nblr",), ("lr", "svm"), ("lr", "nblr"), ("svm", "nblr"), ("lr", "svm", "nblr"),
]
ENSEMBLE_TOLERANCE = 0.002


def _fold_proba(member: Any, x: Any, y: np.ndarray, fit_rows: np.ndarray, held_rows: np.ndarray,
                labels: list[str]) -> np.ndarray:
    """Class probabilities (columns in ``labels`` order) of ``member`` fitted without ``held_rows``."""
    fitted = clone(member).fit(x[fit_rows], y[fit_rows])
    proba = fitted.predict_proba(x[held_rows])
    out = np.zeros((len(held_rows), len(labels)))
    for k, label in enumerate(fitted.classes_):
        out[:, labels.index(str(label))] = proba[:, k]
    return out


def stratified_group_folds(y: np.ndarray, groups: np.ndarray, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train rows, held-out rows) per fold: the folds of scikit-learn's
    ``StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed)``, computed in plain Python.

    scikit-learn places the groups one by one with ~50 small numpy calls each: 7 s for 13,000
    texts on this project's 2-core machine, against under 1 s here. Same arithmetic in the same
    order, so the same folds (tests/test_training.py compares them).
    """
    _, y_codes, class_counts = np.unique(y, return_inverse=True, return_counts=True)
    _, group_codes, group_sizes = np.unique(groups, return_inverse=True, return_counts=True)
    n_classes, n_groups = len(class_counts), len(group_sizes)
    if n_splits > n_groups:
        raise TrainingError(f"Cannot make {n_splits} cross-validation folds from {n_groups} distinct texts.")
    per_group = np.zeros((n_groups, n_classes))
    np.add.at(per_group, (group_codes, y_codes), 1)
    order = np.arange(n_groups)
    np.random.RandomState(seed).shuffle(order)
    per_group = per_group[order]
    inverse = np.empty_like(order)
    inverse[order] = np.arange(n_groups)
    group_codes = inverse[group_codes]
    placing = np.argsort(-np.std(per_group, axis=1), kind="stable")
    totals = [float(c) for c in class_counts]
    folds = [[0.0] * n_classes for _ in range(n_splits)]
    fold_of_group = np.empty(n_groups, dtype=np.int64)
    for g in placing.tolist():
        counts = per_group[g].tolist()
        best, best_eval, best_size = 0, float("inf"), float("inf")
        for i in range(n_splits):
            # Mean over classes of the std over folds of (fold count / class count), with group g in fold i.
            # Sums over folds run in order, as numpy's reduction over the first axis does (not
            # builtin sum(), which compensates rounding from Python 3.12 on); the mean over classes
            # is numpy's pairwise sum of a contiguous row (_numpy_sum).
            class_stds = []
            for c in range(n_classes):
                shares = [(folds[f][c] + counts[c] if f == i else folds[f][c]) / totals[c] for f in range(n_splits)]
                mean = 0.0
                for share in shares:
                    mean += share
                mean /= n_splits
                spread = 0.0
                for share in shares:
                    spread += (share - mean) * (share - mean)
                class_stds.append(math.sqrt(spread / n_splits))
            evaluation = _numpy_sum(class_stds) / n_classes
            size = 0.0
            for value in folds[i]:
                size += value
            if evaluation < best_eval or (abs(evaluation - best_eval) <= 1e-8 + 1e-5 * abs(best_eval) and size < best_size):
                best, best_eval, best_size = i, evaluation, size
        for c in range(n_classes):
            folds[best][c] += counts[c]
        fold_of_group[g] = best
    row_folds = fold_of_group[group_codes]
    return [(np.flatnonzero(row_folds != i), np.flatnonzero(row_folds == i)) for i in range(n_splits)]


def _numpy_sum(values: list[float]) -> float:
    """Sum in numpy's pairwise order for a contiguous array (eight running sums from 8 values on),
    so results match numpy's to the last bit."""
    n = len(values)
    if n < 8:
        total = 0.0
        for value in values:
            total += value
        return total
    if n <= 128:
        sums = values[:8]
        for start in range(8, n - n % 8, 8):
            sums = [a + b for a, b in zip(sums, values[start:start + 8])]
        total = ((sums[0] + sums[1]) + (sums[2] + sums[3])) + ((sums[4] + sums[5]) + (sums[6] + sums[7]))
        for value in values[n - n % 8:]:
            total += value
        return total
    half = n // 2
    half -= half % 8
    return _numpy_sum(values[:half]) + _numpy_sum(values[half:])


def select_sentiment_members(x: Any, data: LabelledData, params: dict[str, Any], sentiment_labels: Sequence[str] | None,
                             seed: int, fits: FitRunner | int, say: Progress) -> tuple[tuple[str, ...], np.ndarray, dict[str, Any]]:
    """Pick the sentiment head's members and class offsets by 5-fold cross-validated macro-F1
    on train + dev (more held-out texts than dev alone, so rare classes are tuned less noisily).
    ``fits``: a FitRunner, or a number of processes."""
    rows = sentiment_rows(data)
    y = np.array([data.sentiment[i] for i in rows])  # type: ignore[index]
    labels = list(sentiment_labels) if sentiment_labels is not None else sorted(set(y))
    smallest = min(int((y == label).sum()) for label in set(y))
    n_splits = max(2, min(5, smallest))
    # A text and its copy without diacritics (augmentation) must fall in the same fold.
    keys = [" ".join(strip_diacritics(data.texts[i]).lower().split()) for i in rows]
    groups = np.unique(keys, return_inverse=True)[1]
    folds = stratified_group_folds(y, groups, n_splits, seed)
    members = candidate_members(params["sentiment_C"], params["class_weight"], seed)
    say(f"choosing the sentiment model by {n_splits}-fold cross-validation on {len(y):,} texts")
    fits = fits if isinstance(fits, FitRunner) else FitRunner(_workers(fits))
    x_rows = x[rows]
    names = list(members)
    # One task per (member, fold) so all cores stay busy; results come back in task order.
    tasks = [(name, fold) for name in names for fold in range(len(folds))]
    scored = fits.map(_fold_proba, [(members[name], x_rows, y, folds[fold][0], folds[fold][1], labels) for name, fold in tasks])
    out_of_fold = {name: np.zeros((len(y), len(labels))) for name in names}
    for (name, fold), proba in zip(tasks, scored):
        out_of_fold[name][folds[fold][1]] = proba
    best: tuple[float, tuple[str, ...], np.ndarray] = (-1.0, ("lr",), np.zeros(len(labels)))
    results = {}
    for combination in MEMBER_COMBINATIONS:
        log_proba = np.log(combine([out_of_fold[name] for name in combination]))
        bias, score = tune_sentiment_bias(log_proba, list(y), labels)
        results["+".join(combination)] = round(score, 4)
        if score > best[0] + ENSEMBLE_TOLERANCE:
            best = (score, combination, bias)
    say(f"cross-validated macro-F1 by sentiment model: {results}; chose {'+'.join(best[1])}")
    return best[1], best[2], {"cv_macro_f1": results, "chosen": "+".join(best[1]), "folds": n_splits}


class _GridSearch:
    """Coordinate-wise tuning on the dev split: feature setting first, then C and class weight.

    Each grid point fits both heads on train and scores them on dev (macro-F1; themes after
    threshold tuning). Points are independent fits, spread over the cores by ``fits``.
    """

    def __init__(self, grid: dict[str, list[Any]], base: dict[str, Any], train: LabelledData, train_docs: list[str],
                 dev: LabelledData, dev_docs: list[str], fits: FitRunner, say: Progress) -> None:
        self.grid, self.base, self.train, self.dev = grid, base, train, dev
        self.train_docs, self.dev_docs, self.fits, self.say = train_docs, dev_docs, fits, say
        self.tried: list[dict[str, Any]] = []
        self._featurised: tuple[dict[str, Any], Any, Any, Any] | None = None
        # Fitted TF-IDF blocks with their train and dev matrices, by block settings: feature
        # settings share blocks (the default grid's three settings have four distinct blocks).
        self._blocks: dict[str, tuple[Any, Any, Any]] = {}

    def featurised(self, feature_params: dict[str, Any]) -> tuple[Any, Any, Any]:
        """(featuriser fitted on train, train matrix, dev matrix); the last setting is kept.

        The same matrices as the featuriser's own ``fit`` and ``transform``, but each block is
        fitted and applied once per search, whichever settings it appears in."""
        if self._featurised is None or self._featurised[0] != feature_params:
            featuriser = FeedbackModel(**self.base, **feature_params).new_featuriser()
            fitted, train_parts, dev_parts = [], [], []
            for name, block in featuriser.transformer_list:
                key = _block_key(name, block)
                if key not in self._blocks:
                    block.fit(self.train_docs)
                    self._blocks[key] = (block, block.transform(self.train_docs), block.transform(self.dev_docs))
                block, train_x, dev_x = self._blocks[key]
                fitted.append((name, block))
                train_parts.append(train_x)
                dev_parts.append(dev_x)
            featuriser.transformer_list = fitted
            # As FeatureUnion.transform stacks its blocks' outputs.
            self._featurised = (feature_params, featuriser, sp.hstack(train_parts).tocsr(), sp.hstack(dev_parts).tocsr())
        return self._featurised[1:]

    def keep_blocks_of(self, feature_params: dict[str, Any]) -> None:
        """Forget the fitted blocks that ``feature_params`` does not use (memory)."""
        featuriser = FeedbackModel(**self.base, **feature_params).new_featuriser()
        used = {_block_key(name, block) for name, block in featuriser.transformer_list}
        self._blocks = {key: value for key, value in self._blocks.items() if key in used}

    def _score(self, feature_params: dict[str, Any], points: list[tuple[float, Any]]) -> list[dict[str, Any]]:
        _, train_x, dev_x = self.featurised(feature_params)
        params = [{**feature_params, "theme_C": c, "sentiment_C": c, "class_weight": w} for c, w in points]
        entries = [entry for entry, _ in self.fits.map(
            _score_grid_point, [({**self.base, **p}, train_x, dev_x, self.train, self.dev) for p in params])]
        self.tried.extend(entries)
        return entries

    @staticmethod
    def _total(entry: dict[str, Any]) -> float:
        return entry.get("theme_macro_f1", 0.0) + entry.get("sentiment_macro_f1", 0.0)

    def choose_features(self) -> dict[str, Any]:
        """The cheapest feature setting whose best probe score no later setting beats by TOLERANCE."""
        settings = self.grid["features"]
        if len(settings) == 1:
            return dict(settings[0])
        probes = [c for c in self.grid["C"] if c in PROBE_C] or [self.grid["C"][len(self.grid["C"]) // 2]]
        best: tuple[float, dict[str, Any]] = (-1.0, {})
        for number, feature_params in enumerate(settings, 1):
            self.say(f"tuning feature setting {number}/{len(settings)}: {feature_params}")
            entries = self._score(feature_params, [(c, self.grid["class_weight"][0]) for c in probes])
            score = max(self._total(e) for e in entries)
            if score > best[0] + TOLERANCE:
                best = (score, dict(feature_params))
        return best[1]

    def choose_strength(self, features: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Best (C, class weight) on ``features`` for each head, smallest C first within TOLERANCE."""
        self.say(f"tuning regularisation for {features}")
        keys = {k for setting in self.grid["features"] for k in setting} | set(features)
        done = {(e["theme_C"], e["class_weight"]): e for e in self.tried if all(e.get(k) == features.get(k) for k in keys)}
        grid_points = list(itertools.product(self.grid["C"], self.grid["class_weight"]))
        todo = [p for p in grid_points if p not in done]
        if todo:
            done.update(zip(todo, self._score(features, todo)))
        best: dict[str, tuple[float, dict[str, Any]]] = {"theme": (-1.0, {}), "sentiment": (-1.0, {})}
        for point in grid_points:
            entry = done[point]
            for head in best:
                key = f"{head}_macro_f1"
                if key in entry and entry[key] > best[head][0] + TOLERANCE:
                    best[head] = (entry[key], entry)
        return best["theme"][1], best["sentiment"][1]


def _block_key(name: str, block: Any) -> str:
    """What identifies a featuriser block: its name and settings."""
    return f"{name} {sorted(block.get_params().items())}"


def hold_out(data: LabelledData, fraction: float, seed: int) -> tuple[LabelledData, LabelledData]:
    """Split off a seeded ``fraction`` of ``data`` as a dev split (at least 10 texts)."""
    if len(data) < 20:
        raise TrainingError(f"Only {len(data)} labelled texts: at least 20 are needed to hold out a dev split.")
    order = np.random.default_rng(seed).permutation(len(data))
    n_dev = max(10, int(round(fraction * len(data))))
    return data.take(sorted(order[n_dev:])), data.take(sorted(order[:n_dev]))
