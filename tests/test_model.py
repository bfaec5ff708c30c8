"""Stage 4 and the Python API: the estimator, tag/tag_many, bad input."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from feedback_nlp import FeedbackModel, InvalidTextError, TagResult
from feedback_nlp.errors import TrainingError


def test_estimator_api(small_model, small_records):
    params = small_model.get_params()
    assert params["char_max_features"] == 50_000
    assert clone(small_model).get_params() == params
    texts = [r["text"] for r in small_records[:5]]
    proba = small_model.predict_proba(texts)
    assert proba["themes"].shape == (5, 4) and proba["sentiment"].shape == (5, 3)
    assert np.allclose(proba["sentiment"].sum(axis=1), 1.0)
    predicted = small_model.predict(texts)
    assert len(predicted) == 5 and set(predicted[0]) == {"themes", "sentiment"}


def test_labels(small_model):
    assert small_model.labels.themes == ("courtesy", "delays", "digitalisation", "harassment")
    assert small_model.labels.sentiments == ("negative", "neutral", "positive")


def test_tag_result_fields(small_model):
    result = small_model.tag("Cán bộ xã đòi phong bì mới ký giấy")
    assert isinstance(result, TagResult)
    assert set(result.theme_scores) == set(small_model.labels.themes)
    assert set(result.sentiment_scores) == set(small_model.labels.sentiments)
    assert all(result.theme_scores[t] >= small_model.thresholds_[t] for t in result.themes)
    assert result.sentiment == max(result.sentiment_scores, key=result.sentiment_scores.get)
    d = result.to_dict()
    assert list(d)[:5] == ["text", "themes", "theme_scores", "sentiment", "sentiment_scores"]


def test_tag_many_keeps_order_and_matches_tag(small_model):
    texts = ["web cổng dịch vụ công bị lỗi", "cán bộ quát tháo người dân", "", "web cổng dịch vụ công bị lỗi", None]
    results = small_model.tag_many(texts)
    assert [r.text for r in results] == texts
    assert results[0].to_dict() == results[3].to_dict()
    for text, result in zip(texts, results):
        assert small_model.tag(text).to_dict() == result.to_dict()


@pytest.mark.parametrize(
    "value, reason",
    [("", "empty"), ("   \n\t", "empty"), (None, "missing"), (float("nan"), "missing"), (42, "not_text"),
     (["a"], "not_text"), ("\x00\x01\x02", "empty"), ("x" * 1_000_000, "too_long")],
)
def test_bad_input_is_skipped_with_reason(small_model, value, reason):
    result = small_model.tag(value)
    assert result.skipped == reason
    assert result.themes == [] and result.sentiment == "neutral"
    assert result.to_dict()["skipped"] == reason


def test_strict_api_rejects_non_text(small_model):
    with pytest.raises(InvalidTextError, match="Expected a text"):
        small_model.tag(3.5, strict=True)
    with pytest.raises(InvalidTextError):
        small_model.tag_many(["ok", None], strict=True)


def test_emoji_and_control_characters_are_tagged(small_model):
    result = small_model.tag("Cán bộ rất nhiệt tình 👍👍\x07 😊")
    assert result.skipped is None and result.sentiment in small_model.labels.sentiments


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=300), st.none(), st.integers(), st.floats()))
def test_tag_never_crashes(small_model, value):
    result = small_model.tag(value)
    assert set(result.themes) <= set(small_model.labels.themes)
    assert result.sentiment in small_model.labels.sentiments
    assert all(0.0 <= p <= 1.0 and not math.isnan(p) for p in result.theme_scores.values())


def test_fit_rejects_a_theme_without_negatives():
    texts = ["cán bộ chậm", "hồ sơ trễ hẹn", "chờ mãi"]
    with pytest.raises(TrainingError, match="every"):
        FeedbackModel().fit(texts, [{"themes": ["delays"]}] * 3)


def test_fit_with_sentiment_only(small_records):
    texts = [r["text"] for r in small_records[:200]]
    model = FeedbackModel(char_max_features=20_000).fit(texts, [{"sentiment": r["sentiment"]} for r in small_records[:200]])
    result = model.tag("rất hài lòng")
    assert result.themes == [] and result.theme_scores == {}
    assert result.sentiment in ("negative", "neutral", "positive")
