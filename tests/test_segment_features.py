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


def test_segmenter_matches_underthesea_word_tokenize():
    """The lean driver gives word_tokenize's output on normalised text without abbreviations."""
    from underthesea import word_tokenize

    for raw in ["Cán bộ phường hướng dẫn tận tình, nộp hồ sơ online chỉ mất 10 phút",
                "Người dân phản ánh việc chậm trễ cấp giấy chứng nhận quyền sử dụng đất tại huyện",
                "can bo xa lam viec cham qua, hen lan hen lua mai chua xong"]:
        text = normalise_text(raw)
        assert segment_words(text) == word_tokenize(text, format="text")


def test_word_and_char_blocks_equal_sklearn_tfidf():
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    from feedback_nlp.features import SyllableCharVectorizer, SyllableNgramVectorizer, WordNgramVectorizer

    docs = ["cán_bộ xã làm_việc chậm quá , chậm quá", "hồ_sơ online bị lỗi , cán_bộ không hướng_dẫn", "a b", "x"]
    pairs = [
        (WordNgramVectorizer(ngram_range=(1, 3)), TfidfVectorizer(token_pattern=r"\S+", lowercase=False, ngram_range=(1, 3), sublinear_tf=True)),
        (SyllableCharVectorizer(ngram_range=(2, 5)), TfidfVectorizer(analyzer="char_wb", preprocessor=strip_diacritics, lowercase=False,
                                                                    ngram_range=(2, 5), sublinear_tf=True)),
        (SyllableNgramVectorizer(ngram_range=(1, 3)), TfidfVectorizer(token_pattern=r"\S+", lowercase=False, ngram_range=(1, 3), sublinear_tf=True,
                                                                     preprocessor=lambda d: d.replace("_", " "))),
    ]
    for ours, reference in pairs:
        ours.fit(docs)
        reference.fit(docs)
        assert set(ours.vocabulary_) == set(reference.vocabulary_)
        order = [reference.vocabulary_[g] for g in sorted(ours.vocabulary_, key=ours.vocabulary_.get)]
        assert np.allclose(ours.transform(docs).toarray(), reference.transform(docs).toarray()[:, order], atol=1e-6)


def test_syllable_block_matches_across_segmentation_differences():
    """Two segmentations of the same phrase share no word feature but share syllable n-grams."""
    featuriser = build_featuriser(syllable_ngram_range=(1, 2), char_max_features=0)
    docs = ["thủ_tục hành_chính rườm_rà", "thủ tục_hành chính rườm rà"]
    featuriser.fit(docs)
    names = [name for name, _ in featuriser.transformer_list]
    assert names == ["words", "syllables", "chars"]
    words, syllables = (featuriser.transformer_list[k][1].transform(docs) for k in (0, 1))
    assert (words[0] @ words[1].T).toarray()[0, 0] == 0
    assert abs((syllables[0] @ syllables[1].T).toarray()[0, 0] - 1) < 1e-6
    assert [name for name, _ in build_featuriser().transformer_list] == ["words", "chars"]


def test_split_tokens_matches_underthesea_tokenizer():
    from underthesea.pipeline.word_tokenize.regex_tokenize import tokenize

    from feedback_nlp.segment import split_tokens

    for text in ["cán bộ (ubnd) xã: 12/3/2024, 1.200.000đ; xxurl xxemail ... \"hỏi\" - ok! 3,5% v.v.",
                 "tp.hcm, q.1 - p.bến nghé: 08:30 sáng; e-mail & sđt?? :)) <3 ^^",
                 "giấy cn qsdđ số ab-123/2024/qđ-ubnd ... !!! ???"]:
        assert split_tokens(text) == tokenize(text, use_character_normalize=False, use_token_normalize=False)
