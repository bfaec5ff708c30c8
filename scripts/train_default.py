"""Train the shipped default model from corpora/civic_feedback and write models/default.

Usage: python scripts/train_default.py [--output models/default] [--seed 0] [--no-augment] [--syllables 1,2]

Deterministic: the same corpus and seed give identical predictions. Tunes on dev.jsonl,
refits on train + dev, and records test.jsonl metrics in meta.json.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feedback_nlp import __version__  # noqa: E402
from feedback_nlp.labels import DEFAULT_THEMES, SENTIMENTS  # noqa: E402
from feedback_nlp.persistence import save_model  # noqa: E402
from feedback_nlp.training import evaluate_prepared, grid_with_syllables, prepare_texts, train_model  # noqa: E402
from feedback_nlp.validation import corpus_files, load_labelled  # noqa: E402

CORPUS = ROOT / "corpora" / "civic_feedback"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, default=ROOT / "models" / "default")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-augment", action="store_true",
                        help="do not add copies of the training texts without diacritics (the shipped model has them)")
    parser.add_argument("--syllables", metavar="LOW,HIGH",
                        help="also offer the trainer feature settings with syllable n-grams (BENCHMARKS.md, section 3; "
                             "the shipped model is trained without this)")
    args = parser.parse_args()
    grid = grid_with_syllables(tuple(int(n) for n in args.syllables.split(","))) if args.syllables else None
    files = corpus_files(CORPUS)
    options = {"theme_labels": DEFAULT_THEMES, "corpus_schema": True}
    train, dev, test = (load_labelled([files[s]], **options) for s in ("train", "dev", "test"))
    started = time.perf_counter()
    model, report = train_model(
        train, dev, seed=args.seed, theme_labels=DEFAULT_THEMES, sentiment_labels=SENTIMENTS,
        augment_without_diacritics=not args.no_augment, n_jobs=-1, use_cache=True, grid=grid,
        progress=lambda msg: print(msg, file=sys.stderr) if not msg.startswith("tried") else None,
    )
    test_metrics = evaluate_prepared(model, prepare_texts(test.texts), test)
    hashes = {str(path.relative_to(ROOT)): digest for path, digest in ((Path(p), d) for p, d in {**train.files, **dev.files, **test.files}.items())}
    fingerprint = hashlib.sha256("".join(f"{k}:{v}\n" for k, v in sorted(hashes.items())).encode()).hexdigest()
    meta = {
        "name": "default",
        "version": f"{__version__}+corpus.{fingerprint[:8]}",
        "created": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "training_data": {"files": hashes, "fingerprint": fingerprint, "n_train": len(train), "n_dev": len(dev), "n_test": len(test),
                          "fitted_on": "train + dev (tuned on dev)"},
        "tuning": {"chosen": report.params, "seed": args.seed, "augment_without_diacritics": not args.no_augment,
                   "cv_metrics": report.cv_metrics, "seconds": round(time.perf_counter() - started, 1)},
        "metrics": {"test": test_metrics, "dev": report.dev_metrics},
        "recipe": f"python scripts/train_default.py --seed {args.seed}" + (" --no-augment" if args.no_augment else "")
                  + (f" --syllables {args.syllables}" if args.syllables else ""),
    }
    save_model(model, args.output, meta)
    t, s = test_metrics["themes"], test_metrics["sentiment"]
    print(f"wrote {args.output}")
    print(f"test: theme macro-F1 {t['macro_f1']:.3f} micro-F1 {t['micro_f1']:.3f} "
          + " ".join(f"{k} {v['f1']:.3f}" for k, v in t["per_theme"].items())
          + f"; sentiment macro-F1 {s['macro_f1']:.3f} accuracy {s['accuracy']:.3f}")


if __name__ == "__main__":
    main()
