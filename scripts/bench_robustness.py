"""Robustness benchmark: how much the tagger loses on text typed without diacritics or in teencode.

Usage: python scripts/bench_robustness.py [--model models/default] [--approaches] [--json OUT]

On corpora/civic_feedback/test.jsonl it scores the model on (1) the original texts, (2) a copy
with every diacritic removed (and đ -> d), (3) a teencode copy: the test split rewritten with the
project's own abbreviation table in reverse ("không" -> "ko", "được" -> "dc", "cán bộ" -> "cb",
...). It also times the normaliser against the whole tagging path on the same texts.

``--approaches`` retrains (fixed settings, train split, tuned on dev) to compare ways of
handling missing diacritics: word n-grams only; word n-grams + character n-grams of the
diacritic-stripped syllables; the latter plus training-time augmentation with stripped copies of
the training texts; and that plus the normaliser's restoration of diacritics before segmentation
(:mod:`feedback_nlp.restore`; the first three run with it turned off). All four together are
the shipped design.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feedback_nlp.data import LabelledData  # noqa: E402
from feedback_nlp.evaluation import evaluate_model  # noqa: E402
from feedback_nlp.features import strip_diacritics  # noqa: E402
from feedback_nlp.labels import DEFAULT_THEMES, SENTIMENTS  # noqa: E402
from feedback_nlp.normalise import ABBREVIATIONS, normalise_text  # noqa: E402
from feedback_nlp.persistence import load_model  # noqa: E402
from feedback_nlp.training import train_model  # noqa: E402
from feedback_nlp.validation import corpus_files, load_labelled  # noqa: E402

# The abbreviation table in reverse: for each full form, the shortest common abbreviation.
_REVERSE: dict[str, str] = {}
for short, full in sorted(ABBREVIATIONS.items(), key=lambda kv: (len(kv[0]), kv[0])):
    if full != short and len(full) > len(short) and full not in _REVERSE:
        _REVERSE[full] = short
_TEENCODE = re.compile(r"(?<!\w)(" + "|".join(re.escape(f) for f in sorted(_REVERSE, key=len, reverse=True)) + r")(?!\w)", re.IGNORECASE)


def to_teencode(text: str) -> str:
    """Rewrite a text with the abbreviation table in reverse, as people type on phones."""
    return _TEENCODE.sub(lambda m: _REVERSE.get(m.group(1).lower(), m.group(1)), text)


@contextmanager
def restoration_off():
    """Run the normaliser without diacritic restoration (segmentations are then not cached)."""
    import feedback_nlp.normalise as normalise_module

    original = normalise_module.restore_diacritics
    normalise_module.restore_diacritics = lambda text: text
    try:
        yield
    finally:
        normalise_module.restore_diacritics = original


def variant(data: LabelledData, transform) -> LabelledData:  # type: ignore[no-untyped-def]
    return LabelledData([transform(t) for t in data.texts], data.themes, data.sentiment, data.files, data.theme_scope)


def headline(metrics: dict) -> tuple[float, float]:
    return metrics["themes"]["macro_f1"], metrics["sentiment"]["macro_f1"]


def score_variants(model, test: LabelledData) -> dict[str, tuple[float, float]]:  # type: ignore[no-untyped-def]
    return {name: headline(evaluate_model(model, variant(test, fn)))
            for name, fn in (("original", lambda t: t), ("no diacritics", strip_diacritics), ("teencode", to_teencode))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--approaches", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    files = corpus_files(ROOT / "corpora" / "civic_feedback")
    train, dev, test = (load_labelled([files[s]], theme_labels=DEFAULT_THEMES) for s in ("train", "dev", "test"))
    changed = sum(to_teencode(t) != t for t in test.texts)
    out: dict = {"teencode_texts_changed": changed, "n_test": len(test)}
    model = load_model(args.model)
    scores = score_variants(model, test)
    out["shipped_model"] = scores
    print(f"test split: {len(test)} texts; the teencode rewrite changes {changed} of them")
    print(f"{'variant':<15} {'theme macro-F1':>15} {'sentiment macro-F1':>19} {'drop (themes / sentiment)':>27}")
    base = scores["original"]
    for name, (t, s) in scores.items():
        print(f"{name:<15} {t:>15.4f} {s:>19.4f} {base[0] - t:>+14.4f} / {base[1] - s:+.4f}")
    texts = [t for t in test.texts] * 5
    started = time.perf_counter()
    for text in texts:
        normalise_text(text)
    normalise_s = time.perf_counter() - started
    started = time.perf_counter()
    for text in texts:
        normalise_text(text, fix_encoding=False)
    plain_s = time.perf_counter() - started
    started = time.perf_counter()
    model.tag_many([f"{t} {i}" for i, t in enumerate(texts)])  # distinct texts: nothing is deduplicated
    tag_s = time.perf_counter() - started
    out["timing"] = {"normalise_share_of_tagging": normalise_s / tag_s, "legacy_check_share_of_tagging": (normalise_s - plain_s) / tag_s}
    print(f"normalisation takes {100 * normalise_s / tag_s:.1f}% of tagging time on these texts "
          f"(legacy-encoding check: {100 * (normalise_s - plain_s) / tag_s:.2f}%)")
    if args.approaches:
        grid = {"features": [{"word_ngram_range": (1, 2), "char_ngram_range": (3, 5)}], "C": [10.0], "class_weight": ["balanced"]}
        augmented = train.concat(variant(train, strip_diacritics))
        words_only = {**grid, "features": [{"word_ngram_range": (1, 2), "char_ngram_range": (3, 5), "char_max_features": 0}]}
        runs = {  # name: (training data, grid, restore diacritics in the normaliser)
            "word n-grams only": (train, words_only, False),
            "words + stripped char n-grams": (train, grid, False),
            "... + stripped copies of training texts": (augmented, grid, False),
            "... + diacritic restoration (shipped)": (augmented, grid, True),
        }
        out["approaches"] = {}
        for name, (data, run_grid, restore) in runs.items():
            with nullcontext() if restore else restoration_off():
                model_run, _ = train_model(data, dev, grid=run_grid, theme_labels=DEFAULT_THEMES, sentiment_labels=SENTIMENTS,
                                           use_cache=restore, n_jobs=-1)
                out["approaches"][name] = score_variants(model_run, test)
            r = out["approaches"][name]
            print(f"{name:<42} original {r['original'][0]:.4f}/{r['original'][1]:.4f}  no diacritics "
                  f"{r['no diacritics'][0]:.4f}/{r['no diacritics'][1]:.4f}  teencode {r['teencode'][0]:.4f}/{r['teencode'][1]:.4f}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
