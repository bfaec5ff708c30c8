"""Print the corpus datasheet's count tables (markdown) for corpora/civic_feedback.

Usage: python scripts/corpus_stats.py [CORPUS_DIR]
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import Counter
from pathlib import Path

SPLITS = ("train", "dev", "test")


def main() -> None:
    directory = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "corpora" / "civic_feedback"
    data = {s: [json.loads(line) for line in (directory / f"{s}.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()] for s in SPLITS}
    data["all"] = [r for s in SPLITS for r in data[s]]
    rows: list[tuple[str, callable]] = []
    for theme in ("harassment", "delays", "courtesy", "digitalisation"):
        rows.append((f"theme `{theme}`", lambda r, t=theme: t in r["themes"]))
    rows += [("no theme", lambda r: not r["themes"]), ("2+ themes", lambda r: len(r["themes"]) >= 2)]
    for s in ("negative", "neutral", "positive"):
        rows.append((f"sentiment `{s}`", lambda r, s=s: r["sentiment"] == s))
    for s in ("comment", "survey", "petition", "news"):
        rows.append((f"source `{s}`", lambda r, s=s: r["source"] == s))
    for s in ("standard", "no_diacritics", "teencode", "regional", "long"):
        rows.append((f"style `{s}`", lambda r, s=s: r["style"] == s))
    cols = list(data)
    print("| | " + " | ".join(cols) + " |")
    print("|---|" + "---:|" * len(cols))
    print("| records | " + " | ".join(str(len(data[c])) for c in cols) + " |")
    for name, test in rows:
        cells = []
        for c in cols:
            k = sum(1 for r in data[c] if test(r))
            cells.append(f"{k} ({100 * k / len(data[c]):.1f}%)")
        print(f"| {name} | " + " | ".join(cells) + " |")
    lengths = [len(r["text"].split()) for r in data["all"]]
    print(f"\nWords per text: min {min(lengths)}, median {statistics.median(lengths):.0f}, max {max(lengths)}; "
          f"{sum(n >= 60 for n in lengths)} texts of 60+ words.")
    combos = Counter(tuple(sorted(r["themes"])) for r in data["all"])
    print("\nMost common theme combinations: " + ", ".join(f"{'+'.join(k) or '(none)'} {v}" for k, v in combos.most_common(8)))


if __name__ == "__main__":
    main()
