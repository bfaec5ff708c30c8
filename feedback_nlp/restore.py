"""Put diacritics back on the multi-syllable words of a text typed without any.

Text typed on phones often has no diacritics ("can bo xa sach nhieu"). underthesea then cannot
find words ("sách_nhiễu"), and the word n-grams of the model miss them. Restoring is ambiguous
("ho so" is "hồ sơ" or "hò sơ"), so the table keeps only multi-syllable words of underthesea's
Viet74K list whose reading is clear in the project's own corpus. Single syllables are never
touched ("sach" may be "sách" or "sạch"). The table is ``resources/diacritics.tsv``, built by
``scripts/build_diacritics_table.py``; its file name is part of the normaliser version.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources

from .features import strip_diacritics

MAX_SYLLABLES = 4
TABLE_FILE = "diacritics.tsv"
_WORD = re.compile(r"(\w+)")


def has_diacritics(text: str) -> bool:
    """True when any letter of ``text`` carries a diacritic (or is đ)."""
    return not text.isascii() and strip_diacritics(text) != text


def dictionary_words(max_syllables: int = MAX_SYLLABLES) -> set[str]:
    """Lower-cased multi-syllable words of underthesea's Viet74K word list."""
    lines = resources.files("underthesea").joinpath("corpus/data/Viet74K.txt").read_text(encoding="utf-8").splitlines()
    words = (unicodedata.normalize("NFC", line.strip().lower()) for line in lines)
    return {w for w in words if 2 <= len(w.split()) <= max_syllables and "-" not in w}


def build_table(reference: Iterable[str], min_count: int = 2, min_share: float = 0.9,
                max_syllables: int = MAX_SYLLABLES) -> dict[str, str]:
    """Stripped word -> word, for dictionary words that make up ``min_share`` or more (and at least
    ``min_count``) of the syllable sequences with that stripped form in the ``reference`` texts."""
    words = dictionary_words(max_syllables)
    keys = {strip_diacritics(w) for w in words}
    seen: dict[str, Counter] = defaultdict(Counter)
    for text in reference:
        if not has_diacritics(text):
            continue
        syllables = _WORD.findall(unicodedata.normalize("NFC", text.lower()))
        for n in range(2, max_syllables + 1):
            for i in range(len(syllables) - n + 1):
                gram = " ".join(syllables[i:i + n])
                key = strip_diacritics(gram)
                if key in keys and key != gram:
                    seen[key][gram] += 1
    table = {}
    for key, readings in seen.items():
        (best, count), total = readings.most_common(1)[0], sum(readings.values())
        if best in words and count >= min_count and count >= min_share * total:
            table[key] = best
    return table


@lru_cache(maxsize=1)
def load_table() -> dict[str, str]:
    """The shipped table (read once per process)."""
    text = resources.files("feedback_nlp").joinpath("resources", TABLE_FILE).read_text(encoding="utf-8")
    return dict(line.split("\t", 1) for line in text.splitlines() if line and not line.startswith("#"))


def restore_diacritics(text: str, table: dict[str, str] | None = None) -> str:
    """Replace each run of 2-4 space-separated syllables found in the table by its reading,
    longest first, left to right. Texts that already have diacritics come back unchanged."""
    if has_diacritics(text):
        return text
    table = load_table() if table is None else table
    tokens = _WORD.split(text)  # words at odd positions, separators between them
    out = list(tokens)
    i = 1
    while i < len(tokens):
        for n in range(MAX_SYLLABLES, 1, -1):
            words = tokens[i:i + 2 * n - 1:2]
            if len(words) < n or any(gap != " " for gap in tokens[i + 1:i + 2 * n - 2:2]):
                continue
            reading = table.get(" ".join(words).lower())
            if reading is not None:
                for k, syllable in enumerate(reading.split()):
                    out[i + 2 * k] = syllable.capitalize() if words[k][:1].isupper() else syllable
                i += 2 * n
                break
        else:
            i += 2
    return "".join(out)
