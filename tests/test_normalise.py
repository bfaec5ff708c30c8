"""Stage 1: normalisation."""

import unicodedata

import pytest

from feedback_nlp.normalise import EMAIL_TOKEN, NUMBER_TOKEN, PHONE_TOKEN, URL_TOKEN, normalise_text, normalise_tokens
from feedback_nlp.segment import segment_words, split_tokens


def test_nfc_and_lower_case():
    decomposed = unicodedata.normalize("NFD", "Cán Bộ Phường")
    assert normalise_text(decomposed) == "cán bộ phường"


def test_underthesea_tone_mark_normalisation():
    # "hoà" (old tone placement) and "hòa" are the same word once tokens are normalised.
    assert normalise_tokens(split_tokens(normalise_text("Hoà giải"))) == ["hòa", "giải"]
    assert segment_words(normalise_text("Hoà giải")) == segment_words(normalise_text("hòa giải"))


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("xem https://dichvucong.gov.vn/p/home ngay", f"xem {URL_TOKEN} ngay"),
        ("vào www.example.com nhé", f"vào {URL_TOKEN} nhé"),
        ("gửi thư tới an.nguyen@ubnd.hanoi.gov.vn", f"gửi thư tới {EMAIL_TOKEN}"),
        ("gọi 0912 345 678 hoặc +84 912345678", f"gọi {PHONE_TOKEN} hoặc {PHONE_TOKEN}"),
        ("chờ 15 ngày, phí 1.200.000 đồng", f"chờ {NUMBER_TOKEN} ngày, phí {NUMBER_TOKEN} đồng"),
    ],
)
def test_masking(raw, expected):
    assert normalise_text(raw) == expected


def test_html_and_control_characters_removed():
    assert normalise_text("<p>Rất&nbsp;<b>tốt</b></p>\x00\x1b\u200b") == "rất tốt"


def test_abbreviations_expanded():
    tokens = normalise_tokens(split_tokens(normalise_text("ko dc j cả, cb xã hok giúp")))
    assert " ".join(tokens) == "không được gì cả , cán bộ xã không giúp"
    assert segment_words(normalise_text("cb xã")).split()[0] == "cán_bộ"


def test_repeated_letters_collapsed():
    assert normalise_text("chậmmmm quá điiii") == "chậm quá đi"


@pytest.mark.parametrize("raw", ["", "   ", "\x00\x01", "\ud800"])
def test_empty_results(raw):
    assert normalise_text(raw) == ""
