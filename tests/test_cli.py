"""The command line, in-process (CliRunner) and as a real subprocess."""

import json
import subprocess

from conftest import PYTHON, ROOT
from typer.testing import CliRunner

from feedback_nlp.cli import app

runner = CliRunner()
EXAMPLE = "Cán bộ phường hướng dẫn rất tận tình, nộp hồ sơ online chỉ mất 10 phút"


def test_tag_json_lines():
    result = runner.invoke(app, ["tag", EXAMPLE, "đường lầy lội quá"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["text"] for line in lines] == [EXAMPLE, "đường lầy lội quá"]
    assert set(lines[0]) == {"text", "themes", "theme_scores", "sentiment", "sentiment_scores"}
    assert "courtesy" in lines[0]["themes"] and lines[0]["sentiment"] == "positive"


def test_tag_reads_stdin():
    result = runner.invoke(app, ["tag", "-"], input="web lỗi hoài\n\ncán bộ quát tháo\n")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 3 and lines[1]["skipped"] == "empty"


def test_tag_table():
    result = runner.invoke(app, ["tag", "--format", "table", EXAMPLE])
    assert result.exit_code == 0
    header, row = result.stdout.splitlines()
    assert header.split()[:3] == ["#", "themes", "sentiment"] and "positive" in row


def test_info():
    result = runner.invoke(app, ["info"])
    assert result.exit_code == 0, result.output
    for word in ("themes:", "harassment", "thresholds:", "scikit-learn", "fingerprint", "macro-F1", "recipe:", "normaliser:   version 5"):
        assert word in result.stdout
    as_json = json.loads(runner.invoke(app, ["info", "--json"]).stdout)
    assert as_json["labels"]["sentiments"] == ["negative", "neutral", "positive"]


def test_missing_model_is_one_line(tmp_path):
    result = runner.invoke(app, ["tag", "--model", str(tmp_path / "nowhere"), "x"])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "does not exist" in result.stderr


def test_subprocess_module_and_console_script(cli_env):
    out = subprocess.run([PYTHON, "-m", "feedback_nlp", "tag", EXAMPLE], capture_output=True, text=True, env=cli_env, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["sentiment"] == "positive"
    piped = subprocess.run([PYTHON, "-m", "feedback_nlp", "tag", "-", "--format", "table"], input="cán bộ hách dịch\n",
                           capture_output=True, text=True, env=cli_env, timeout=120)
    assert piped.returncode == 0 and "courtesy" in piped.stdout


def test_help_explains():
    result = runner.invoke(app, ["tag", "--help"])
    assert result.exit_code == 0 and "standard input" in result.stdout
