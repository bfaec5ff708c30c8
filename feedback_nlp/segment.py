"""Stage 2: split normalised text into words with underthesea's CRF word segmenter.

Multi-syllable words are joined by "_" ("cán_bộ"), so a segmented text is a plain string of
space-separated words that the featuriser can split cheaply.
"""

from __future__ import annotations

from collections.abc import Iterable

from underthesea import word_tokenize


def segment_words(normalised_text: str) -> str:
    """Segment one normalised text; returns words joined by spaces, syllables by "_"."""
    if not normalised_text:
        return ""
    # The normaliser already applied underthesea's token normalisation, so skip doing it twice.
    return word_tokenize(normalised_text, format="text", use_token_normalize=False)


def segment_many(normalised_texts: Iterable[str]) -> list[str]:
    """Segment texts in order, segmenting each distinct text once."""
    cache: dict[str, str] = {}
    out = []
    for text in normalised_texts:
        seg = cache.get(text)
        if seg is None:
            seg = cache[text] = segment_words(text)
        out.append(seg)
    return out
