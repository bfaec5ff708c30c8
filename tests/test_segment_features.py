"""Stages 2 and 3: word segmentation and features."""

from feedback_nlp.features import build_featuriser, strip_diacritics
from feedback_nlp.normalise import normalise_text
from feedback_nlp.segment import segment_many, segment_words


def test_multi_syllable_words_are_joined():
    words = segment_words(normalise_text("Cán bộ phường hướng dẫn tận tình")).split()
    assert "cán_bộ" in words and "hướng_dẫn" in words and "tận_tình" in words


def test_segment_empty_and_many_keep_order():
    assert segment_words("") == ""
    texts = ["hồ sơ bị trả lại", "", "hồ sơ bị trả lại", "cán bộ niềm nở"]
    assert segment_many(texts) == [segment_words(t) for t in texts]


def test_strip_diacritics():
    assert strip_diacritics("Đường sá chuyển đổi số cán_bộ") == "Duong sa chuyen doi so can bo"


def test_text_without_diacritics_shares_character_features():
    featuriser = build_featuriser(char_max_features=None)
    docs = [segment_words(normalise_text(t)) for t in ["cán bộ làm việc chậm", "hồ sơ online bị lỗi"]]
    featuriser.fit(docs)
    with_marks = featuriser.transform([segment_words(normalise_text("cán bộ chậm"))])
    without = featuriser.transform([segment_words(normalise_text("can bo cham"))])
    cosine = (with_marks @ without.T).toarray()[0, 0]
    assert cosine > 0.5
