"""Batch tagging: tag_frame, tag_file and the tag-file CLI."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import PYTHON, ROOT, SHARED
from typer.testing import CliRunner

from feedback_nlp import DataError, tag_file
from feedback_nlp.cli import app
from feedback_nlp.tables import TableWriter, read_table

FORMATS = ["csv", "tsv", "xlsx", "jsonl", "parquet"]
GOOD = ["Cán bộ phường hướng dẫn tận tình", "Cổng dịch vụ công lỗi cả ngày", "đòi phong bì mới ký", "Đường lầy lội quá"]


def mixed_frame() -> pd.DataFrame:
    """Good rows with bad ones mixed in: empty, missing, a number, 100 KB of text, repeats."""
    texts = [GOOD[0], "", None, "12345", "x " * 50_000, GOOD[1], GOOD[0], GOOD[2], "   ", GOOD[3]]
    return pd.DataFrame({"id": [f"r{i}" for i in range(len(texts))], "y_kien": texts, "xa": ["A", "B"] * 5})


def write_input(frame: pd.DataFrame, path: Path) -> None:
    fmt = path.suffix[1:]
    if fmt == "xlsx":
        frame = frame.map(lambda v: v[:32_767] if isinstance(v, str) else v)
    if fmt in ("csv", "tsv"):
        frame.to_csv(path, index=False, sep="\t" if fmt == "tsv" else ",")
    elif fmt == "xlsx":
        frame.to_excel(path, index=False)
    elif fmt == "jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        frame.to_parquet(path, index=False)


@pytest.mark.parametrize("fmt_in", FORMATS)
@pytest.mark.parametrize("fmt_out", FORMATS)
def test_every_format_both_ways_keeps_rows_and_order(tmp_path, small_model, fmt_in, fmt_out):
    frame = mixed_frame()
    source, target = tmp_path / f"in.{fmt_in}", tmp_path / f"out.{fmt_out}"
    write_input(frame, source)
    summary = tag_file(source, target, "y_kien", model=small_model)
    out = read_table(target).drop(columns=["__line__"], errors="ignore")
    assert summary.rows == len(frame) == len(out)
    assert list(out["id"]) == list(frame["id"])
    assert list(out.columns[:3]) == ["id", "y_kien", "xa"]
    for column in ("themes", "score_harassment", "score_delays", "score_courtesy", "score_digitalisation", "sentiment", "sentiment_score", "error"):
        assert column in out.columns
    errors = ["" if (e is None or (isinstance(e, float) and np.isnan(e))) else e for e in out["error"]]
    assert errors[0] == "" and errors[5] == ""
    assert errors[1] in ("empty", "missing") and errors[2] == "missing" and errors[3] == "no_words"
    # Excel cells hold at most 32,767 characters, so there the 100 KB text arrives cut and is tagged.
    assert errors[4] == ("" if fmt_in == "xlsx" else "too_long") and errors[8] in ("empty", "missing")
    assert summary.errors == sum(1 for e in errors if e)
    assert set(out["sentiment"]) <= {"negative", "neutral", "positive"}
    assert out["sentiment"][2] == "neutral"


def test_list_and_joined_themes(tmp_path, small_model):
    frame = pd.DataFrame({"text": ["Cán bộ tận tình, nộp online nhanh gọn"] * 2})
    write_input(frame, tmp_path / "in.csv")
    tag_file(tmp_path / "in.csv", tmp_path / "out.jsonl", model=small_model, notice=lambda _m: None)
    tag_file(tmp_path / "in.csv", tmp_path / "out.csv", model=small_model, notice=lambda _m: None)
    as_list = json.loads((tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()[0])["themes"]
    joined = pd.read_csv(tmp_path / "out.csv")["themes"][0]
    assert isinstance(as_list, list) and len(as_list) >= 1 and joined == ";".join(as_list)


def test_tag_frame_matches_tag(small_model):
    frame = pd.DataFrame({"note": ["a", "b", "c"], "y_kien": [GOOD[0], GOOD[1], None]}, index=[10, 20, 30])
    out = small_model.tag_frame(frame, "y_kien")
    assert list(out.index) == [10, 20, 30] and list(out["note"]) == ["a", "b", "c"]
    single = small_model.tag(GOOD[1])
    assert out.loc[20, "themes"] == single.themes and out.loc[20, "sentiment"] == single.sentiment
    assert out.loc[20, "score_delays"] == pytest.approx(single.theme_scores["delays"], abs=1e-3)
    assert out.loc[30, "error"] == "missing"


def test_multiple_text_columns_are_joined(tmp_path, small_model):
    frame = pd.DataFrame({"title": ["Phản ánh", None], "body": ["cán bộ đòi tiền", "web lỗi"]})
    out = small_model.tag_frame(frame, ["title", "body"])
    assert list(out["error"]) == ["", ""]
    joined = small_model.tag("Phản ánh. cán bộ đòi tiền")
    assert out["themes"][0] == joined.themes


def test_text_column_errors_and_guessing(tmp_path, small_model):
    path = tmp_path / "in.csv"
    pd.DataFrame({"ma": [1, 2], "noi_dung": GOOD[:2], "ghi_chu": ["x", "y"]}).to_csv(path, index=False)
    with pytest.raises(DataError, match="Available columns: ma, noi_dung, ghi_chu"):
        tag_file(path, tmp_path / "o.csv", "text", model=small_model)
    notices = []
    tag_file(path, tmp_path / "o.csv", model=small_model, notice=notices.append)
    assert notices and "noi_dung" in notices[0]
    pd.DataFrame({"a": ["x", "y"], "b": ["u", "v"]}).to_csv(tmp_path / "amb.csv", index=False)
    with pytest.raises(DataError, match="--text-column"):
        tag_file(tmp_path / "amb.csv", tmp_path / "o2.csv", model=small_model)


def test_csv_encodings_delimiters_and_quoted_newlines(tmp_path, small_model):
    frame = pd.DataFrame({"id": [1, 2], "y_kien": ["dòng một\ndòng hai; có chấm phẩy", GOOD[1]]})
    for name, encoding, sep in (("bom.csv", "utf-8-sig", ","), ("semi.csv", "utf-8", ";"), ("u16.csv", "utf-16", ",")):
        frame.to_csv(tmp_path / name, index=False, sep=sep, encoding=encoding)
        out = tag_file(tmp_path / name, tmp_path / f"{name}.jsonl", "y_kien", model=small_model)
        rows = [json.loads(line) for line in (tmp_path / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]
        assert out.rows == 2 and rows[0]["y_kien"] == frame["y_kien"][0]
    (tmp_path / "latin.csv").write_bytes("id,y_kien\n1,c\xe1n b\xf4\n".encode("cp1258"))
    with pytest.raises(DataError, match="--encoding"):
        tag_file(tmp_path / "latin.csv", tmp_path / "latin.jsonl", "y_kien", model=small_model)
    tag_file(tmp_path / "latin.csv", tmp_path / "latin.jsonl", "y_kien", model=small_model, encoding="cp1258")


def test_broken_quoting_keeps_every_row(tmp_path, small_model):
    path = tmp_path / "broken.csv"
    path.write_text('id,y_kien\n1,"Cán bộ tận tình, chu đáo"\n2,"nhiều dòng\nmột ý kiến"\n3,cán bộ nói "thôi về đi\n'
                    '4,"mở ngoặc mà không đóng\n5,web lỗi,thêm,cột\n6,cuối cùng\n', encoding="utf-8")
    notices = []
    summary = tag_file(path, tmp_path / "out.csv", "y_kien", model=small_model, notice=notices.append)
    out = pd.read_csv(tmp_path / "out.csv", dtype=str)
    assert summary.rows == 6 and list(out["id"]) == ["1", "2", "3", "4", "5", "6"]
    assert out["y_kien"][1] == "nhiều dòng\nmột ý kiến" and out["y_kien"][4] == "web lỗi,thêm,cột"
    assert any("lenient" in n for n in notices)


def test_refuses_to_overwrite(tmp_path, small_model):
    source = tmp_path / "in.csv"
    pd.DataFrame({"text": GOOD}).to_csv(source, index=False)
    (tmp_path / "out.csv").write_text("keep me")
    with pytest.raises(DataError, match="already exists"):
        tag_file(source, tmp_path / "out.csv", model=small_model)
    assert (tmp_path / "out.csv").read_text() == "keep me"
    with pytest.raises(DataError, match="is the input"):
        tag_file(source, source, model=small_model)
    tag_file(source, source, model=small_model, overwrite=True, notice=lambda _m: None)
    assert "sentiment" in pd.read_csv(source).columns


def test_crash_leaves_no_output(tmp_path, small_model, monkeypatch):
    source = tmp_path / "in.csv"
    pd.DataFrame({"text": GOOD * 50}).to_csv(source, index=False)
    calls = {"n": 0}
    original = TableWriter.write

    def crash_on_second_chunk(self, frame):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        original(self, frame)

    monkeypatch.setattr(TableWriter, "write", crash_on_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        tag_file(source, tmp_path / "out.parquet", model=small_model, chunk_size=50)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_jobs_two_gives_identical_output(tmp_path, small_model):
    frame = pd.DataFrame({"text": [f"{GOOD[i % 4]} lần {i % 37}" for i in range(600)] + [None, ""]})
    write_input(frame, tmp_path / "in.csv")
    tag_file(tmp_path / "in.csv", tmp_path / "one.csv", model=small_model, jobs=1, chunk_size=100)
    tag_file(tmp_path / "in.csv", tmp_path / "two.csv", model=small_model, jobs=2, chunk_size=100)
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "two.csv").read_bytes()


def test_tagging_workers_use_one_blas_thread():
    """Each --jobs worker limits BLAS to one thread (a neural member's matrix products otherwise
    oversubscribe the cores). Checked in a fresh process, as a worker starts."""
    code = ("from threadpoolctl import threadpool_info\n"
            "from feedback_nlp.batch import _init_worker\n"
            f"_init_worker({str(ROOT / 'models' / 'default')!r}, None)\n"
            "pools = [p for p in threadpool_info() if p['user_api'] == 'blas']\n"
            "assert pools and all(p['num_threads'] == 1 for p in pools), pools\n"
            "print('ok')\n")
    done = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_by_sentence_on_a_real_article(tmp_path, default_model):
    seeds = sorted((SHARED / "seeds").glob("*.txt")) if (SHARED / "seeds").is_dir() else []
    if not seeds:
        pytest.skip(f"no news articles in {SHARED / 'seeds'}; by-sentence tagging of a real article not checked")
    article = seeds[0].read_text(encoding="utf-8")
    frame = pd.DataFrame({"title": [article.splitlines()[0]], "body": [article]})
    out = default_model.tag_frame(frame, ["title", "body"], by_sentence=True)
    themes, evidence = out["themes"][0], out["evidence"][0]
    assert themes, "a report on administrative reform should carry at least one theme"
    for theme in themes:
        assert f"{theme}: " in evidence
    sentences = [part.split(": ", 1)[1] for part in evidence.split(" | ")]
    flat = " ".join(article.split())  # evidence collapses the line breaks inside a sentence
    assert all(sentence in flat for sentence in sentences)
    whole = default_model.tag_frame(frame, ["title", "body"])
    assert out["score_courtesy"][0] >= 0 and whole["error"][0] == ""


def test_cli_tag_file_in_process_and_subprocess(tmp_path):
    source = tmp_path / "in.xlsx"
    write_input(pd.DataFrame({"stt": [1, 2, 3], "y_kien": [GOOD[0], None, GOOD[2]]}), source)
    result = CliRunner().invoke(app, ["tag-file", str(source), "-o", str(tmp_path / "out.jsonl"), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert "using text column 'y_kien'" in result.stderr and "3 rows, 2 tagged, 1 errors" in result.stderr
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run([PYTHON, "-m", "feedback_nlp", "tag-file", str(source), "-o", str(tmp_path / "out.csv"), "-c", "y_kien",
                           "--jobs", "2", "--quiet"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and len(pd.read_csv(tmp_path / "out.csv")) == 3
    again = subprocess.run([PYTHON, "-m", "feedback_nlp", "tag-file", str(source), "-o", str(tmp_path / "out.csv")],
                           capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 1 and again.stderr.startswith("error: ") and "--overwrite" in again.stderr
