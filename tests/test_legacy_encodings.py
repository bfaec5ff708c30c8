"""Legacy Vietnamese encodings: TCVN3 (ABC, .VnTime) and VNI (VNI-Times) read as cp1252."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedback_nlp.legacy_encodings import (
    DECODE_TABLES,
    ENCODINGS,
    TCVN3,
    VNI,
    VOWELS,
    decode_legacy,
    detect_legacy_encoding,
    encode_legacy,
    fix_legacy_encoding,
    is_vietnamese_syllable,
)

from conftest import CORPUS, read_jsonl

# Every Vietnamese letter that is not plain ASCII: 66 vowels with a diacritic or tone, and đ.
SMALL_LETTERS = [ch for forms in VOWELS.values() for ch in forms if not ch.isascii()] + ["đ"]
CAPITAL_LETTERS = [letter.upper() for letter in SMALL_LETTERS]
TCVN3_CAPITALS = set("ĂÂÊÔƠƯĐ")  # the only capitals VN3 has beyond ASCII

# TCVN 5712:1993 VN3 in code order, as its code chart lists it (glibc's TCVN5712-1 charmap, of
# which VN3 is the subset without toned capitals, agrees). Written independently of the module's
# letter-by-tone table, so a slip in either shows up here.
VN3_CODE_CHART = {
    0xA1: "Ă", 0xA2: "Â", 0xA3: "Ê", 0xA4: "Ô", 0xA5: "Ơ", 0xA6: "Ư", 0xA7: "Đ", 0xA8: "ă",
    0xA9: "â", 0xAA: "ê", 0xAB: "ô", 0xAC: "ơ", 0xAD: "ư", 0xAE: "đ", 0xB5: "à", 0xB6: "ả",
    0xB7: "ã", 0xB8: "á", 0xB9: "ạ", 0xBB: "ằ", 0xBC: "ẳ", 0xBD: "ẵ", 0xBE: "ắ", 0xC6: "ặ",
    0xC7: "ầ", 0xC8: "ẩ", 0xC9: "ẫ", 0xCA: "ấ", 0xCB: "ậ", 0xCC: "è", 0xCE: "ẻ", 0xCF: "ẽ",
    0xD0: "é", 0xD1: "ẹ", 0xD2: "ề", 0xD3: "ể", 0xD4: "ễ", 0xD5: "ế", 0xD6: "ệ", 0xD7: "ì",
    0xD8: "ỉ", 0xDC: "ĩ", 0xDD: "í", 0xDE: "ị", 0xDF: "ò", 0xE1: "ỏ", 0xE2: "õ", 0xE3: "ó",
    0xE4: "ọ", 0xE5: "ồ", 0xE6: "ổ", 0xE7: "ỗ", 0xE8: "ố", 0xE9: "ộ", 0xEA: "ờ", 0xEB: "ở",
    0xEC: "ỡ", 0xED: "ớ", 0xEE: "ợ", 0xEF: "ù", 0xF1: "ủ", 0xF2: "ũ", 0xF3: "ú", 0xF4: "ụ",
    0xF5: "ừ", 0xF6: "ử", 0xF7: "ữ", 0xF8: "ứ", 0xF9: "ự", 0xFA: "ỳ", 0xFB: "ỷ", 0xFC: "ỹ",
    0xFD: "ý", 0xFE: "ỵ",
}

# VNI Windows by its keying rule, derived here from each letter's Unicode decomposition rather
# than from a table: tone characters ù (acute) ø (grave) û (hook) õ (tilde) ï (dot) after the
# vowel; circumflex â with á à å ã ä for circumflex + tone; breve ê with é è ú ü ë; horn letters
# ô (ơ) and ö (ư); i with tones and ỵ as single characters; ñ for đ.
_TONE = {"\u0301": 1, "\u0300": 2, "\u0309": 3, "\u0303": 4, "\u0323": 5}
_PLAIN_TONES = ("", "ù", "ø", "û", "õ", "ï")
_CIRCUMFLEX_TONES = ("â", "á", "à", "å", "ã", "ä")
_BREVE_TONES = ("ê", "é", "è", "ú", "ü", "ë")
_I_TONES = ("i", "í", "ì", "æ", "ó", "ò")


def vni_by_rule(letter: str) -> str:
    small = letter.lower()
    if small == "đ":
        sequence = "ñ"
    else:
        base, *marks = unicodedata.normalize("NFD", small)
        tone = next((_TONE[m] for m in marks if m in _TONE), 0)
        if "\u0302" in marks:
            sequence = base + _CIRCUMFLEX_TONES[tone]
        elif "\u0306" in marks:
            sequence = base + _BREVE_TONES[tone]
        elif "\u031b" in marks:
            sequence = {"o": "ô", "u": "ö"}[base] + _PLAIN_TONES[tone]
        elif base == "i":
            sequence = _I_TONES[tone]
        elif base == "y" and tone == 5:
            sequence = "î"
        else:
            sequence = base + _PLAIN_TONES[tone]
    return sequence.upper() if letter.isupper() else sequence


# Civic feedback written for these tests. Sentence-initial capitals carry no tone mark, so the
# TCVN3 round trip is exact (VN3 has no toned capitals; see test_tcvn3_toned_capitals...).
SENTENCES = [
    "Cán bộ xã làm việc chậm, hẹn ba lần vẫn chưa xong hồ sơ.",
    "Người dân phải chờ cả buổi sáng mới được tiếp nhận giấy tờ.",
    "Thái độ của nhân viên bộ phận một cửa rất niềm nở và chu đáo.",
    "Cổng dịch vụ công bị lỗi suốt hai ngày, không nộp được hồ sơ trực tuyến.",
    "Đề nghị phường công khai lệ phí cấp giấy chứng nhận quyền sử dụng đất.",
    "Tôi bị yêu cầu nộp thêm tiền ngoài quy định thì hồ sơ mới được giải quyết.",
    "Đường vào thôn lầy lội quá, mùa mưa trẻ em đi học rất khó khăn.",
    "Hướng dẫn thủ tục rõ ràng, chỉ mất mười lăm phút là xong.",
    "Chúng tôi kiến nghị ủy ban huyện sớm sửa chữa trạm bơm nước tưới tiêu.",
    "Nhân viên tiếp dân nói năng cộc lọc, hỏi gì cũng không giải thích.",
    "Hồ sơ đăng ký kinh doanh được trả kết quả đúng hẹn, tôi rất hài lòng.",
    "Bà con mong chính quyền xã quan tâm hơn đến các hộ nghèo và gia đình chính sách.",
    "Gọi điện thoại đường dây nóng mãi không ai nghe máy, thật bực mình.",
    "Phường tổ chức đối thoại với người dân định kỳ, ý kiến được ghi nhận đầy đủ.",
]


# --- tables --------------------------------------------------------------------------------


def test_tcvn3_table_is_the_vn3_code_chart():
    assert DECODE_TABLES[TCVN3] == {chr(code): letter for code, letter in VN3_CODE_CHART.items()}


@pytest.mark.parametrize("letter", SMALL_LETTERS + CAPITAL_LETTERS)
def test_vni_table_follows_the_vni_keying_rule(letter):
    assert encode_legacy(letter, VNI) == vni_by_rule(letter)


def test_tables_cover_every_letter_once():
    assert len(SMALL_LETTERS) == 67 and len(set(SMALL_LETTERS)) == 67
    tcvn3 = DECODE_TABLES[TCVN3]
    assert sorted(tcvn3.values()) == sorted(SMALL_LETTERS + sorted(TCVN3_CAPITALS))
    vni = DECODE_TABLES[VNI]
    assert sorted(vni.values()) == sorted(SMALL_LETTERS + CAPITAL_LETTERS)
    # cp1252 and latin-1 agree on every character used (nothing in 0x80-0x9F).
    for table in (tcvn3, vni):
        for sequence in table:
            assert sequence.encode("cp1252") == sequence.encode("latin-1")


# --- every letter, every tone: round trips ---------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("letter", SMALL_LETTERS + CAPITAL_LETTERS)
def test_letter_round_trip(letter, encoding):
    legacy = encode_legacy(letter, encoding)
    # A few letters sit where cp1252 has the same letter: ý in TCVN3, í ì Í Ì in VNI.
    assert (legacy == letter) == (letter in {TCVN3: "ý", VNI: "íìÍÌ"}[encoding])
    if encoding == TCVN3 and letter.isupper() and letter not in TCVN3_CAPITALS:
        # VN3 has no toned capitals: the capital is typed with the small letter's code
        # (drawn as a capital by an all-capitals font such as .VnTimeH) and comes back small...
        assert decode_legacy(legacy, encoding) == letter.lower()
        # ...unless the word around it is in capitals.
        assert decode_legacy(encode_legacy(f"C{letter}N", encoding), encoding) == f"C{letter}N"
    else:
        assert decode_legacy(legacy, encoding) == letter
        assert decode_legacy(encode_legacy(f"c{letter}n", encoding), encoding) == f"c{letter}n"


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_all_letters_in_one_text_round_trip(encoding):
    letters = SMALL_LETTERS + (CAPITAL_LETTERS if encoding == VNI else sorted(TCVN3_CAPITALS))
    text = " ".join(f"b{letter}" for letter in letters)
    assert decode_legacy(encode_legacy(text, encoding), encoding) == text


def test_examples_from_the_issue():
    assert detect_legacy_encoding("C¸n bé x· lµm viÖc chËm") == TCVN3
    assert fix_legacy_encoding("C¸n bé x· lµm viÖc chËm") == "Cán bộ xã làm việc chậm"
    assert detect_legacy_encoding("Caùn boä xaõ laøm vieäc chaäm") == VNI
    assert fix_legacy_encoding("Caùn boä xaõ laøm vieäc chaäm") == "Cán bộ xã làm việc chậm"
    assert encode_legacy("Cán bộ xã làm việc chậm", TCVN3) == "C¸n bé x· lµm viÖc chËm"
    assert encode_legacy("Cán bộ xã làm việc chậm", VNI) == "Caùn boä xaõ laøm vieäc chaäm"


# --- realistic text: detected and fixed back exactly -----------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("sentence", SENTENCES)
def test_sentence_detected_and_fixed(sentence, encoding):
    legacy = encode_legacy(sentence, encoding)
    assert legacy != sentence
    assert detect_legacy_encoding(legacy) == encoding
    fixed = fix_legacy_encoding(legacy)
    assert fixed == sentence
    assert unicodedata.is_normalized("NFC", fixed)
    assert fix_legacy_encoding(fixed) == fixed  # the fixed text is not converted again


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("words", [3, 4])
def test_a_few_words_are_enough(encoding, words):
    for sentence in SENTENCES:
        start = " ".join(sentence.rstrip(".").split()[:words])
        assert fix_legacy_encoding(encode_legacy(start, encoding)) == start, start


def test_two_words_that_also_read_as_unicode_are_left_alone():
    # VNI "Hồ sơ" is "Hoà sô", and TCVN3 "Chúng" is "Chóng": both are well-formed Unicode
    # Vietnamese as they stand, so nothing says they are legacy. Longer text settles it.
    assert encode_legacy("Hồ sơ", VNI) == "Hoà sô"
    assert detect_legacy_encoding("Hoà sô") is None
    assert encode_legacy("Chúng", TCVN3) == "Chóng"
    assert detect_legacy_encoding("Chóng") is None
    assert fix_legacy_encoding(encode_legacy("Hồ sơ đã nộp", VNI)) == "Hồ sơ đã nộp"


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_whole_paragraph_with_lines(encoding):
    text = "\n".join(SENTENCES)
    assert fix_legacy_encoding(encode_legacy(text, encoding)) == text


def test_tcvn3_all_capitals_text_from_vntimeh_font():
    text = "UBND XÃ PHƯỚC HẢI THÔNG BÁO LỊCH TIẾP CÔNG DÂN THÁNG 5"
    legacy = encode_legacy(text, TCVN3)
    assert legacy == "UBND X· PH¦íC H¶I TH¤NG B¸O LÞCH TIÕP C¤NG D¢N TH¸NG 5"
    assert fix_legacy_encoding(legacy) == text
    # A capital word inside ordinary text.
    text = "Ban hành LUẬT đất đai sửa đổi"
    assert fix_legacy_encoding(encode_legacy(text, TCVN3)) == text


def test_tcvn3_toned_capital_at_sentence_start_comes_back_small():
    # VN3 cannot tell "Ủy" from "ủy": documented loss, everything else is kept.
    legacy = encode_legacy("Ủy ban xã giải quyết đơn rất nhanh", TCVN3)
    assert fix_legacy_encoding(legacy) == "ủy ban xã giải quyết đơn rất nhanh"


def test_vni_capitals_and_mixed_case_marks():
    text = "Ủy ban xã giải quyết đơn rất nhanh"
    assert fix_legacy_encoding(encode_legacy(text, VNI)) == text
    assert fix_legacy_encoding("AÙo aám cho hoïc sinh ngheøo") == "Áo ấm cho học sinh nghèo"
    assert fix_legacy_encoding("Aùo aám cho hoïc sinh ngheøo") == "Áo ấm cho học sinh nghèo"


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_cell_mixing_unicode_and_legacy(encoding):
    text = "Cán bộ xã làm việc chậm, hẹn ba lần vẫn chưa xong"
    legacy = encode_legacy(text, encoding)
    prefix = "Ý kiến người dân: "  # "dân" reads "dõn" in TCVN3, yet stays: its neighbour is Unicode
    assert detect_legacy_encoding(prefix + legacy) == encoding
    assert fix_legacy_encoding(prefix + legacy) == prefix + text
    suffix = " (đã chuyển, hoà giải xong)"  # "hoà" reads "hồ" in VNI, yet stays
    assert fix_legacy_encoding(legacy + suffix) == text + suffix


def test_unicode_output_is_nfc_and_control_free():
    fixed = fix_legacy_encoding(encode_legacy("Phường Hưng Lợi", TCVN3))  # ư is U+00AD in TCVN3
    assert fixed == "Phường Hưng Lợi"
    assert unicodedata.is_normalized("NFC", fixed) and "\xad" not in fixed


# --- text that must be left alone ------------------------------------------------------------

NOT_LEGACY = [
    # Unicode Vietnamese, including words made only of letters cp1252 also has.
    *SENTENCES,
    "CÁN BỘ XÃ LÀM VIỆC CHẬM",
    "Tôi có ý kiến",
    "Tôi có",
    "có",
    "hoà",
    "khoá",
    "Hoà giải, văn hoá, khoá học",
    "ÔNG TÊN",
    "Tốt",
    "bé",
    unicodedata.normalize("NFD", "Cán bộ xã làm việc chậm"),
    # Vietnamese without diacritics and teencode.
    "can bo xa lam viec cham qua",
    "cb xa lam viec cham, hen 3 lan chua xong",
    "ko bít cb xã lm j mà lâu z",
    "hok dc j het trơn á",
    "wá chán lun, mìk k hỉu j hết",
    "cb xã đòi 2 triệu mới ký",
    "zô phường hỏi thì cb bảo ák, thik thì chờ",
    # English and other Latin-script languages.
    "The online portal crashed twice while I was uploading my documents.",
    "Customer service was polite; café opened at 7 à la carte",
    "Grüße aus München, señor, año, naïve, Zoë, São Paulo",
    # URLs, e-mails, numbers, emoji, symbols.
    "https://dichvucong.gov.vn/p/home/dvc-tthc-thu-tuc-hanh-chinh.html?ma=1.001234",
    "Xem tại www.hanoi.gov.vn hoặc gửi thư tới mot.cua@ubnd.hanoi.gov.vn",
    "0912 345 678",
    "1.250.000 đồng",
    "12/03/2024 - 15:30",
    "25°C, ½ giờ, 3×4 m, © 2024, § 5, « trích dẫn », 10 µg",
    "😡😡😡 quá tệ",
    "👍👍 tốt lắm ❤️",
    ":)) ok :( ^^",
    "🇻🇳🇻🇳",
    # Mixed Unicode text.
    "Cán bộ xã nói 'no problem' nhưng vẫn không làm",
    "Email: nguyen.van.a@gmail.com, SĐT 0912345678, mã hồ sơ H12.34-567",
    "Nộp qua VNeID lỗi OTP, app báo “error 500” – thử lại sau…",
    "",
    " ",
    "\x00\x1b\u200b",
]


@pytest.mark.parametrize("text", NOT_LEGACY)
def test_not_legacy_left_alone(text):
    assert detect_legacy_encoding(text) is None
    assert fix_legacy_encoding(text) is text


def test_non_strings_pass_through():
    assert detect_legacy_encoding(None) is None  # type: ignore[arg-type]
    assert fix_legacy_encoding(None) is None  # type: ignore[arg-type]


def test_unknown_encoding_is_an_error():
    with pytest.raises(ValueError, match="tcvn3"):
        encode_legacy("á", "viscii")
    with pytest.raises(ValueError):
        decode_legacy("á", "utf-8")


# --- the project's corpus: nothing fires on it; its legacy copies are found and restored -------


@pytest.fixture(scope="module")
def corpus_texts() -> list[str]:
    return [
        unicodedata.normalize("NFC", record["text"])
        for split in ("train", "dev", "test")
        for record in read_jsonl(CORPUS / f"{split}.jsonl")
    ]


def test_corpus_is_never_detected(corpus_texts):
    assert [text for text in corpus_texts if detect_legacy_encoding(text) is not None] == []


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_corpus_legacy_copies_found_and_restored(corpus_texts, encoding):
    tried = missed = 0
    for text in corpus_texts:
        legacy = encode_legacy(text, encoding)
        if legacy == text:
            continue  # no diacritics
        tried += 1
        found = detect_legacy_encoding(legacy)
        if found is None:
            missed += 1  # a few words that also read as Unicode ("Toát" is a word too)
            continue
        assert found == encoding, text
        assert fix_legacy_encoding(legacy) == decode_legacy(legacy, encoding), text
        toned_capitals = [
            ch for ch in text if ch.isupper() and not ch.isascii() and ch not in TCVN3_CAPITALS
        ]
        if encoding == VNI or not toned_capitals:
            assert fix_legacy_encoding(legacy) == text
    assert tried > 3000
    assert missed <= tried // 500


# --- syllable check --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "word",
    "làm việc Người nghiêng khuỷu quyền Quỳnh quýt giữa gìn hoà hòa thuỷ thủy khoẻ khỏe "
    "thuở xoong soóc ạ ơ ý yêu uyên được CHẬM Tốt".split(),
)
def test_valid_syllables(word):
    assert is_vietnamese_syllable(word)


@pytest.mark.parametrize(
    "word",
    "lµm laøm viÖc cheõ cac ngi gha kan qúa ýt hóan vỴ bÔi online khoõng".split() + ["", "a b"],
)
def test_invalid_syllables(word):
    assert not is_vietnamese_syllable(word)


# --- arbitrary input -------------------------------------------------------------------------

_LEGACY_ALPHABET = sorted(
    {ch for table in DECODE_TABLES.values() for sequence in table for ch in sequence}
    | set("abcdeghiklmnopqrstuvxy AEIOUY.,")
    | set("ạđươ😡")
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.text(st.characters(exclude_categories=("Cs",)), max_size=200),
        st.text(st.sampled_from(_LEGACY_ALPHABET), max_size=120),
    )
)
def test_arbitrary_text_never_crashes(text):
    found = detect_legacy_encoding(text)
    fixed = fix_legacy_encoding(text)
    assert isinstance(fixed, str)
    if found is None:
        assert fixed == text
    else:
        assert found in ENCODINGS
        assert unicodedata.is_normalized("NFC", fixed)
    for encoding in ENCODINGS:
        assert isinstance(decode_legacy(encode_legacy(text, encoding), encoding), str)
