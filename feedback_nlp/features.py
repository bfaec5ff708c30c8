"""Stage 3: turn segmented texts into sparse feature vectors.

Two TF-IDF blocks: word n-grams over the segmented words, and character n-grams over a copy
with diacritics removed, so text typed without diacritics ("can bo cham") still lands on the
same features as "cán bộ chậm".
"""

from __future__ import annotations

import unicodedata

import numpy as np

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion


def _build_fold_table() -> dict[int, str]:
    table: dict[int, str] = {ord("đ"): "d", ord("Đ"): "D", ord("_"): " "}
    for code in range(0xC0, 0x1FFF):
        ch = chr(code)
        base = unicodedata.normalize("NFD", ch)
        if len(base) > 1 and base[0].isascii() and base[0].isalpha():
            table[code] = base[0]
    return table


_FOLD_TABLE = _build_fold_table()


def strip_diacritics(text: str) -> str:
    """Remove Vietnamese diacritics ("Đường sá" -> "Duong sa"); also turns "_" into a space."""
    return text.translate(_FOLD_TABLE)


def build_featuriser(
    word_ngram_range: tuple[int, int] = (1, 2),
    char_ngram_range: tuple[int, int] = (2, 5),
    min_df: int = 1,
    char_max_features: int | None = 300_000,
) -> FeatureUnion:
    """Return an unfitted featuriser that takes segmented texts (words separated by spaces)."""
    words = TfidfVectorizer(
        token_pattern=r"\S+", lowercase=False, ngram_range=tuple(word_ngram_range),
        min_df=min_df, sublinear_tf=True, dtype=np.float32,
    )
    chars = TfidfVectorizer(
        analyzer="char_wb", preprocessor=strip_diacritics, lowercase=False,
        ngram_range=tuple(char_ngram_range), min_df=min_df, max_features=char_max_features,
        sublinear_tf=True, dtype=np.float32,
    )
    return FeatureUnion([("words", words), ("chars", chars)])


def drop_stop_words_attribute(featuriser: FeatureUnion) -> None:
    """Free the pruned-terms set that TfidfVectorizer keeps only for introspection."""
    for _, vectoriser in featuriser.transformer_list:
        if hasattr(vectoriser, "stop_words_"):
            del vectoriser.stop_words_
