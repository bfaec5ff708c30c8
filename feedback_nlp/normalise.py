"""Stage 1: turn raw text into the canonical form that segmentation and features see.

``normalise_text``: NFC, HTML and control characters removed, lower-cased, URLs, e-mails,
phones and numbers masked, letter runs collapsed, and in text typed without any diacritics the
multi-syllable words of :mod:`feedback_nlp.restore`'s table given their diacritics back. ``normalise_tokens``: underthesea's token
normalisation (old tone-mark placement, common misspellings) and the project's abbreviation
table, applied to the tokens of a normalised text (the segmenter calls it, because only after
tokenizing are words separated from punctuation). Training and tagging use the same code, and
the version below is stored in every model's meta.json so a model refuses a different normaliser.
"""

from __future__ import annotations

import html
import re
import unicodedata

from underthesea.pipeline.text_normalize.text_normalizer import character_map, token_map

from .legacy_encodings import fix_legacy_encoding
from .restore import restore_diacritics

NORMALISER_VERSION = "5"

URL_TOKEN = "xxurl"
EMAIL_TOKEN = "xxemail"
PHONE_TOKEN = "xxphone"
# A digit keeps the segmenter treating it as a number ("0 phút"), unlike a made-up word.
NUMBER_TOKEN = "0"
MASK_TOKENS = (URL_TOKEN, EMAIL_TOKEN, PHONE_TOKEN, NUMBER_TOKEN)

_HTML_TAG = re.compile(r"<[^<>]{0,200}>")
_URL = re.compile(r"(?:https?://|www\.)\S+|\b[\w-]+(?:\.[\w-]+)*\.(?:vn|com|net|org|gov)(?:/\S*)?\b")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
# Vietnamese phone numbers: 0 or +84 followed by 8-10 digits, possibly grouped by . - or spaces.
_PHONE = re.compile(r"(?<!\w)(?:\+84|0)(?:[\s.-]?\d){8,10}(?!\w)")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_REPEATED = re.compile(r"(\w)\1{2,}")
_SPACES = re.compile(r"\s+")

# Abbreviations people type on phones, mapped to the full word. Applied to whole words only.
ABBREVIATIONS: dict[str, str] = {
    "ko": "không", "k": "không", "kg": "không", "hok": "không", "hông": "không", "hong": "không",
    "khong": "không", "kh": "không", "kp": "không phải",
    "dc": "được", "đc": "được", "dk": "được", "đk": "được", "duoc": "được",
    "ng": "người", "ngta": "người ta", "mn": "mọi người", "mng": "mọi người",
    "j": "gì", "gi": "gì", "vs": "với", "r": "rồi", "roi": "rồi",
    "cb": "cán bộ", "cbcc": "cán bộ công chức", "ubnd": "ubnd",
    "bít": "biết", "bik": "biết", "bt": "biết", "z": "vậy", "v": "vậy", "zậy": "vậy", "dzậy": "vậy",
    "ntn": "như thế nào", "sdt": "số điện thoại", "sđt": "số điện thoại", "đt": "điện thoại",
    "lm": "làm", "nc": "nước", "trc": "trước", "ck": "chồng", "vk": "vợ", "tks": "cảm ơn",
    "thanks": "cảm ơn", "cám": "cảm", "hs": "hồ sơ", "hso": "hồ sơ", "ok": "ok", "oke": "ok",
    "bh": "bao giờ", "bjo": "bây giờ", "bi": "bị", "wá": "quá", "qá": "quá", "lun": "luôn",
}


def strip_control_characters(text: str) -> str:
    """Replace control and format characters (and lone surrogates) by spaces."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else " " for ch in text)


_URL_HINTS = ("http", "www", ".vn", ".com", ".net", ".org", ".gov")
_DIGIT = re.compile(r"\d")


def mask_links(text: str) -> str:
    """Replace e-mail addresses and URLs by placeholder words."""
    # Cheap substring checks first: most comments have none of these, and the patterns are slow.
    if "@" in text:
        text = _EMAIL.sub(f" {EMAIL_TOKEN} ", text)
    if any(hint in text for hint in _URL_HINTS):
        text = _URL.sub(f" {URL_TOKEN} ", text)
    return text


def mask_numbers(text: str) -> str:
    """Replace phone numbers and other numbers by placeholder words."""
    if _DIGIT.search(text):
        text = _PHONE.sub(f" {PHONE_TOKEN} ", text)
        text = _NUMBER.sub(f" {NUMBER_TOKEN} ", text)
    return text


def mask_entities(text: str) -> str:
    """Replace URLs, e-mails, phone numbers and numbers by placeholder words."""
    return mask_numbers(mask_links(text))


# underthesea's token normalisation table (misspellings, old tone-mark placement) and the
# abbreviations, as one lookup applied token by token during segmentation.
_TOKEN_TABLE: dict[str, list[str]] = {word: [word2] for word, word2 in token_map.items() if len(word) <= 6}
_TOKEN_TABLE.update({short: full.split() for short, full in ABBREVIATIONS.items()})


def normalise_tokens(tokens: list[str]) -> list[str]:
    """Token-level normalisation: expand abbreviations, fix spellings (tokens of a normalised text)."""
    table = _TOKEN_TABLE
    if not any(token in table for token in tokens):
        return tokens
    out: list[str] = []
    for token in tokens:
        replacement = table.get(token)
        if replacement is None:
            out.append(token)
        else:
            out.extend(replacement)
    return out


# Emoticons and emoji carry sentiment: they become two words the models can learn from.
HAPPY_TOKEN, SAD_TOKEN = "emovui", "emobuon"
_HAPPY_EMOTICON = re.compile(r"(?<![\w/]):-?[\)\]d]+|(?<![\w/])=[\)\]]+|\^[_.]?\^|<3+|(?<!\w)xd+(?!\w)")
_SAD_EMOTICON = re.compile(r"(?<![\w/]):['-]?[\(\[]+|(?<!\w)t_t(?!\w)|(?<![\w-])-_-(?![\w-])|(?<![\w/]):[/|](?![\w/])")
_EMOJI_TABLE = {
    **{ord(ch): f" {HAPPY_TOKEN} " for ch in "😀😁😂🤣😃😄😅😆😉😊😋😍🥰😘😻👍👏👌💯🙏🎉❤💕💖💗🌹🥳"},
    **{ord(ch): f" {SAD_TOKEN} " for ch in "😞😔😟😕🙁☹😢😭😡😠🤬👎😤😒🙄💔😩😫😖😣😓😰😱🤮😑😐"},
}
_EMOTICON_HINT = re.compile(r"[:=^<]|xd|t_t|-_-")


def replace_emoticons(text: str) -> str:
    """Map emoticons (":)", ":((", "=))", "^^", "<3") and common emoji to HAPPY_TOKEN / SAD_TOKEN."""
    if not text.isascii():
        text = text.translate(_EMOJI_TABLE)
    if _EMOTICON_HINT.search(text):
        text = _HAPPY_EMOTICON.sub(f" {HAPPY_TOKEN} ", text)
        text = _SAD_EMOTICON.sub(f" {SAD_TOKEN} ", text)
    return text


# "quáaaa" -> "quá": a toned vowel followed by its own bare letter typed two or more times more.
_STRETCHED = re.compile(r"([^\x00-\x7f])([aeiouy])\2+(?!\w)")


def _keep_vowel(match: re.Match[str]) -> str:
    toned, bare = match.group(1), match.group(2)
    return toned if unicodedata.normalize("NFD", toned)[0] == bare else match.group()


def normalise_text(text: str, *, fix_encoding: bool = True) -> str:
    """Return the canonical form of one text (see module docstring). Empty input gives ''.

    ``fix_encoding`` converts text typed in the legacy TCVN3 or VNI encodings to Unicode first
    (see :mod:`feedback_nlp.legacy_encodings`); it costs under a microsecond on clean text.
    """
    if fix_encoding:
        text = fix_legacy_encoding(text)
    if "&" in text:
        text = html.unescape(text)
    if "<" in text:
        text = _HTML_TAG.sub(" ", text)
    text = unicodedata.normalize("NFC", strip_control_characters(text))
    for odd, standard in character_map.items():
        if odd in text:
            text = text.replace(odd, standard)
    # Links before emoticons (":/" in "https://"), emoticons before numbers ("<3").
    text = mask_numbers(replace_emoticons(mask_links(text.lower())))
    if not text.isascii():
        text = _STRETCHED.sub(_keep_vowel, text)
    text = _REPEATED.sub(r"\1", text)
    text = _SPACES.sub(" ", text).strip()
    return restore_diacritics(text)  # only changes text typed without any diacritics
