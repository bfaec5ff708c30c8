"""Read labelled files (the label standard of LABELS.md) and check them before training.

Problems are reported with file and line/row so a user can fix them; errors stop training,
warnings do not.
"""

from __future__ import annotations

import json
import math
import os
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import DataError
from .labels import SENTIMENTS
from .persistence import sha256_file
from .tables import read_table, row_locations
from .data import LabelledData

CORPUS_SOURCES = ("comment", "survey", "petition", "news")
CORPUS_STYLES = ("standard", "no_diacritics", "teencode", "regional", "long")
MIN_EXAMPLES = 10


@dataclass
class Problem:
    location: str
    message: str
    severity: str = "error"
    column: str | None = None

    def __str__(self) -> str:
        column = f", column '{self.column}'" if self.column else ""
        return f"{self.severity}: {self.location}{column}: {self.message}"


@dataclass
class ValidationReport:
    files: list[str]
    n_rows: int = 0
    problems: list[Problem] = field(default_factory=list)
    theme_counts: Counter[str] = field(default_factory=Counter)
    sentiment_counts: Counter[str] = field(default_factory=Counter)
    no_theme: int = 0
    multi_theme: int = 0
    has_themes: bool = False
    has_sentiment: bool = False

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_themes(value: Any) -> list[str]:
    """Theme names from a list, a JSON list string, or a string split on ';', '|' or ','."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if hasattr(value, "tolist") and not isinstance(value, str):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value).strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
            if isinstance(parsed, list):
                return [str(v).strip() for v in parsed if str(v).strip()]
        except json.JSONDecodeError:
            pass
    for separator in (";", "|", ","):
        if separator in text:
            return [part.strip() for part in text.split(separator) if part.strip()]
    return [text] if text else []


def _text_key(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).lower().split())


@dataclass
class Columns:
    text: str = "text"
    themes: str = "themes"
    sentiment: str = "sentiment"


def validate_files(
    paths: Sequence[str | os.PathLike[str]],
    *,
    theme_labels: Sequence[str] | None = None,
    sentiment_labels: Sequence[str] = SENTIMENTS,
    columns: Columns | None = None,
    corpus_schema: bool = False,
    min_examples: int = MIN_EXAMPLES,
    drop_conflicts: bool = False,
) -> tuple[ValidationReport, LabelledData | None]:
    """Check labelled files; return the report and, when there are no errors, the data.

    With ``drop_conflicts``, a text that appears with different labels is a warning and every
    copy of it is left out of the data, instead of an error.
    """
    columns = columns or Columns()
    report = ValidationReport(files=[str(p) for p in paths])
    texts: list[str] = []
    themes_out: list[list[str] | None] = []
    sentiment_out: list[str | None] = []
    seen: dict[str, tuple[str, tuple[str, ...] | None, str | None]] = {}
    seen_ids: dict[str, str] = {}
    file_hashes: dict[str, str] = {}
    file_themes: dict[str, set[str]] = {}
    file_of_row: list[str] = []
    dropped: set[str] = set()
    keys: list[str] = []
    for path in paths:
        try:
            frame = read_table(path)
        except DataError as exc:
            location, _, message = str(exc).partition(": ")
            report.problems.append(Problem(location, message))
            continue
        file_hashes[str(path)] = sha256_file(path)
        if columns.text not in frame.columns:
            available = ", ".join(c for c in frame.columns if c != "__line__") or "(none)"
            report.problems.append(Problem(str(path), f"missing text column '{columns.text}'; columns are: {available}. Map it with --text-column."))
            continue
        has_themes, has_sentiment = columns.themes in frame.columns, columns.sentiment in frame.columns
        if not has_themes and not has_sentiment:
            report.problems.append(Problem(str(path), f"has neither a '{columns.themes}' nor a '{columns.sentiment}' column: nothing to learn from (map them with --themes-column / --sentiment-column)."))
            continue
        report.has_themes |= has_themes
        report.has_sentiment |= has_sentiment
        # Plain lists, not frame.iloc[i]: a pandas row lookup costs ~0.2 ms, 2 s on 12,000 rows.
        values = {name: frame[name].tolist() for name in frame.columns}
        for i, where in enumerate(row_locations(path, frame)):
            report.n_rows += 1
            row = {name: column[i] for name, column in values.items()}
            text = row[columns.text]
            if not isinstance(text, str) or not text.strip():
                report.problems.append(Problem(where, "empty text", column=columns.text))
                continue
            if unicodedata.normalize("NFC", text) != text:
                report.problems.append(Problem(where, "text is not in Unicode NFC form", "error" if corpus_schema else "warning", columns.text))
            row_themes: list[str] | None = None
            if has_themes:
                row_themes = parse_themes(row[columns.themes])
                for name in row_themes:
                    if theme_labels is not None and name not in theme_labels:
                        report.problems.append(Problem(where, f"unknown theme '{name}' (expected one of: {', '.join(theme_labels)})", column=columns.themes))
                if len(set(row_themes)) != len(row_themes):
                    report.problems.append(Problem(where, f"theme listed twice: {row_themes}", column=columns.themes))
                report.theme_counts.update(set(row_themes))
                file_themes.setdefault(str(path), set()).update(row_themes)
                report.no_theme += not row_themes
                report.multi_theme += len(set(row_themes)) >= 2
            row_sentiment: str | None = None
            if has_sentiment:
                value = row[columns.sentiment]
                row_sentiment = str(value).strip() if isinstance(value, str) else None
                if row_sentiment not in sentiment_labels:
                    report.problems.append(Problem(where, f"unknown sentiment {value!r} (expected one of: {', '.join(sentiment_labels)})", column=columns.sentiment))
                else:
                    report.sentiment_counts[row_sentiment] += 1
            if corpus_schema:
                _check_corpus_fields(row, where, frame.columns, seen_ids, report)
            key = _text_key(text)
            labels = (tuple(sorted(set(row_themes))) if row_themes is not None else None, row_sentiment)
            if key in seen:
                first, *first_labels = seen[key]
                conflict = tuple(first_labels) != labels
                message = f"same text as {first}" + (f" with different labels ({first_labels} vs {list(labels)})" if conflict else "")
                if conflict and drop_conflicts:
                    dropped.add(key)
                    message += "; both dropped"
                severity = "error" if (conflict and not drop_conflicts) or corpus_schema else "warning"
                report.problems.append(Problem(where, message, severity, columns.text))
                continue
            seen[key] = (where, *labels)
            keys.append(key)
            texts.append(text)
            themes_out.append(row_themes)
            sentiment_out.append(row_sentiment)
            file_of_row.append(str(path))
    for name, count in list(report.theme_counts.items()) + list(report.sentiment_counts.items()):
        if count < min_examples:
            report.problems.append(Problem(", ".join(report.files), f"label '{name}' has only {count} examples; at least {min_examples} are needed to learn it."))
    if not report.ok:
        return report, None
    if dropped:
        keep = [i for i, key in enumerate(keys) if key not in dropped]
        texts, themes_out, sentiment_out, file_of_row = ([column[i] for i in keep] for column in (texts, themes_out, sentiment_out, file_of_row))
    declared = set(theme_labels or [])
    scopes = {path: frozenset(names | declared) for path, names in file_themes.items()}
    data = LabelledData(
        texts,
        themes_out if report.has_themes else None,  # type: ignore[arg-type]
        sentiment_out if report.has_sentiment else None,
        file_hashes,
        [scopes.get(path, frozenset(declared)) for path in file_of_row],
    )
    return report, data


def _check_corpus_fields(row: dict[str, Any], where: str, present: Any, seen_ids: dict[str, str], report: ValidationReport) -> None:
    for name, allowed in (("source", CORPUS_SOURCES), ("style", CORPUS_STYLES)):
        value = row[name] if name in present else None
        if value not in allowed:
            report.problems.append(Problem(where, f"{name} {value!r} is not one of {', '.join(allowed)}", column=name))
    record_id = row["id"] if "id" in present else None
    if not isinstance(record_id, str) or not record_id:
        report.problems.append(Problem(where, "missing id", column="id"))
    elif record_id in seen_ids:
        report.problems.append(Problem(where, f"id {record_id!r} already used at {seen_ids[record_id]}", column="id"))
    else:
        seen_ids[record_id] = where


def load_labelled(paths: Sequence[str | os.PathLike[str]], **options: Any) -> LabelledData:
    """Validate and load labelled files; raise DataError listing the first problems on failure."""
    report, data = validate_files(paths, **options)
    if data is None:
        shown = "\n".join(f"  {p}" for p in report.errors[:20])
        more = f"\n  ... and {len(report.errors) - 20} more" if len(report.errors) > 20 else ""
        raise DataError(f"{len(report.errors)} problem(s) in the labelled data:\n{shown}{more}")
    return data


def corpus_files(directory: str | os.PathLike[str]) -> dict[str, Path]:
    """The train/dev/test files of a corpus directory."""
    directory = Path(directory)
    return {split: directory / f"{split}.jsonl" for split in ("train", "dev", "test")}
