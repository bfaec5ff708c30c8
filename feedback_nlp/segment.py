"""Stage 2: split normalised text into words with underthesea's CRF word segmenter.

Multi-syllable words are joined by "_" ("cán_bộ"), so a segmented text is a plain string of
space-separated words that the featuriser can split cheaply.

This drives underthesea's own regex tokenizer and CRF model (the ones ``word_tokenize`` uses)
directly: it skips work the normaliser has already done (character and token normalisation)
and the per-token bookkeeping ``word_tokenize`` does for tagged output, and applies the
project's token-level normalisation (abbreviations) between tokenizing and tagging. For text
without abbreviations the result equals ``word_tokenize(text, format="text")`` (tested).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from typing import Any

from underthesea import word_tokenize
from underthesea.pipeline.word_tokenize.regex_tokenize import patterns as TOKEN_PATTERN

from .normalise import normalise_tokens

_TAGGER: Any = None


def _without_groups(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """underthesea's token pattern with its capturing groups made non-capturing, so that
    ``findall`` returns whole tokens in one C call; the original if that changes anything."""
    source = re.sub(r"\(\?P<\w+>", "(?:", pattern.pattern)
    source = re.sub(r"(?<!\\)\((?!\?)", "(?:", source)
    try:
        fast = re.compile(source, pattern.flags)
    except re.error:
        return pattern
    probe = "Cán bộ (UBND) xã: 12/3/2024, 1.200.000đ; https://dvc.gov.vn a@b.vn ... \"hỏi\" - ok! 3,5% v.v."
    if fast.groups or fast.findall(probe) != [m.group() for m in pattern.finditer(probe)]:
        return pattern
    return fast


_FAST_TOKEN_PATTERN = _without_groups(TOKEN_PATTERN)


def _crf_tagger() -> Any:
    """underthesea's word-segmentation CRF, loaded once per process (as word_tokenize does)."""
    global _TAGGER
    if _TAGGER is None:
        word_tokenize("khởi động")  # makes underthesea load its model into its module global
        _TAGGER = sys.modules["underthesea.pipeline.word_tokenize"].word_tokenize_model
    return _TAGGER


def split_tokens(normalised_text: str) -> list[str]:
    """Syllables, numbers and punctuation, by underthesea's tokenizer pattern."""
    if _FAST_TOKEN_PATTERN.groups == 0:
        return _FAST_TOKEN_PATTERN.findall(normalised_text)
    return [match.group() for match in TOKEN_PATTERN.finditer(normalised_text)]


def segment_words(normalised_text: str) -> str:
    """Segment one normalised text; returns words joined by spaces, syllables by "_"."""
    tokens = normalise_tokens(split_tokens(normalised_text))
    if not tokens:
        return ""
    tags = _crf_tagger().predict([[token] for token in tokens])
    words: list[str] = []
    for tag, token in zip(tags, tokens):
        if tag == "I-W" and words:
            words[-1] = f"{words[-1]}_{token}"
        else:
            words.append(token)
    return " ".join(words)


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
