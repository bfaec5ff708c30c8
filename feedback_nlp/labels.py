"""Label sets of the label standard (../shared/LABELS.md): the shipped themes and sentiments."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_THEMES: tuple[str, ...] = ("harassment", "delays", "courtesy", "digitalisation")
SENTIMENTS: tuple[str, ...] = ("negative", "neutral", "positive")
NEUTRAL = "neutral"


@dataclass(frozen=True)
class LabelSet:
    """The theme names and sentiment names a model predicts."""

    themes: tuple[str, ...]
    sentiments: tuple[str, ...]

    def to_dict(self) -> dict[str, list[str]]:
        return {"themes": list(self.themes), "sentiments": list(self.sentiments)}
