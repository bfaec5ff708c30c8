"""Build feedback_nlp/resources/diacritics.tsv, the normaliser's diacritic-restoration table.

Usage: python scripts/build_diacritics_table.py [--min-count 2] [--min-share 0.9]

Reads the train and dev splits of corpora/civic_feedback (never test) and keeps each
multi-syllable word of underthesea's Viet74K list whose stripped form is read that way in at
least --min-share (and --min-count) of its uses there (feedback_nlp.restore.build_table).
A new table changes what the normaliser outputs: bump NORMALISER_VERSION and retrain.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feedback_nlp.restore import TABLE_FILE, build_table  # noqa: E402

CORPUS = ROOT / "corpora" / "civic_feedback"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--min-count", type=int, default=2)
    parser.add_argument("--min-share", type=float, default=0.9)
    args = parser.parse_args()
    texts = [json.loads(line)["text"] for split in ("train", "dev")
             for line in (CORPUS / f"{split}.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    table = build_table(texts, args.min_count, args.min_share)
    out = ROOT / "feedback_nlp" / "resources" / TABLE_FILE
    lines = [f"# stripped<TAB>word: built by scripts/build_diacritics_table.py --min-count {args.min_count} "
             f"--min-share {args.min_share} from corpora/civic_feedback train + dev"]
    lines += [f"{key}\t{word}" for key, word in sorted(table.items())]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(table)} entries -> {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
