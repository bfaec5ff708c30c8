"""Stage 3: turn segmented texts into sparse feature vectors.

TF-IDF blocks: word n-grams over the segmented words; optionally syllable n-grams over the
same text with the segmentation undone, which still match where underthesea split a phrase
differently; and character n-grams over a copy with diacritics removed, so text typed without
diacritics ("can bo cham") still lands on the same features as "cán bộ chậm".
"""

from __future__ import annotations

import unicodedata
from array import array
from collections import Counter
from collections.abc import Iterator
from itertools import repeat

import numpy as np

import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import FeatureUnion
from sklearn.preprocessing import normalize


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


class _TfidfBlock(TransformerMixin, BaseEstimator):
    """TF-IDF over string features, counted with vectorised scipy code instead of sklearn's
    per-document Python loops (same numbers as TfidfVectorizer with smooth_idf, l2 norm)."""

    def __init__(self, ngram_range: tuple[int, int] = (1, 2), min_df: int = 1, max_features: int | None = None,
                 sublinear_tf: bool = True) -> None:
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf

    def _features(self, doc: str) -> list[str]:
        raise NotImplementedError

    def _distinct_features(self, docs: list[str]) -> Iterator[set[str]]:
        """Each document's set of features (for document frequencies)."""
        return (set(self._features(doc)) for doc in docs)

    def fit(self, docs: list[str], y: object = None) -> _TfidfBlock:
        self.__dict__.pop("_cache", None)  # ids of an earlier vocabulary
        document_frequency: Counter[str] = Counter()
        for features in self._distinct_features(docs):
            document_frequency.update(features)
        kept = sorted((g for g, df in document_frequency.items() if df >= self.min_df),
                      key=lambda g: (-document_frequency[g], g))
        if self.max_features is not None:
            kept = kept[: self.max_features]
        kept.sort()
        self.vocabulary_ = {g: i for i, g in enumerate(kept)}
        df = np.array([document_frequency[g] for g in kept], dtype=np.float64)
        self.idf_ = (np.log((1 + len(docs)) / (1 + df)) + 1).astype(np.float32)
        return self

    def _feature_ids(self, docs: list[str]) -> tuple[np.ndarray, np.ndarray]:
        lookup = self.vocabulary_.get
        indices = array("i")  # compact: a list of ints costs ~36 bytes an entry
        indptr = [0]
        for doc in docs:
            indices.extend(map(lookup, self._features(doc), repeat(-1)))
            indptr.append(len(indices))
        # Drop unknown features (-1) in one vectorised pass and shift the row pointers to match.
        ids = np.frombuffer(indices, dtype=np.int32)
        known = ids >= 0
        kept = np.concatenate([[0], np.cumsum(known, dtype=np.int64)])
        return ids[known], kept[np.asarray(indptr, dtype=np.int64)]

    def transform(self, docs: list[str]) -> sp.csr_matrix:
        indices, indptr = self._feature_ids(docs)
        matrix = sp.csr_matrix(
            (np.ones(len(indices), dtype=np.float32), np.asarray(indices, dtype=np.int32), np.asarray(indptr, dtype=np.int64)),
            shape=(len(docs), len(self.vocabulary_)),
        )
        matrix.sum_duplicates()
        if self.sublinear_tf:
            np.log(matrix.data, out=matrix.data)
            matrix.data += 1
        matrix.data *= self.idf_[matrix.indices]
        return normalize(matrix, copy=False) if len(docs) and matrix.shape[1] else matrix


class WordNgramVectorizer(_TfidfBlock):
    """TF-IDF over n-grams of the space-separated words of a segmented text."""

    def _features(self, doc: str) -> list[str]:
        words = doc.split()
        low, high = self.ngram_range
        grams = list(words) if low == 1 else []
        # Bigrams and trigrams spelled out: ~2x faster than joining slices.
        if low <= 2 <= high:
            grams += [f"{a} {b}" for a, b in zip(words, words[1:])]
        if low <= 3 <= high:
            grams += [f"{a} {b} {c}" for a, b, c in zip(words, words[1:], words[2:])]
        for n in range(max(low, 4), high + 1):
            grams.extend(" ".join(words[i:i + n]) for i in range(len(words) - n + 1))
        return grams


class SyllableNgramVectorizer(WordNgramVectorizer):
    """TF-IDF over n-grams of syllables: the segmented text with its words split again
    ("giảng_viên nhiệt_tình" -> "giảng viên nhiệt tình")."""

    def _features(self, doc: str) -> list[str]:
        return super()._features(doc.replace("_", " "))


class SyllableCharVectorizer(_TfidfBlock):
    """TF-IDF over character n-grams inside each diacritic-stripped syllable.

    The features are those of ``TfidfVectorizer(analyzer="char_wb")`` on the stripped text,
    but each distinct syllable's n-grams are looked up once and cached: Vietnamese has only a
    few thousand syllables, so transforming is several times faster.
    """

    def __init__(self, ngram_range: tuple[int, int] = (1, 4), min_df: int = 1, max_features: int | None = None,
                 sublinear_tf: bool = True) -> None:
        super().__init__(ngram_range, min_df, max_features, sublinear_tf)

    def _ngrams(self, syllable: str) -> list[str]:
        padded = f" {syllable} "
        low, high = self.ngram_range
        grams = []
        for n in range(low, high + 1):
            if len(padded) <= n:
                grams.append(padded)
                break
            grams.extend(padded[i:i + n] for i in range(len(padded) - n + 1))
        return grams

    def _features(self, doc: str) -> list[str]:
        return [g for syllable in strip_diacritics(doc).split() for g in self._ngrams(syllable)]

    def _distinct_features(self, docs: list[str]) -> Iterator[set[str]]:
        grams_of: dict[str, list[str]] = {}  # each distinct syllable's n-grams, built once
        for doc in docs:
            features: set[str] = set()
            for syllable in strip_diacritics(doc).split():
                grams = grams_of.get(syllable)
                if grams is None:
                    grams = grams_of[syllable] = self._ngrams(syllable)
                features.update(grams)
            yield features

    def _syllable_ids(self, syllable: str) -> array:
        cache = self.__dict__.setdefault("_cache", {})
        ids = cache.get(syllable)
        if ids is None:
            ids = array("i", [i for i in map(self.vocabulary_.get, self._ngrams(syllable)) if i is not None])
            if len(cache) > 200_000:
                cache.clear()
            cache[syllable] = ids
        return ids

    def _feature_ids(self, docs: list[str]) -> tuple[array, list[int]]:
        indices = array("i")
        indptr = [0]
        cache = self.__dict__.setdefault("_cache", {})
        for doc in docs:
            for syllable in strip_diacritics(doc).split():
                ids = cache.get(syllable)
                indices.extend(ids if ids is not None else self._syllable_ids(syllable))
            indptr.append(len(indices))
        return indices, indptr

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_cache", None)
        return state


def build_featuriser(
    word_ngram_range: tuple[int, int] = (1, 2),
    char_ngram_range: tuple[int, int] = (2, 5),
    min_df: int = 1,
    char_max_features: int | None = 300_000,
    syllable_ngram_range: tuple[int, int] | None = None,
) -> FeatureUnion:
    """Return an unfitted featuriser that takes segmented texts (words separated by spaces);
    ``syllable_ngram_range`` None leaves the syllable block out."""
    blocks: list[tuple[str, TransformerMixin]] = [("words", WordNgramVectorizer(ngram_range=tuple(word_ngram_range), min_df=min_df))]
    if syllable_ngram_range is not None:
        blocks.append(("syllables", SyllableNgramVectorizer(ngram_range=tuple(syllable_ngram_range), min_df=min_df)))
    blocks.append(("chars", SyllableCharVectorizer(ngram_range=tuple(char_ngram_range), min_df=min_df, max_features=char_max_features)))
    return FeatureUnion(blocks)


