"""Detect and repair Vietnamese typed with the legacy TCVN3 (ABC) and VNI fonts.

Before Unicode, Vietnamese was typed with 8-bit fonts: in the north mostly TCVN3 (TCVN 5712:1993
VN3, the "ABC" fonts .VnTime, .VnArial, ...), in the south mostly VNI Windows (VNI-Times, ...).
The font drew Vietnamese letters where Windows code page 1252 has other characters, so when such a
cell reaches Unicode software (Excel/CSV exports of government spreadsheets) it reads as mojibake:

    TCVN3  "C¸n bé x· lµm viÖc chËm"        ->  "Cán bộ xã làm việc chậm"
    VNI    "Caùn boä xaõ laøm vieäc chaäm"  ->  "Cán bộ xã làm việc chậm"

TCVN3 gives every lower-case Vietnamese letter one byte (67 letters) plus the seven capitals
Ă Â Ê Ô Ơ Ư Đ; capitals *with a tone mark* do not exist in VN3 (people switched to an all-capitals
font such as .VnTimeH, which draws the lower-case codes as capitals). VNI writes a base letter
followed by one diacritic character ("aù" = á, "oä" = ộ), plus single characters for ơ, ư, đ and
for i and ỵ with tones; it has upper case throughout.

Public functions:

- ``decode_legacy(text, encoding)``: convert every legacy character, no questions asked.
- ``encode_legacy(text, encoding)``: Unicode -> how the legacy text appears (tests use it to make
  mojibake from Vietnamese they write).
- ``detect_legacy_encoding(text)``: ``"tcvn3"``, ``"vni"`` or ``None``.
- ``fix_legacy_encoding(text)``: convert when detected, otherwise return the text unchanged.

Detection compares, word by word, how the text reads now with how it reads after decoding, using
a check of Vietnamese syllable structure (``is_vietnamese_syllable``): legacy text reads as
garbage now ("lµm", "laøm") and as valid syllables after decoding, while Unicode Vietnamese reads
as valid syllables now. Because plain Unicode text is by far the common case, a cheap pre-check
(``text.isascii()`` and two character-class scans) returns at once for it.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = [
    "DECODE_TABLES",
    "ENCODE_TABLES",
    "ENCODINGS",
    "TCVN3",
    "TONE_NAMES",
    "VNI",
    "VOWELS",
    "decode_legacy",
    "detect_legacy_encoding",
    "encode_legacy",
    "fix_legacy_encoding",
    "is_vietnamese_syllable",
]

TCVN3 = "tcvn3"
VNI = "vni"
ENCODINGS: tuple[str, str] = (TCVN3, VNI)

# ---------------------------------------------------------------------------------------------
# Character tables
# ---------------------------------------------------------------------------------------------

# The twelve Vietnamese vowel letters, each with its six tones in this order:
# none (ngang), acute (sắc), grave (huyền), hook above (hỏi), tilde (ngã), dot below (nặng).
TONE_NAMES: tuple[str, ...] = ("none", "acute", "grave", "hook", "tilde", "dot")
VOWELS: dict[str, str] = {
    "a": "aáàảãạ",
    "ă": "ăắằẳẵặ",
    "â": "âấầẩẫậ",
    "e": "eéèẻẽẹ",
    "ê": "êếềểễệ",
    "i": "iíìỉĩị",
    "o": "oóòỏõọ",
    "ô": "ôốồổỗộ",
    "ơ": "ơớờởỡợ",
    "u": "uúùủũụ",
    "ư": "ưứừửữự",
    "y": "yýỳỷỹỵ",
}

# TCVN 5712:1993 VN3: the byte of each vowel with each tone, in the order of TONE_NAMES. The
# bytes are given as numbers: read as cp1252 (identical to latin-1 from 0xA0 up, and VN3 uses
# nothing below 0xA0 but ASCII), 0xB8 is "¸", 0xB5 "µ", and so on.
_TCVN3_VOWEL_BYTES: dict[str, tuple[int, int, int, int, int, int]] = {
    #        none  acute grave hook  tilde dot
    "a": (0x61, 0xB8, 0xB5, 0xB6, 0xB7, 0xB9),
    "ă": (0xA8, 0xBE, 0xBB, 0xBC, 0xBD, 0xC6),
    "â": (0xA9, 0xCA, 0xC7, 0xC8, 0xC9, 0xCB),
    "e": (0x65, 0xD0, 0xCC, 0xCE, 0xCF, 0xD1),
    "ê": (0xAA, 0xD5, 0xD2, 0xD3, 0xD4, 0xD6),
    "i": (0x69, 0xDD, 0xD7, 0xD8, 0xDC, 0xDE),
    "o": (0x6F, 0xE3, 0xDF, 0xE1, 0xE2, 0xE4),
    "ô": (0xAB, 0xE8, 0xE5, 0xE6, 0xE7, 0xE9),
    "ơ": (0xAC, 0xED, 0xEA, 0xEB, 0xEC, 0xEE),
    "u": (0x75, 0xF3, 0xEF, 0xF1, 0xF2, 0xF4),
    "ư": (0xAD, 0xF8, 0xF5, 0xF6, 0xF7, 0xF9),
    "y": (0x79, 0xFD, 0xFA, 0xFB, 0xFC, 0xFE),
}
# The only capitals VN3 has beyond ASCII, and đ.
_TCVN3_OTHER_BYTES: dict[str, int] = {
    "Ă": 0xA1, "Â": 0xA2, "Ê": 0xA3, "Ô": 0xA4, "Ơ": 0xA5, "Ư": 0xA6, "Đ": 0xA7,
    "đ": 0xAE,
}

# VNI Windows: each vowel with each tone (order of TONE_NAMES) as it reads in cp1252. Base letter
# then a diacritic character: ù acute, ø grave, û hook, õ tilde, ï dot; â circumflex with
# á à å ã ä for circumflex + acute/grave/hook/tilde/dot; ê breve with é è ú ü ë likewise.
# Single characters: ô = ơ, ö = ư, ñ = đ, i with tones í ì æ ó ò, and î = ỵ.
# Capitals are the same sequences in upper case ("AÙ" = Á): cp1252 puts each capital 0x20 below
# its small letter, exactly as VNI does.
_VNI_VOWEL_SEQUENCES: dict[str, tuple[str, str, str, str, str, str]] = {
    #      none   acute  grave  hook   tilde  dot
    "a": ("a",  "aù", "aø", "aû", "aõ", "aï"),
    "ă": ("aê", "aé", "aè", "aú", "aü", "aë"),
    "â": ("aâ", "aá", "aà", "aå", "aã", "aä"),
    "e": ("e",  "eù", "eø", "eû", "eõ", "eï"),
    "ê": ("eâ", "eá", "eà", "eå", "eã", "eä"),
    "i": ("i",  "í",  "ì",  "æ",  "ó",  "ò"),
    "o": ("o",  "où", "oø", "oû", "oõ", "oï"),
    "ô": ("oâ", "oá", "oà", "oå", "oã", "oä"),
    "ơ": ("ô",  "ôù", "ôø", "ôû", "ôõ", "ôï"),
    "u": ("u",  "uù", "uø", "uû", "uõ", "uï"),
    "ư": ("ö",  "öù", "öø", "öû", "öõ", "öï"),
    "y": ("y",  "yù", "yø", "yû", "yõ", "î"),
}
_VNI_D = "ñ"  # đ; "Ñ" is Đ


def _build_tables() -> tuple[dict[str, str], dict[str, str], dict[str, str], dict[str, str]]:
    """Unicode -> legacy and legacy -> Unicode maps for both encodings, checked for clashes."""
    tcvn3_encode: dict[str, str] = {}
    tcvn3_decode: dict[str, str] = {}
    vni_encode: dict[str, str] = {}
    vni_decode: dict[str, str] = {}
    for base, forms in VOWELS.items():
        for tone, letter in enumerate(forms):
            code = chr(_TCVN3_VOWEL_BYTES[base][tone])
            sequence = _VNI_VOWEL_SEQUENCES[base][tone]
            if letter.isascii():
                continue  # plain a e i o u y are themselves in both encodings
            tcvn3_encode[letter] = code
            tcvn3_decode[code] = letter
            vni_encode[letter] = sequence
            vni_encode[letter.upper()] = sequence.upper()
            vni_decode[sequence] = letter
            vni_decode[sequence.upper()] = letter.upper()
    for letter, byte in _TCVN3_OTHER_BYTES.items():
        tcvn3_encode[letter] = chr(byte)
        tcvn3_decode[chr(byte)] = letter
    # VN3 has no capitals with a tone mark: they are typed with the lower-case code in an
    # all-capitals font (.VnTimeH), so that is how they are encoded.
    for base, forms in VOWELS.items():
        for letter in forms:
            if letter.upper() not in tcvn3_encode and not letter.isascii():
                tcvn3_encode[letter.upper()] = tcvn3_encode[letter]
    vni_encode["đ"], vni_encode["Đ"] = _VNI_D, _VNI_D.upper()
    vni_decode[_VNI_D], vni_decode[_VNI_D.upper()] = "đ", "Đ"
    if len(tcvn3_decode) != 74 or len(set(tcvn3_decode.values())) != 74:
        raise AssertionError("TCVN3 table: expected 74 distinct codes (67 small, 7 capitals)")
    if len(vni_decode) != 134 or len(set(vni_decode.values())) != 134:
        raise AssertionError("VNI table: expected 134 distinct sequences (67 letters in two cases)")
    if not all(0xA1 <= ord(code) <= 0xFE for code in tcvn3_decode):
        raise AssertionError("TCVN3 codes must lie in 0xA1-0xFE")
    if not all(ch.isascii() or 0xC0 <= ord(ch) <= 0xFE for seq in vni_decode for ch in seq):
        raise AssertionError("VNI characters must be ASCII or lie in 0xC0-0xFE")
    return tcvn3_encode, tcvn3_decode, vni_encode, vni_decode


_TCVN3_ENCODE, _TCVN3_DECODE, _VNI_ENCODE, _VNI_DECODE = _build_tables()

#: legacy character/sequence -> Unicode letter, per encoding (read-only use, please).
DECODE_TABLES: dict[str, dict[str, str]] = {TCVN3: _TCVN3_DECODE, VNI: _VNI_DECODE}
#: Unicode letter -> legacy character/sequence, per encoding.
ENCODE_TABLES: dict[str, dict[str, str]] = {TCVN3: _TCVN3_ENCODE, VNI: _VNI_ENCODE}

_TCVN3_DECODE_TRANSLATION = str.maketrans(_TCVN3_DECODE)
_TCVN3_ENCODE_TRANSLATION = str.maketrans(_TCVN3_ENCODE)
_VNI_ENCODE_TRANSLATION = str.maketrans(_VNI_ENCODE)
# TCVN3 codes for small letters: in an all-capitals font they were drawn as capitals.
_TCVN3_SMALL_CODES = frozenset(code for code, letter in _TCVN3_DECODE.items() if letter.islower())

# VNI decoding: a base vowel and a diacritic character, or one of the single characters. The
# diacritic characters and the single characters are disjoint sets, so an unknown pair (e.g.
# "u" + circumflex) falls back to the base alone plus the diacritic character unchanged.
_VNI_SINGLES = {seq: letter for seq, letter in _VNI_DECODE.items() if len(seq) == 1}
_VNI_MARKS = frozenset(seq[1] for seq in _VNI_DECODE if len(seq) == 2)
_VNI_BASES = frozenset(seq[0] for seq in _VNI_DECODE if len(seq) == 2)
if _VNI_MARKS & set(_VNI_SINGLES):
    raise AssertionError("VNI diacritic characters and single-letter characters must not overlap")


def _vni_pairs() -> dict[str, str]:
    """Base + diacritic character -> letter. A diacritic character is accepted in either case
    after a base in either case ("Aù" as well as "AÙ"): some converters and hand edits mix them.
    The letter's case follows the base."""
    pairs: dict[str, str] = {}
    for sequence, letter in _VNI_DECODE.items():
        if len(sequence) == 2:
            base, mark = sequence
            cased = letter.upper() if base.isupper() else letter.lower()
            pairs[base + mark.lower()] = pairs[base + mark.upper()] = cased
    return pairs


_VNI_PAIRS = _vni_pairs()
_VNI_PATTERN = re.compile(
    "([" + re.escape("".join(sorted(_VNI_BASES))) + "])"
    "([" + re.escape("".join(sorted(_VNI_MARKS | {m.upper() for m in _VNI_MARKS}))) + "])?"
    "|[" + re.escape("".join(sorted(_VNI_SINGLES))) + "]"
)


def _vni_replace(match: re.Match[str]) -> str:
    whole = match.group(0)
    if len(whole) == 1:
        return _VNI_SINGLES.get(whole, whole)
    letter = _VNI_PAIRS.get(whole)
    if letter is not None:
        return letter
    base, mark = whole
    return _VNI_SINGLES.get(base, base) + mark


# ---------------------------------------------------------------------------------------------
# Vietnamese syllable check
# ---------------------------------------------------------------------------------------------

_BASE_AND_TONE: dict[str, tuple[str, int]] = {
    letter: (base, tone) for base, forms in VOWELS.items() for tone, letter in enumerate(forms)
}
_CONSONANTS = frozenset("bcdđghklmnpqrstvx")

# Every rime (vowel nucleus with its glides and final consonant) of standard Vietnamese, without
# tone marks ("ych ynh yt" are the rimes of quých, quỳnh, quýt, where qu- has taken the u; they
# are accepted only there).
# Rimes with a stop final (c, ch, p, t) take only the acute or dot-below tone.
_RIMES = """
a ac ach ai am an ang anh ao ap at au ay
ăc ăm ăn ăng ăp ăt
âc âm ân âng âp ât âu ây
e ec em en eng eo ep et
ê êch êm ên ênh êp êt êu
i ia ich im in inh ip it iu
iêc iêm iên iêng iêp iêt iêu
o oc oi om on ong op ot ooc oong
oa oac oach oai oam oan oang oanh oao oap oat oay
oăc oăm oăn oăng oăt
oe oen oeo oet
ô ôc ôi ôm ôn ông ôp ôt
ơ ơi ơm ơn ơp ơt
u uc ui um un ung up ut
ua uân uâng uât uây
uê uêch uênh
uôc uôi uôm uôn uông uôt
uơ
uy uya uych uyn uynh uyp uyt uyu uyên uyêt
ych ynh yt
ư ưa ưc ưi ưm ưng ưt ưu
ươc ươi ươm ươn ương ươp ươt ươu
y yêm yên yêng yêt yêu
""".split()
# Initial consonants with the spelling rules that matter: k, gh, ngh before front vowels only,
# c, g, ng never before them; q only as "qu".
_INITIALS = (
    r"(?:ngh(?=[ieê])|ng(?![ieê])|nh|gh(?=[ieê])|gi|g(?![eê])|kh|k(?=[ieêy])|ch|c(?![ieêy])"
    r"|ph|qu|th|tr|[bdđhlmnprstvx])?"
)
_SYLLABLE = re.compile(
    _INITIALS + "(?P<rime>" + "|".join(sorted(_RIMES, key=len, reverse=True)) + ")"
)
_STOP_FINALS = ("c", "ch", "p", "t")
_QU_ONLY_RIMES = frozenset(("ych", "ynh", "yt"))


_VOWEL_BASES = frozenset(VOWELS)


def _tone_positions(cluster: str, has_final: bool) -> tuple[int, ...]:
    """Where the tone mark may stand in a vowel cluster (indices), old and new placement both."""
    if len(cluster) == 1:
        return (0,)
    if len(cluster) == 2:
        if has_final:
            return (0, 1) if cluster == "oo" else (1,)
        if cluster in ("oa", "oe", "uy"):
            return (0, 1)  # hòa/hoà, khỏe/khoẻ, thủy/thuỷ
        if cluster in ("uê", "uơ"):
            return (1,)  # thuê, thuở
        return (0,)  # ai ao au ay âu ây eo êu ia iu oi ôi ơi ua ui ưa ưi ưu
    if len(cluster) == 3:
        return (2,) if cluster == "uyê" else (1,)  # quyền/khuyên; người, tuổi, khoái, hiếu
    return ()


@lru_cache(maxsize=8192)
def is_vietnamese_syllable(word: str) -> bool:
    """True if ``word`` (any case) is one well-formed Vietnamese syllable.

    Written in lower case, capitals or title case; initial consonant + rime from the list above
    (the y-rimes of quých, quỳnh, quýt only after qu-), at most one tone mark, placed where
    Vietnamese spelling puts it (the old and the new placement are both accepted for oa, oe,
    uy: "hòa" and "hoà"), and a stop final only with the acute or dot-below tone. It does not
    know which syllables are actual words: it is a structural check, enough to tell "làm" from
    "lµm" or "laøm", and "chê" from "cheõ".
    """
    if not (word.islower() or word.isupper() or word.istitle()):
        return False  # "vỴ", "bÔi": no word is written with a capital inside it
    tone = 0
    tone_at = -1
    bare: list[str] = []
    for index, ch in enumerate(word.lower()):
        base_tone = _BASE_AND_TONE.get(ch)
        if base_tone is None:
            if ch not in _CONSONANTS:
                return False
            bare.append(ch)
            continue
        base, mark = base_tone
        if mark:
            if tone:
                return False
            tone, tone_at = mark, index
        bare.append(base)
    syllable = "".join(bare)
    match = _SYLLABLE.fullmatch(syllable)
    if match is None:
        return False
    rime = match.group("rime")
    if rime.endswith(_STOP_FINALS) and tone not in (1, 5):
        return False
    if rime.startswith("oo") and tone not in (0, 1):
        return False  # the loanword rimes of xoong, soóc take no other tone
    if rime in _QU_ONLY_RIMES and not syllable.startswith("qu"):
        return False
    if not tone:
        return True
    # The vowel cluster, without the u of qu- and the i of gi- (gìn keeps its i: it is the vowel).
    start = 0
    while syllable[start] not in _VOWEL_BASES:
        start += 1
    end = start
    while end < len(syllable) and syllable[end] in _VOWEL_BASES:
        end += 1
    if syllable.startswith("qu") or (syllable.startswith("gi") and end - start >= 2):
        start = 2
    return tone_at - start in _tone_positions(syllable[start:end], end < len(syllable))


# ---------------------------------------------------------------------------------------------
# Encoding and decoding
# ---------------------------------------------------------------------------------------------


def _check_encoding(encoding: str) -> str:
    name = encoding.lower().replace("-", "").replace("_", "") if isinstance(encoding, str) else ""
    if name in ("tcvn3", "tcvn", "abc", "vn3", "tcvn57123"):
        return TCVN3
    if name in ("vni", "vniwin", "vniwindows"):
        return VNI
    raise ValueError(f"unknown legacy encoding {encoding!r}: use 'tcvn3' or 'vni'")


def encode_legacy(text: str, encoding: str) -> str:
    """Return ``text`` as it reads when typed in a legacy font and then read as cp1252.

    ``encoding`` is ``"tcvn3"`` or ``"vni"``. The text is put in NFC first. Characters that are
    not Vietnamese letters pass through unchanged. TCVN3 has no capitals with a tone mark, so
    "Á" is written with the code of "á", as an all-capitals font (.VnTimeH) user would have typed
    it: decoding gives "á" back unless the word is written in capitals (see ``decode_legacy``).
    """
    encoding = _check_encoding(encoding)
    text = unicodedata.normalize("NFC", text)
    if encoding == TCVN3:
        return text.translate(_TCVN3_ENCODE_TRANSLATION)
    return text.translate(_VNI_ENCODE_TRANSLATION)


# Word-like runs in which legacy characters are looked at: letters, plus the TCVN3 codes that
# cp1252 does not count as letters ("¸" "·" "¶" "¹" "»" ...).
_TCVN3_NON_LETTERS = "".join(sorted(code for code in _TCVN3_DECODE if not code.isalpha()))
_TOKEN = {
    TCVN3: re.compile(r"(?:[^\W\d_]|[" + re.escape(_TCVN3_NON_LETTERS) + r"])+"),
    VNI: re.compile(r"[^\W\d_]+"),
}


def _tcvn3_caps_text(text: str) -> bool:
    """True if the text's letters that have a case of their own in TCVN3 are all capitals.

    Such text was typed in an all-capitals font, so its small-letter codes stand for capitals.
    At least one word must have two such capitals, so that "Bé" alone stays "Bộ".
    """
    seen_pair = False
    for token in _TOKEN[TCVN3].findall(text):
        fixed = [ch for ch in token if ch not in _TCVN3_SMALL_CODES and ch.lower() != ch.upper()]
        if any(not ch.isupper() for ch in fixed):
            return False
        seen_pair = seen_pair or len(fixed) >= 2
    return seen_pair


def _decode_tcvn3_token(token: str, caps_text: bool) -> str:
    decoded = token.translate(_TCVN3_DECODE_TRANSLATION)
    if not any(ch in _TCVN3_SMALL_CODES for ch in token):
        return decoded
    fixed = [ch for ch in token if ch not in _TCVN3_SMALL_CODES and ch.lower() != ch.upper()]
    if all(ch.isupper() for ch in fixed) and (caps_text or len(fixed) >= 2):
        return decoded.upper()
    return decoded


def _decode_token(token: str, encoding: str, caps_text: bool) -> str:
    if encoding == TCVN3:
        return _decode_tcvn3_token(token, caps_text)
    return _VNI_PATTERN.sub(_vni_replace, token)


def decode_legacy(text: str, encoding: str) -> str:
    """Convert every legacy character of ``text`` to Unicode (NFC), without detection.

    For TCVN3, a word whose other letters are all capitals ("C¸N") is given in capitals ("CÁN"),
    and so is every word of a text typed wholly in capitals: that text came from an all-capitals
    font. Use ``fix_legacy_encoding`` for text that may not be legacy at all.
    """
    encoding = _check_encoding(encoding)
    caps_text = encoding == TCVN3 and _tcvn3_caps_text(text)
    out = _TOKEN[encoding].sub(lambda m: _decode_token(m.group(0), encoding, caps_text), text)
    return unicodedata.normalize("NFC", out)


# ---------------------------------------------------------------------------------------------
# Detection
# ---------------------------------------------------------------------------------------------

_VIETNAMESE_LETTERS = "".join(VOWELS.values()) + "đ"
_VIETNAMESE_LETTERS += _VIETNAMESE_LETTERS.upper()
# Vietnamese letters that cp1252 does not have: legacy text read as cp1252 never contains them,
# Unicode Vietnamese nearly always does.
_UNICODE_ONLY_LETTERS = "".join(sorted(ch for ch in set(_VIETNAMESE_LETTERS) if ord(ch) > 0xFF))
_UNICODE_VIETNAMESE = re.compile("[" + _UNICODE_ONLY_LETTERS + "]")
_LEGACY_CHARS = set(_TCVN3_DECODE) | {ch for seq in _VNI_DECODE for ch in seq if not ch.isascii()}
_LEGACY_CHARS |= {ch.upper() for ch in _VNI_MARKS}
# Legacy characters that are not Vietnamese letters themselves ("¸", "ø", "ä", "ñ", ...): their
# presence is what sends a text to the full check.
_DISTINCTIVE = re.compile(
    "[" + re.escape("".join(sorted(_LEGACY_CHARS - set(_VIETNAMESE_LETTERS)))) + "]"
)
_ANY_LEGACY = re.compile("[" + re.escape("".join(sorted(_LEGACY_CHARS))) + "]")


def _needs_full_check(text: str) -> bool:
    """Cheap pre-check: False for text that cannot be legacy (ASCII, plain Unicode Vietnamese).

    Full check when the text has a legacy character that is no Vietnamese letter, or when it has
    legacy characters that are also Vietnamese letters ("é", "ô") and no Vietnamese letter outside
    cp1252 (legacy text never has one).
    """
    if text.isascii():
        return False
    if _DISTINCTIVE.search(text) is not None:
        return True
    return _UNICODE_VIETNAMESE.search(text) is None and _ANY_LEGACY.search(text) is not None


# Token classes for one encoding.
_UNCHANGED, _UNICODE, _IMPROVED, _AMBIGUOUS, _WORSENED, _NOISE = range(6)


class _Reading:
    """How ``text`` reads under one encoding: per-word classes and the detection counts."""

    __slots__ = ("encoding", "spans", "decoded", "classes", "strong_improved", "ambiguous",
                 "valid_now", "valid_after", "n_non_ascii", "valid_after_all", "n_all", "mixed")

    def __init__(self, text: str, encoding: str) -> None:
        self.encoding = encoding
        caps_text = encoding == TCVN3 and _tcvn3_caps_text(text)
        self.spans: list[tuple[int, int]] = []
        self.decoded: list[str] = []
        self.classes: list[int] = []
        self.strong_improved = self.ambiguous = self.valid_now = self.valid_after = 0
        self.n_non_ascii = self.valid_after_all = self.n_all = 0
        self.mixed = False
        for match in _TOKEN[encoding].finditer(text):
            token = match.group(0)
            decoded = _decode_token(token, encoding, caps_text)
            now = is_vietnamese_syllable(token)
            self.n_all += 1
            if token.isascii():
                self.valid_after_all += now
                continue
            self.n_non_ascii += 1
            if _UNICODE_VIETNAMESE.search(token) is not None:
                kind, after = _UNICODE, now
                self.mixed = True
            elif decoded == token:
                kind, after = _UNCHANGED, now
            else:
                after = is_vietnamese_syllable(decoded)
                if after and not now:
                    kind = _IMPROVED
                    # Words count as evidence; a lone "×" or "·" (ì, ã in TCVN3) does not.
                    self.strong_improved += len(token) > 1
                elif after:
                    kind = _AMBIGUOUS
                    self.ambiguous += 1
                elif now:
                    kind = _WORSENED
                else:
                    kind = _NOISE
            self.valid_now += now
            self.valid_after += after
            self.valid_after_all += after
            self.spans.append(match.span())
            self.decoded.append(decoded)
            self.classes.append(kind)

    def fires(self) -> bool:
        """The decision rule: see ``detect_legacy_encoding``."""
        needed = 2 if self.mixed else 1
        return (
            self.strong_improved >= needed
            and self.valid_after > self.valid_now
            and 2 * self.valid_after >= self.n_non_ascii
            and (
                self.strong_improved >= 2
                or self.valid_after == self.n_non_ascii
                or 2 * self.valid_after_all > self.n_all
            )
        )

    def convert(self, text: str) -> str:
        """Rebuild ``text`` with the words this reading converts (text known to fire)."""
        if self.mixed:
            convert = self._words_to_convert_in_mixed_text(text)
        else:
            convert = [kind not in (_WORSENED, _UNCHANGED) for kind in self.classes]
        parts: list[str] = []
        position = 0
        for (start, end), decoded, do in zip(self.spans, self.decoded, convert):
            if do and text[start:end] != decoded:
                parts.append(text[position:start])
                parts.append(decoded)
                position = end
        parts.append(text[position:])
        return unicodedata.normalize("NFC", "".join(parts))

    def _words_to_convert_in_mixed_text(self, text: str) -> list[bool]:
        """In a cell mixing Unicode and legacy words: convert a word that reads as garbage now and
        as Vietnamese decoded; never one with Unicode-only letters or one that reads well now and
        badly decoded; for the rest, follow the nearest word that is clearly legacy (garbage now)
        or clearly Unicode. At equal distance, the neighbour joined to the word by spaces alone
        wins ("dân: C¸n" keeps "dân"); if that does not settle it, the word is left as it is."""
        classes = self.classes
        count = len(classes)
        evidence = (_IMPROVED, _UNICODE)
        # Nearest clear word on each side, found in two linear passes.
        left: list[int] = [-1] * count
        right: list[int] = [-1] * count
        last = -1
        for i in range(count):
            left[i] = last
            if classes[i] in evidence:
                last = i
        last = -1
        for i in range(count - 1, -1, -1):
            right[i] = last
            if classes[i] in evidence:
                last = i
        decisions: list[bool] = []
        for i, kind in enumerate(classes):
            if kind == _IMPROVED:
                decisions.append(True)
                continue
            if kind not in (_AMBIGUOUS, _NOISE):
                decisions.append(False)
                continue
            candidates = [j for j in (left[i], right[i]) if j >= 0]
            if not candidates:
                decisions.append(False)
                continue
            nearest = min(abs(i - j) for j in candidates)
            near = [j for j in candidates if abs(i - j) == nearest]
            legacy = [j for j in near if classes[j] == _IMPROVED]
            unicode_ = [j for j in near if classes[j] == _UNICODE]
            if not unicode_:
                decisions.append(True)
            elif not legacy:
                decisions.append(False)
            else:
                decisions.append(self._joined_by_spaces(text, i, legacy[0])
                                 and not self._joined_by_spaces(text, i, unicode_[0]))
        return decisions

    def _joined_by_spaces(self, text: str, i: int, j: int) -> bool:
        low, high = sorted((i, j))
        return text[self.spans[low][1]:self.spans[high][0]].isspace()


def _best_reading(text: str) -> _Reading | None:
    """The reading of ``text`` that fires, if any; when both do, the one that makes more words
    valid, then the one that has to change fewer words that already read as Vietnamese
    ("chöa tìm": VNI "chưa tìm" rather than TCVN3 "chửa tỡm"), then TCVN3, the national standard."""
    if not _needs_full_check(text):
        return None
    best: _Reading | None = None
    best_key: tuple[int, int, int] | None = None
    for encoding in ENCODINGS:
        reading = _Reading(text, encoding)
        if not reading.fires():
            continue
        key = (reading.strong_improved, reading.valid_after, -reading.ambiguous)
        if best_key is None or key > best_key:
            best, best_key = reading, key
    return best


def detect_legacy_encoding(text: str) -> str | None:
    """Return ``"tcvn3"`` or ``"vni"`` if ``text`` is Vietnamese typed in that legacy font, or None.

    Each word is read as it is and as decoded. The encoding is reported when, among the words
    with non-ASCII characters, decoding turns at least one word of two or more characters from a
    non-syllable into a valid Vietnamese syllable (two, if the text also has Unicode Vietnamese),
    more of them read as valid syllables decoded than now, at least half of them do decoded, and
    (if only one word improves) either all of them or more than half of all words are valid
    syllables decoded. Unicode Vietnamese, English, numbers, emoji, URLs and text without
    diacritics never get there: their words either do not change or already read as Vietnamese.

    Limits: a word or two whose legacy form is itself well-formed Unicode Vietnamese (VNI "Hồ sơ"
    is "Hoà sô", TCVN3 "Chúng" is "Chóng") cannot be told apart and is left alone; when both
    encodings explain a short text equally well (VNI "tỉ mỉ" = "tæ mæ" = TCVN3 "tổ mổ"), the
    one that changes fewer already-valid words wins, then TCVN3.
    """
    if not isinstance(text, str):
        return None
    reading = _best_reading(text)
    return None if reading is None else reading.encoding


def fix_legacy_encoding(text: str) -> str:
    """Return ``text`` converted to Unicode (NFC) if it is legacy TCVN3/VNI, else ``text`` itself.

    Plain text costs well under a microsecond per 100-character comment (``isascii`` for ASCII,
    two character-class scans for Unicode Vietnamese), so it can run on every cell. In a cell
    mixing Unicode and legacy words, only the legacy words are converted: those that read as
    garbage now, and the ambiguous ones whose nearest clear neighbour is legacy.

    Run it on the raw text, before any other clean-up: TCVN3 writes "ư" as U+00AD (soft hyphen),
    which control-character stripping would turn into a space, and HTML unescaping or lower-casing
    first would hide the evidence. TCVN3 capitals with a tone mark come back in lower case except
    in words or texts written in capitals (VN3 has no such capitals; see ``decode_legacy``).
    """
    if not isinstance(text, str):
        return text
    reading = _best_reading(text)
    if reading is None:
        return text
    return reading.convert(text)
