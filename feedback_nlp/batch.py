"""Tag whole tables: DataFrames in memory, or files streamed chunk by chunk.

Every input row gives exactly one output row, in order. Texts identical after normalisation
are segmented and classified once per run; with ``jobs > 1`` the segmentation and
classification of distinct texts runs in worker processes that each load the model once.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from .errors import DataError
from .model import FeedbackModel
from .normalise import normalise_text
from .persistence import load_model
from .segment import segment_words
from .tables import TableWriter, count_rows, iter_table, table_format

TEXT_COLUMN_NAMES = ("text", "texts", "noi_dung", "nội dung", "noi dung", "y_kien", "ý kiến", "y kien", "comment",
                     "comments", "feedback", "content", "van_ban", "phan_anh", "phản ánh", "gop_y", "góp ý")
CACHE_LIMIT = 100_000  # distinct texts remembered per run; beyond it, repeats are only merged within a chunk
CACHE_MAX_CHARS = 500  # long texts rarely repeat; do not spend memory remembering them
WORK_BATCH = 512  # distinct texts per task sent to a worker process

Scores = tuple[np.ndarray, np.ndarray]


def output_columns(model: FeedbackModel, by_sentence: bool = False) -> list[str]:
    """The columns tagging adds, in order."""
    columns = ["themes", *(f"score_{t}" for t in model.theme_labels_), "sentiment", "sentiment_score", "error"]
    return columns + (["evidence"] if by_sentence else [])


def pick_text_columns(frame: pd.DataFrame, requested: Sequence[str] | None, source: str = "input") -> tuple[list[str], str | None]:
    """Return the text columns to use and, when guessed, a notice saying which was picked."""
    columns = [str(c) for c in frame.columns if c != "__line__"]
    if requested:
        missing = [c for c in requested if c not in columns]
        if missing:
            raise DataError(f"{source}: no column {', '.join(repr(c) for c in missing)}. Available columns: {', '.join(columns) or '(none)'}.")
        return list(requested), None
    by_name = [c for c in columns if c.strip().lower() in TEXT_COLUMN_NAMES]
    if len(by_name) == 1:
        return by_name, f"using text column '{by_name[0]}' (pass --text-column to choose another)"
    textual = [c for c in columns if _looks_textual(frame[c])]
    if len(textual) == 1:
        return textual, f"using text column '{textual[0]}', the only column of free text (pass --text-column to choose another)"
    raise DataError(f"{source}: say which column holds the text with --text-column. Available columns: {', '.join(columns) or '(none)'}.")


def _looks_textual(series: pd.Series) -> bool:
    values = [v for v in series.head(200) if isinstance(v, str) and v.strip()]
    if not values:
        return False
    wordy = sum(1 for v in values if len(v) >= 10 and " " in v.strip() and not v.replace(" ", "").replace(".", "").isdigit())
    return wordy >= 0.6 * len(values)


def join_text_columns(frame: pd.DataFrame, columns: Sequence[str]) -> list[Any]:
    """One text per row; several columns are joined with '. ' (missing parts skipped)."""
    if len(columns) == 1:
        return frame[columns[0]].tolist()
    joined: list[Any] = []
    for parts in zip(*(frame[c].tolist() for c in columns)):
        texts = [p.strip() for p in parts if isinstance(p, str) and p.strip()]
        if texts:
            joined.append(". ".join(t.rstrip(".") for t in texts))
        else:
            joined.append(next((p for p in parts if p is not None and not (isinstance(p, float) and math.isnan(p))), None))
    return joined


# --------------------------------------------------------------------------- scoring back ends
_WORKER_MODEL: FeedbackModel | None = None


def _init_worker(model_dir: str | None, model: FeedbackModel | None) -> None:
    global _WORKER_MODEL
    # One BLAS thread per worker: the workers are the parallelism. With the default (one thread
    # per core in every worker) a neural member's matrix products oversubscribe the cores and
    # --jobs 2 ran 3.5x slower than --jobs 1 (BENCHMARKS.md, section 3).
    threadpool_limits(1)
    _WORKER_MODEL = model if model is not None else load_model(model_dir)


def _score_in_worker(normalised: list[str]) -> Scores:
    assert _WORKER_MODEL is not None
    return score_normalised(_WORKER_MODEL, normalised)


def score_normalised(model: FeedbackModel, normalised: Sequence[str], batch_size: int = 2048) -> Scores:
    """Theme and sentiment probabilities (float32) of normalised texts, featurised in batches
    so memory does not grow with the chunk size."""
    themes = np.zeros((len(normalised), len(model.theme_labels_)), dtype=np.float32)
    sentiment = np.zeros((len(normalised), len(model.sentiment_labels_)), dtype=np.float32)
    for start in range(0, len(normalised), batch_size):
        batch = normalised[start:start + batch_size]
        t, s = model.predict_proba_prepared([segment_words(text) for text in batch])
        themes[start:start + len(batch)], sentiment[start:start + len(batch)] = t, s
    return themes, sentiment


class ScoreCache:
    """Probabilities of distinct normalised texts seen in this run (bounded; rows of two arrays)."""

    def __init__(self, n_themes: int, n_sentiments: int, limit: int = CACHE_LIMIT) -> None:
        self.limit = limit
        self.rows: dict[str, int] = {}
        self.themes = np.zeros((1024, n_themes), dtype=np.float32)
        self.sentiment = np.zeros((1024, n_sentiments), dtype=np.float32)

    def __contains__(self, key: str) -> bool:
        return key in self.rows

    def add(self, keys: Sequence[str], scores: Scores) -> None:
        for i, key in enumerate(keys):
            if len(self.rows) >= self.limit:
                return
            if len(key) <= CACHE_MAX_CHARS and key not in self.rows:
                row = len(self.rows)
                if row == len(self.themes):
                    self.themes = np.concatenate([self.themes, np.zeros_like(self.themes)])
                    self.sentiment = np.concatenate([self.sentiment, np.zeros_like(self.sentiment)])
                self.themes[row], self.sentiment[row] = scores[0][i], scores[1][i]
                self.rows[key] = row

    def get(self, key: str) -> tuple[np.ndarray, np.ndarray] | None:
        row = self.rows.get(key)
        return None if row is None else (self.themes[row], self.sentiment[row])


# --------------------------------------------------------------------------- per-chunk work
@dataclass
class PreparedChunk:
    """One chunk of input rows with what needs scoring."""

    frame: pd.DataFrame
    texts: list[Any]
    reasons: list[str | None]
    keys: list[list[str]]  # normalised sentence(s) per row; empty when the row is skipped
    sentences: list[list[str]]  # the original sentence texts, for evidence
    todo: list[str]  # distinct keys to score, in first-seen order


def split_sentences(text: str) -> list[str]:
    """Sentences of a long text (underthesea's sentence splitter), blank ones dropped."""
    from underthesea import sent_tokenize

    return [s for s in sent_tokenize(text) if s.strip()] or [text]


def prepare_chunk(model: FeedbackModel, frame: pd.DataFrame, text_columns: Sequence[str], by_sentence: bool,
                  cache: ScoreCache, scheduled: set[str] | None = None, fix_encoding: bool = True) -> PreparedChunk:
    """Check and normalise the texts of a chunk and list the distinct ones not yet scored."""
    texts = join_text_columns(frame, text_columns)
    reasons: list[str | None] = []
    keys: list[list[str]] = []
    sentences: list[list[str]] = []
    todo: list[str] = []
    pending = set() if scheduled is None else scheduled
    local: set[str] = set()
    for text in texts:
        reason = model.check_text(text)
        parts = split_sentences(text) if reason is None and by_sentence else [text] if reason is None else []
        row_keys, row_sentences = [], []
        for part in parts:
            key = normalise_text(part, fix_encoding=fix_encoding)
            if not key or not any(ch.isalpha() for ch in key):
                continue
            row_keys.append(key)
            row_sentences.append(part)
            if key not in cache and key not in pending and key not in local:
                local.add(key)
                todo.append(key)
        if reason is None and not row_keys:
            reason = "no_words"
        reasons.append(reason)
        keys.append(row_keys)
        sentences.append(row_sentences)
    if scheduled is not None:
        scheduled.update(k for k in todo if len(k) <= CACHE_MAX_CHARS and len(scheduled) < cache.limit)
    return PreparedChunk(frame, texts, reasons, keys, sentences, todo)


def finish_chunk(model: FeedbackModel, chunk: PreparedChunk, todo_scores: Scores, cache: ScoreCache,
                 by_sentence: bool, list_themes: bool) -> pd.DataFrame:
    """Build the output rows of a chunk from the cache and the newly scored texts."""
    cache.add(chunk.todo, todo_scores)
    theme_labels, sentiment_labels = model.theme_labels_, model.sentiment_labels_
    fresh_index = {key: i for i, key in enumerate(chunk.todo)}
    all_themes, all_sentiment = todo_scores
    missing = sorted({k for row in chunk.keys for k in row if k not in fresh_index and k not in cache})
    if missing:  # evicted or never cached: score them here
        extra = score_normalised(model, missing)
        fresh_index.update({k: len(chunk.todo) + i for i, k in enumerate(missing)})
        all_themes, all_sentiment = np.concatenate([all_themes, extra[0]]), np.concatenate([all_sentiment, extra[1]])

    def scores_of(key: str) -> tuple[np.ndarray, np.ndarray]:
        j = fresh_index.get(key)
        return (all_themes[j], all_sentiment[j]) if j is not None else cache.get(key)  # type: ignore[return-value]

    n = len(chunk.texts)
    theme_matrix = np.zeros((n, len(theme_labels)), dtype=np.float32)
    sentiment_matrix = np.zeros((n, len(sentiment_labels)), dtype=np.float32)
    evidence: list[str] = [""] * n
    # Rows with one text (the usual case) are filled with two fancy-indexed copies.
    fresh_rows, fresh_src, cached_rows, cached_src, multi = [], [], [], [], []
    for i, row_keys in enumerate(chunk.keys):
        if chunk.reasons[i] is not None:
            continue
        if len(row_keys) == 1:
            j = fresh_index.get(row_keys[0])
            if j is not None:
                fresh_rows.append(i)
                fresh_src.append(j)
            else:
                cached_rows.append(i)
                cached_src.append(cache.rows[row_keys[0]])
        else:
            multi.append(i)
    theme_matrix[fresh_rows], sentiment_matrix[fresh_rows] = all_themes[fresh_src], all_sentiment[fresh_src]
    theme_matrix[cached_rows], sentiment_matrix[cached_rows] = cache.themes[cached_src], cache.sentiment[cached_src]
    for i in multi:
        row_keys = chunk.keys[i]
        rows = [scores_of(k) for k in row_keys]
        themes = np.stack([r[0] for r in rows])
        weights = np.array([max(len(k.split()), 1) for k in row_keys], dtype=np.float32)
        theme_matrix[i] = themes.max(axis=0)
        sentiment_matrix[i] = (np.stack([r[1] for r in rows]) * weights[:, None]).sum(axis=0) / weights.sum()
        if by_sentence:
            best = themes.argmax(axis=0)
            evidence[i] = " | ".join(
                f"{t}: {' '.join(chunk.sentences[i][best[j]].split())}" for j, t in enumerate(theme_labels)
                if themes[best[j], j] >= model.thresholds_[t]
            )
    if by_sentence:
        for i, row_keys in enumerate(chunk.keys):
            if len(row_keys) == 1 and chunk.reasons[i] is None:
                evidence[i] = " | ".join(f"{t}: {' '.join(chunk.sentences[i][0].split())}" for j, t in enumerate(theme_labels)
                                         if theme_matrix[i, j] >= model.thresholds_[t])
    out = chunk.frame.drop(columns=["__line__"], errors="ignore").copy()
    skipped = np.array([r is not None for r in chunk.reasons], dtype=bool)
    out["themes"] = theme_lists(model, theme_matrix, skipped, list_themes)
    for j, t in enumerate(theme_labels):
        out[f"score_{t}"] = np.round(theme_matrix[:, j].astype(np.float64), 4)
    if sentiment_labels:
        best_s = sentiment_matrix.argmax(axis=1)
        labels = np.array(sentiment_labels, dtype=object)[best_s]
        scores = sentiment_matrix[np.arange(n), best_s].astype(np.float64)
        neutral = "neutral" if "neutral" in sentiment_labels else sentiment_labels[0]
        labels[skipped] = neutral
        scores[skipped] = 0.0
        out["sentiment"] = labels
        out["sentiment_score"] = np.round(scores, 4)
    else:
        out["sentiment"], out["sentiment_score"] = "", 0.0
    out["error"] = [r or "" for r in chunk.reasons]
    if by_sentence:
        out["evidence"] = evidence
    return out


def theme_lists(model: FeedbackModel, scores: np.ndarray, skipped: np.ndarray, as_lists: bool) -> list[Any]:
    """Predicted themes per row, as lists or ';'-joined strings (via each row's bit pattern)."""
    labels = model.theme_labels_
    if not labels:
        return [[] if as_lists else "" for _ in range(len(scores))]
    thresholds = np.array([model.thresholds_[t] for t in labels], dtype=np.float32)
    on = (scores >= thresholds) & ~skipped[:, None]
    patterns = on.astype(np.int64) @ (1 << np.arange(len(labels), dtype=np.int64))
    names = {}
    for pattern in np.unique(patterns):
        chosen = [t for j, t in enumerate(labels) if pattern >> j & 1]
        names[int(pattern)] = chosen if as_lists else ";".join(chosen)
    return [list(names[p]) if as_lists else names[p] for p in patterns.tolist()]


# --------------------------------------------------------------------------- public API
def tag_frame(model: FeedbackModel, frame: pd.DataFrame, text_column: str | Sequence[str] | None = None,
              *, by_sentence: bool = False, list_themes: bool = True, fix_encoding: bool = True) -> pd.DataFrame:
    """Return ``frame`` with the tagging columns added (see :func:`output_columns`)."""
    requested = [text_column] if isinstance(text_column, str) else text_column
    columns, _ = pick_text_columns(frame, requested, "DataFrame")
    _check_no_clash(model, frame, by_sentence, "DataFrame")
    cache = ScoreCache(len(model.theme_labels_), len(model.sentiment_labels_))
    chunk = prepare_chunk(model, frame.reset_index(drop=True), columns, by_sentence, cache, fix_encoding=fix_encoding)
    out = finish_chunk(model, chunk, score_normalised(model, chunk.todo), cache, by_sentence, list_themes)
    out.index = frame.index
    return out


def _check_no_clash(model: FeedbackModel, frame: pd.DataFrame, by_sentence: bool, source: str) -> None:
    clash = [c for c in output_columns(model, by_sentence) if c in frame.columns]
    if clash:
        raise DataError(f"{source} already has column(s) {', '.join(clash)} that tagging adds; rename or drop them first.")


@dataclass
class TagFileSummary:
    rows: int
    tagged: int
    errors: int
    seconds: float
    output: str

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")

    def __str__(self) -> str:
        return (f"{self.rows} rows, {self.tagged} tagged, {self.errors} errors, {self.seconds:.1f} s, "
                f"{self.rows_per_second:,.0f} rows/s -> {self.output}")


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def tag_file(
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    text_columns: Sequence[str] | str | None = None,
    *,
    model: FeedbackModel | None = None,
    model_dir: str | os.PathLike[str] | None = None,
    jobs: int | None = 1,
    chunk_size: int = 20_000,
    encoding: str | None = None,
    sheet: str | int | None = None,
    by_sentence: bool = False,
    overwrite: bool = False,
    progress: bool = False,
    notice: Callable[[str], None] | None = None,
    fix_encoding: bool = True,
) -> TagFileSummary:
    """Tag every row of ``input_path`` and write ``output_path`` atomically (see module docstring)."""
    started = time.perf_counter()
    input_path, output_path = Path(input_path), Path(output_path)
    out_format = table_format(output_path)
    table_format(input_path)
    if not input_path.is_file():
        raise DataError(f"{input_path}: no such file.")
    if output_path.exists() and not overwrite:
        same = output_path.resolve() == input_path.resolve()
        raise DataError(f"{output_path}: {'is the input file' if same else 'already exists'}; pass --overwrite to replace it.")
    if chunk_size < 1:
        raise DataError("--chunk-size must be at least 1.")
    say = notice or (lambda msg: print(msg, file=sys.stderr))
    if model is None:
        model = load_model(model_dir)
        source_dir = str(model_dir) if model_dir is not None else None
    else:
        source_dir = None
    jobs = default_jobs() if not jobs or jobs < 1 else jobs
    requested = [text_columns] if isinstance(text_columns, str) else text_columns
    chunks = iter_table(input_path, chunk_size=chunk_size, encoding=encoding, sheet=sheet, notice=say)
    list_themes = out_format in ("jsonl", "parquet")
    bar = _progress_bar(input_path, encoding, sheet) if progress else None
    rows = tagged = 0
    cache = ScoreCache(len(model.theme_labels_), len(model.sentiment_labels_))
    scheduled: set[str] = set()
    state: dict[str, Any] = {}

    def prepared() -> Iterator[PreparedChunk]:
        for frame in chunks:
            if "columns" not in state:
                state["columns"], message = pick_text_columns(frame, requested, str(input_path))
                _check_no_clash(model, frame, by_sentence, str(input_path))
                if message:
                    say(message)
            yield prepare_chunk(model, frame.reset_index(drop=True), state["columns"], by_sentence, cache, scheduled, fix_encoding)

    with TableWriter(output_path, overwrite=overwrite) as writer:
        pool = None
        try:
            if jobs > 1:
                context = multiprocessing.get_context("spawn" if sys.platform == "darwin" else "fork")
                pool = context.Pool(jobs, initializer=_init_worker,
                                    initargs=(source_dir, None if source_dir is not None or model_dir is not None else model))
            for chunk, scores in _scored(prepared(), model, pool):
                out = finish_chunk(model, chunk, scores, cache, by_sentence, list_themes)
                writer.write(out)
                rows += len(out)
                tagged += int((out["error"] == "").sum())
                if bar is not None:
                    bar.update(len(out))
            if rows == 0 and "columns" not in state:
                raise DataError(f"{input_path}: the file has no rows to tag.")
        finally:
            if pool is not None:
                pool.terminate()
                pool.join()
            if bar is not None:
                bar.close()
    return TagFileSummary(rows, tagged, rows - tagged, time.perf_counter() - started, str(output_path))


def _scored(chunks: Iterator[PreparedChunk], model: FeedbackModel, pool: Any) -> Iterator[tuple[PreparedChunk, Scores]]:
    """Pair each chunk with the scores of its distinct new texts, scoring in ``pool`` when given."""
    if pool is None:
        for chunk in chunks:
            yield chunk, score_normalised(model, chunk.todo)
        return
    # Keep up to two chunks in flight so workers stay busy while the main process writes.
    in_flight: list[tuple[PreparedChunk, list[Any]]] = []
    for chunk in chunks:
        batches = [chunk.todo[i:i + WORK_BATCH] for i in range(0, len(chunk.todo), WORK_BATCH)]
        in_flight.append((chunk, [pool.apply_async(_score_in_worker, (b,)) for b in batches]))
        if len(in_flight) > 2:
            yield _collect(in_flight.pop(0), len(model.theme_labels_), len(model.sentiment_labels_))
    while in_flight:
        yield _collect(in_flight.pop(0), len(model.theme_labels_), len(model.sentiment_labels_))


def _collect(item: tuple[PreparedChunk, list[Any]], n_themes: int, n_sentiments: int) -> tuple[PreparedChunk, Scores]:
    chunk, futures = item
    parts = [f.get() for f in futures]
    if not parts:
        return chunk, (np.zeros((0, n_themes), np.float32), np.zeros((0, n_sentiments), np.float32))
    return chunk, (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))


def _progress_bar(path: Path, encoding: str | None, sheet: str | int | None) -> Any:
    from tqdm import tqdm

    if not sys.stderr.isatty():
        return None
    return tqdm(total=count_rows(path, encoding=encoding, sheet=sheet), unit=" rows", file=sys.stderr, dynamic_ncols=True)
