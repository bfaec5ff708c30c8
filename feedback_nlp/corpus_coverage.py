"""Coverage floors the shipped corpus promises in every split (see corpora/civic_feedback/README.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .labels import DEFAULT_THEMES, SENTIMENTS

# share of records (0-1) that must have the property, in each split
FLOORS: dict[str, float] = {
    **{f"theme {t}": 0.18 for t in DEFAULT_THEMES},
    "no theme": 0.12,
    **{f"sentiment {s}": 0.20 for s in SENTIMENTS},
    "2+ themes": 0.20,
    "source news": 0.15,
    "source survey or petition": 0.10,
    "style no_diacritics": 0.15,
    "style teencode": 0.08,
    "style regional": 0.05,
}


def coverage(records: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Share of records with each property named in :data:`FLOORS`."""
    n = max(len(records), 1)

    def share(test: Any) -> float:
        return sum(1 for r in records if test(r)) / n

    out = {f"theme {t}": share(lambda r, t=t: t in r["themes"]) for t in DEFAULT_THEMES}
    out["no theme"] = share(lambda r: not r["themes"])
    out.update({f"sentiment {s}": share(lambda r, s=s: r["sentiment"] == s) for s in SENTIMENTS})
    out["2+ themes"] = share(lambda r: len(r["themes"]) >= 2)
    out["source news"] = share(lambda r: r["source"] == "news")
    out["source survey or petition"] = share(lambda r: r["source"] in ("survey", "petition"))
    for style in ("no_diacritics", "teencode", "regional"):
        out[f"style {style}"] = share(lambda r, s=style: r["style"] == s)
    return out


def coverage_failures(records: Sequence[dict[str, Any]]) -> list[str]:
    """Each floor a set of records falls below, as 'name: got% < floor%'."""
    got = coverage(records)
    return [f"{k}: {100 * got[k]:.1f}% < {100 * v:.0f}%" for k, v in FLOORS.items() if got[k] < v]
