"""explain: the n-grams behind each decision, with margins."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from feedback_nlp.cli import app


def test_cue_words_are_top_reasons(default_model):
    explanation = default_model.explain("Cán bộ địa chính sách nhiễu, đòi phong bì mới ký hồ sơ")
    harassment = next(d for d in explanation.themes if d.label == "harassment")
    assert harassment.predicted and harassment.margin > 0
    top = [r.feature for r in harassment.reasons[:5]]
    assert any(f in top for f in ("sách_nhiễu", "phong_bì", "đòi")), top
    assert all(r.weight > 0 for r in harassment.reasons)
    sentiment = explanation.sentiment
    assert sentiment.label == max(default_model.tag("Cán bộ địa chính sách nhiễu, đòi phong bì mới ký hồ sơ").sentiment_scores.items(),
                                  key=lambda kv: kv[1])[0]
    assert sentiment.margin >= 0 and sentiment.reasons


def test_pushes_add_up_to_the_decision(default_model):
    """For a linear head, intercept + all pushes = the log-odds behind the score."""
    import math

    from feedback_nlp.model import prepare_text

    text = "Nộp hồ sơ online nhanh gọn, cán bộ hướng dẫn tận tình"
    row = default_model.featuriser_.transform([prepare_text(text)])
    explanation = default_model.explain(text, top=10_000)
    for decision in explanation.themes:
        j = default_model.theme_labels_.index(decision.label)
        clf = default_model.theme_estimators_[j]
        log_odds = clf.intercept_[0] + float((row @ clf.coef_[0])[0])
        assert 1 / (1 + math.exp(-log_odds)) == pytest.approx(decision.score, abs=1e-6)
        positive = sum(r.weight for r in decision.reasons)
        assert positive == pytest.approx(float(row.data @ clf.coef_[0][row.indices].clip(min=0)), abs=1e-6)


def test_theme_not_given_is_shown_with_negative_margin(default_model):
    explanation = default_model.explain("Đường vào thôn lầy lội quá")
    assert not any(d.predicted for d in explanation.themes)
    assert len(explanation.themes) == 1 and explanation.themes[0].margin < 0


def test_cli_explain_table_and_json():
    runner = CliRunner()
    table = runner.invoke(app, ["explain", "Cán bộ xã quát tháo, hách dịch với người dân"])
    assert table.exit_code == 0 and "theme courtesy" in table.stdout and "margin" in table.stdout
    as_json = json.loads(runner.invoke(app, ["explain", "--format", "json", "web dịch vụ công lỗi hoài"]).stdout)
    assert as_json["themes"][0]["label"] == "digitalisation" and as_json["themes"][0]["reasons"]
    assert as_json["sentiment"]["label"] == "negative"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=200), st.none(), st.integers()))
def test_explain_never_crashes(default_model, value):
    explanation = default_model.explain(value)
    assert explanation.skipped or explanation.sentiment is not None
    for decision in explanation.themes:
        assert decision.label in default_model.labels.themes
