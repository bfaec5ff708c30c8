"""The shipped corpus: valid by its own validator, coverage floors met, no leaks across splits."""

import pytest
from conftest import CORPUS, read_jsonl
from typer.testing import CliRunner

from feedback_nlp.cli import app
from feedback_nlp.corpus_coverage import FLOORS, coverage
from feedback_nlp.features import strip_diacritics
from feedback_nlp.labels import DEFAULT_THEMES
from feedback_nlp.validation import validate_files

SPLITS = ("train", "dev", "test")
MINIMUM = {"train": 2200, "dev": 400, "test": 400}


@pytest.fixture(scope="module")
def splits():
    return {name: read_jsonl(CORPUS / f"{name}.jsonl") for name in SPLITS}


def test_validator_passes_on_corpus():
    report, data = validate_files([CORPUS / f"{s}.jsonl" for s in SPLITS], theme_labels=DEFAULT_THEMES, corpus_schema=True)
    assert report.problems == [] and data is not None
    assert report.n_rows >= 3000


def test_validate_cli_on_corpus():
    result = CliRunner().invoke(app, ["validate", "--corpus", "--labels", ",".join(DEFAULT_THEMES), *(str(CORPUS / f"{s}.jsonl") for s in SPLITS)])
    assert result.exit_code == 0, result.output
    assert "theme harassment" in result.stdout and "0 error(s), 0 warning(s)" in result.stdout


@pytest.mark.parametrize("name", SPLITS)
def test_coverage_in_every_split(splits, name):
    rows = splits[name]
    assert len(rows) >= MINIMUM[name]
    got = coverage(rows)
    short = {k: round(got[k], 3) for k, floor in FLOORS.items() if got[k] < floor}
    assert not short, f"{name} below its floors: {short}"


def test_no_text_in_two_splits(splits):
    owner = {}
    for name, rows in splits.items():
        for row in rows:
            key = " ".join(strip_diacritics(row["text"].lower()).split())
            assert owner.setdefault(key, name) == name, f"{row['id']} also in {owner[key]}: {row['text']}"


def test_lengths_vary(splits):
    lengths = [len(r["text"].split()) for rows in splits.values() for r in rows]
    assert min(lengths) <= 4 and max(lengths) >= 60
    assert sum(1 for n in lengths if n >= 60) >= 100


def test_every_region_style_and_source_present(splits):
    for rows in splits.values():
        assert {r["source"] for r in rows} == {"comment", "survey", "petition", "news"}
        assert {r["style"] for r in rows} == {"standard", "no_diacritics", "teencode", "regional", "long"}


def test_validate_cli_names_file_and_line_for_each_problem(tmp_path):
    import json
    import unicodedata

    bad = tmp_path / "bad.jsonl"
    rows = [
        {"id": "a", "text": "Cán bộ hách dịch", "themes": ["courtesy"], "sentiment": "negative", "source": "comment", "style": "standard"},
        {"id": "b", "text": "  ", "themes": [], "sentiment": "neutral", "source": "comment", "style": "standard"},
        {"id": "c", "text": "Web lỗi", "themes": ["digitalization"], "sentiment": "negative", "source": "comment", "style": "standard"},
        {"id": "d", "text": "cán bộ hách dịch", "themes": [], "sentiment": "negative", "source": "comment", "style": "standard"},
        {"id": "e", "text": unicodedata.normalize("NFD", "Chờ lâu"), "themes": ["delays"], "sentiment": "bad", "source": "comment", "style": "standard"},
        {"id": "a", "text": "Tốt", "themes": [], "sentiment": "positive", "source": "tweet", "style": "standard"},
    ]
    bad.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n{oops\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", "--corpus", "--labels", ",".join(DEFAULT_THEMES), str(bad)])
    assert result.exit_code == 1
    assert "line 7: not valid JSON" in result.stderr
    bad.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", "--corpus", "--labels", ",".join(DEFAULT_THEMES), "--min-examples", "1", str(bad)])
    assert result.exit_code == 1
    err = result.stderr
    assert f"{bad}, line 2, column 'text': empty text" in err
    assert "line 3, column 'themes': unknown theme 'digitalization'" in err
    assert "line 4, column 'text': same text as" in err and "different labels" in err
    assert "line 5, column 'text': text is not in Unicode NFC form" in err
    assert "line 5, column 'sentiment': unknown sentiment 'bad'" in err
    assert "line 6, column 'source'" in err and "line 6, column 'id': id 'a' already used" in err
