"""Labelled data as the trainer and the evaluator see it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class LabelledData:
    """Texts with theme lists and sentiment names.

    ``themes``/``sentiment`` is None when no row has that label; a single row's value is None
    when that row does not carry it. ``theme_scope`` says, per row, which theme names the row
    was labelled against (a row is a negative example only for themes in its scope).
    """

    texts: list[str]
    themes: list[list[str] | None] | None = None
    sentiment: list[str | None] | None = None
    files: dict[str, str] = field(default_factory=dict)  # path -> SHA-256
    theme_scope: list[frozenset[str]] | None = None

    def __len__(self) -> int:
        return len(self.texts)

    def scope(self) -> list[frozenset[str]]:
        if self.theme_scope is not None:
            return self.theme_scope
        names = frozenset(t for row in (self.themes or []) if row for t in row)
        return [names] * len(self.texts)

    def concat(self, other: LabelledData) -> LabelledData:
        def join(a: list[Any] | None, b: list[Any] | None, n_a: int, n_b: int) -> list[Any] | None:
            if a is None and b is None:
                return None
            return (a if a is not None else [None] * n_a) + (b if b is not None else [None] * n_b)

        return LabelledData(
            self.texts + other.texts,
            join(self.themes, other.themes, len(self), len(other)),
            join(self.sentiment, other.sentiment, len(self), len(other)),
            {**self.files, **other.files},
            self.scope() + other.scope(),
        )

    def take(self, rows: Sequence[int]) -> LabelledData:
        pick = lambda column: None if column is None else [column[i] for i in rows]  # noqa: E731
        return LabelledData(pick(self.texts), pick(self.themes), pick(self.sentiment), self.files, pick(self.scope()))


def theme_rows(data: LabelledData) -> list[int]:
    """Rows that carry theme labels."""
    return [i for i, row in enumerate(data.themes or []) if row is not None]


def sentiment_rows(data: LabelledData) -> list[int]:
    """Rows that carry a sentiment label."""
    return [i for i, s in enumerate(data.sentiment or []) if s is not None]
