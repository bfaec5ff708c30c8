"""The HTML report: statistics from a tagged file, self-contained HTML, and a real browser render."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from feedback_nlp import tag_file
from feedback_nlp.cli import app
from feedback_nlp.errors import DataError
from feedback_nlp.report import build_report, parse_month, parse_themes, write_report

# (date dd/mm/yyyy, commune, comment): written for this test, covering every theme and sentiment.
COMMENTS = [
    ("03/01/2024", "Phường Bến Nghé", "Cán bộ phường hướng dẫn rất tận tình, nộp hồ sơ online chỉ mất 10 phút"),
    ("05/01/2024", "Phường Bến Nghé", "cb xã đòi 2 triệu mới ký giấy xác nhận"),
    ("09/01/2024", "Xã Tân Phú", "Cổng dịch vụ công lỗi cả ngày, không nộp được hồ sơ"),
    ("12/01/2024", "Xã Tân Phú", "Làm sổ đỏ mà cán bộ địa chính gợi ý bồi dưỡng mới làm nhanh cho"),
    ("15/01/2024", "Thị trấn Đông Anh", "Chờ cả buổi sáng mà vẫn chưa đến lượt, cán bộ đi vắng"),
    ("18/01/2024", "Thị trấn Đông Anh", "Nhân viên một cửa niềm nở, chu đáo, cảm ơn các anh chị"),
    ("22/01/2024", "Phường Bến Nghé", "Hồ sơ khai sinh trễ hẹn ba lần, đi lại mất bao nhiêu công"),
    ("25/01/2024", "Xã Tân Phú", "can bo xa noi chuyen coc loc, hoi may cau la gat"),
    ("29/01/2024", "Phường Bến Nghé", "Đường vào thôn mùa mưa lầy lội quá"),
    ("02/02/2024", "Xã Tân Phú", "Cán bộ tư pháp quát tháo người dân, thái độ hách dịch"),
    ("06/02/2024", "Thị trấn Đông Anh", "Nộp hồ sơ qua mạng tiện lợi, không phải xếp hàng"),
    ("08/02/2024", "Phường Bến Nghé", "Không đưa phong bì thì hồ sơ cứ bị bảo thiếu giấy tờ"),
    ("13/02/2024", "Xã Tân Phú", "Ứng dụng VNeID không đăng nhập được suốt một tuần"),
    ("16/02/2024", "Thị trấn Đông Anh", "Giải quyết hồ sơ nhanh gọn, trả kết quả trước hạn"),
    ("20/02/2024", "Phường Bến Nghé", "Cho hỏi đăng ký khai sinh online thì bao lâu có kết quả ạ?"),
    ("23/02/2024", "Xã Tân Phú", "Thủ tục rườm rà, hẹn lần hẹn lữa mãi không xong"),
    ("27/02/2024", "Thị trấn Đông Anh", "Cán bộ lịch sự, hướng dẫn tỉ mỉ từng bước"),
    ("01/03/2024", "Phường Bến Nghé", "Phải nộp tiền trà nước cho cò hồ sơ mới được làm nhanh"),
    ("04/03/2024", "Xã Tân Phú", "Web dịch vụ công bị treo, thanh toán trực tuyến không được"),
    ("07/03/2024", "Thị trấn Đông Anh", "Chờ hơn hai tháng vẫn chưa có sổ đỏ, quá hạn lâu rồi"),
    ("11/03/2024", "Phường Bến Nghé", "Thái độ nhân viên thờ ơ, hỏi gì cũng không trả lời"),
    ("14/03/2024", "Xã Tân Phú", "Rất hài lòng với cách phục vụ của bộ phận một cửa"),
    ("18/03/2024", "Thị trấn Đông Anh", "Chữ ký số giúp doanh nghiệp nộp hồ sơ nhanh hơn nhiều"),
    ("21/03/2024", "Phường Bến Nghé", "Cán bộ địa chính vòi vĩnh, gây khó dễ cho dân"),
    ("25/03/2024", "Xã Tân Phú", "Hồ sơ tồn đọng cả tháng không ai giải quyết"),
    ("28/03/2024", "Thị trấn Đông Anh", "Giá điện tháng này tăng cao quá"),
    ("02/04/2024", "Phường Bến Nghé", "Nộp hồ sơ online hai tháng rồi vẫn chưa có kết quả"),
    ("05/04/2024", "Xã Tân Phú", "Anh cán bộ tiếp dân rất nhiệt tình, giải thích dễ hiểu"),
    ("09/04/2024", "Thị trấn Đông Anh", "Hệ thống lỗi nên phải quay lại nộp giấy, mất cả ngày"),
    ("12/04/2024", "Phường Bến Nghé", "Bị đòi tiền bồi dưỡng mới cấp giấy phép xây dựng"),
    ("16/04/2024", "Xã Tân Phú", "Cán bộ đi muộn về sớm, dân chờ dài cổ"),
    ("19/04/2024", "Thị trấn Đông Anh", "Số hóa hồ sơ giúp tra cứu nhanh, rất tiện"),
    ("23/04/2024", "Phường Bến Nghé", "Nhân viên nói trống không, thiếu tôn trọng người già"),
    ("26/04/2024", "Xã Tân Phú", "Đề nghị xử lý vì hồ sơ chờ quá lâu"),
    ("30/04/2024", "Thị trấn Đông Anh", "UBND huyện ban hành quy tắc ứng xử văn hóa công sở"),
    ("03/05/2024", "Phường Bến Nghé", "Cổng dịch vụ công tỉnh bị lỗi suốt từ sáng, không nộp được hồ sơ"),
    ("07/05/2024", "Xã Tân Phú", "Có người phải lót tay mới được giải quyết sớm"),
    ("10/05/2024", "Thị trấn Đông Anh", "Đúng hẹn, không phải đi lại nhiều lần, cảm ơn cán bộ"),
    ("14/05/2024", "Phường Bến Nghé", "Cán bộ cáu gắt khi dân hỏi lại lần thứ hai"),
    ("17/05/2024", "Xã Tân Phú", "Thanh toán phí online qua ngân hàng rất nhanh"),
    ("21/05/2024", "Thị trấn Đông Anh", "Đợi ba tiếng mới được tiếp, không có số thứ tự"),
    ("24/05/2024", "Phường Bến Nghé", "Hạch sách đủ thứ giấy tờ không cần thiết để làm khó"),
    ("28/05/2024", "Xã Tân Phú", "Cán bộ xã chu đáo, gọi điện báo khi có kết quả"),
    ("31/05/2024", "Thị trấn Đông Anh", "Trang web dịch vụ công chậm, hay bị văng ra"),
    ("04/06/2024", "Phường Bến Nghé", "Hồ sơ hộ tịch được trả trước hạn hai ngày"),
    ("07/06/2024", "Xã Tân Phú", "Nhũng nhiễu, gây phiền hà khi làm thủ tục đất đai"),
    ("11/06/2024", "Thị trấn Đông Anh", "Không được hướng dẫn gì, hỏi thì bảo tự đọc"),
    ("14/06/2024", "Phường Bến Nghé", "Ứng dụng công nghệ thông tin giúp giảm giấy tờ"),
    ("18/06/2024", "Xã Tân Phú", "Chờ cấp căn cước quá lâu, hẹn mãi không có"),
    ("21/06/2024", "Thị trấn Đông Anh", "Xin chào, xin lỗi, xin cảm ơn: cán bộ làm rất tốt"),
    ("25/06/2024", "Phường Bến Nghé", "Cán bộ gợi ý đưa tiền để hồ sơ đi nhanh"),
    ("28/06/2024", "Xã Tân Phú", "Không đăng nhập được cổng dịch vụ công, gọi tổng đài không ai nghe"),
    ("02/07/2024", "Thị trấn Đông Anh", "Thời gian giải quyết được rút ngắn rõ rệt"),
    ("05/07/2024", "Phường Bến Nghé", "Cán bộ phường vô cảm với người khuyết tật"),
    ("09/07/2024", "Xã Tân Phú", "Chính quyền số giúp người dân làm thủ tục tại nhà"),
    ("12/07/2024", "Thị trấn Đông Anh", "Cò hồ sơ đứng ngay cửa mời chào, cán bộ làm ngơ"),
    ("16/07/2024", "Phường Bến Nghé", "Mùa mưa nước ngập hết đường"),
    ("19/07/2024", "Xã Tân Phú", "Cán bộ một cửa hướng dẫn nhiệt tình, chỉ 15 phút là xong"),
    ("23/07/2024", "Thị trấn Đông Anh", "Trễ hẹn trả sổ mà không một lời xin lỗi"),
    ("26/07/2024", "Phường Bến Nghé", "<script>alert('x')</script> cán bộ đòi phong bì & quà"),
    ("30/07/2024", "Xã Tân Phú", ""),
    ("not a date", "", None),
]


def make_frame() -> pd.DataFrame:
    """The test's comments as a table like a survey export: date, commune, comment."""
    return pd.DataFrame(COMMENTS, columns=["ngay", "xa_phuong", "y_kien"])


@pytest.fixture(scope="module")
def tagged_csv(tmp_path_factory, default_model) -> Path:
    """The comments tagged by tag_file (the tag-file code path), as CSV: themes ';'-joined."""
    folder = tmp_path_factory.mktemp("report")
    raw = folder / "y_kien.csv"
    make_frame().to_csv(raw, index=False, encoding="utf-8")
    out = folder / "y_kien_tagged.csv"
    tag_file(raw, out, "y_kien", model=default_model, jobs=1)
    return out


@pytest.fixture(scope="module")
def report_html(tagged_csv) -> Path:
    out = tagged_csv.with_name("report.html")
    summary = write_report(tagged_csv, out, date_column="ngay", group_column="xa_phuong")
    assert (summary.rows, summary.errors) == (len(COMMENTS), 2)
    return out


class _Collector(HTMLParser):
    """Attributes that could load something, and the text of the page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.links += [v or "" for k, v in attrs if k in ("src", "href", "xlink:href", "action", "data")]

    def handle_data(self, data):
        self.text.append(data)


def test_report_is_self_contained_and_complete(report_html, tagged_csv):
    page = report_html.read_text(encoding="utf-8")
    parsed = _Collector()
    parsed.feed(page)
    assert not [link for link in parsed.links if re.match(r"\s*(https?:)?//", link, re.I)], parsed.links
    assert "script" not in parsed.tags and "link" not in parsed.tags and "img" not in parsed.tags
    for chart in ("chart-themes", "chart-sentiment", "chart-trend"):
        assert f'<svg id="{chart}"' in page
    text = " ".join(parsed.text)
    for words in ("Chủ đề / Theme", "Chậm trễ / Delays", "Thái độ phục vụ / Courtesy", "Chuyển đổi số / Digitalisation",
                  "Nhũng nhiễu / Harassment", "Phường Bến Nghé", "Xã Tân Phú", "Thị trấn Đông Anh",
                  "Xu hướng theo tháng / Monthly trend", "07/2024", "01/2024"):
        assert words in text, words

    # The figures agree with the tagged file.
    tagged = pd.read_csv(tagged_csv, dtype=str, keep_default_na=False)
    ok = tagged[tagged["error"] == ""]
    delays = int(ok["themes"].str.split(";").apply(lambda names: "delays" in names).sum())
    assert delays > 5
    assert re.search(rf"<td>Chậm trễ / Delays</td><td class=\"num\">{delays}</td><td class=\"num\">{100 * delays / len(ok):.1f}%</td>", page)
    assert f"Đã gắn nhãn / Tagged<b>{len(ok)}</b>" in page
    # Three examples per theme, the top one being the highest-scoring text with that theme.
    for theme in ("harassment", "delays", "courtesy", "digitalisation"):
        section = page.split(f'id="examples-{theme}"')[1].split("<h3")[0]
        assert section.count('class="example"') == 3
        holders = ok[ok["themes"].str.split(";").apply(lambda names, t=theme: t in names)]
        best = holders.sort_values(f"score_{theme}", key=lambda s: s.astype(float), ascending=False).iloc[0]
        assert f"<b>{float(best[f'score_{theme}']):.3f}</b>" in section.split("</blockquote>")[0]


def test_group_table_ranks_complaints(report_html):
    page = report_html.read_text(encoding="utf-8")
    table = page.split("Theo đơn vị / By group")[1].split("<h2>")[0]
    rows = re.findall(r"<tr><td>(.*?)</td>.*?</tr>", table)
    assert set(rows) == {"Phường Bến Nghé", "Xã Tân Phú", "Thị trấn Đông Anh"}
    counts = [int(n) for n in re.findall(r"(\d+) phàn nàn", table)]
    # Within each group the themes are ranked by complaints, most first.
    for row in re.findall(r'<ol class="rank">(.*?)</ol>', table):
        ranked = [int(n) for n in re.findall(r"(\d+) phàn nàn", row)]
        assert ranked == sorted(ranked, reverse=True)
    assert sum(counts) > 0


def test_themes_as_lists_from_jsonl_match_csv(tmp_path, default_model, report_html):
    raw = tmp_path / "y_kien.csv"
    make_frame().to_csv(raw, index=False)
    tag_file(raw, tmp_path / "tagged.jsonl", "y_kien", model=default_model, jobs=1)
    out = tmp_path / "r.html"
    write_report(tmp_path / "tagged.jsonl", out, date_column="ngay", group_column="xa_phuong")

    def body(path: Path) -> str:  # drop the header that names the file and the time
        return path.read_text(encoding="utf-8").split('<div class="cards">', 1)[1]

    assert body(out) == body(report_html)


def test_user_text_is_escaped(default_model):
    frame = pd.DataFrame({
        "y_kien": ["<script>alert('x')</script> cán bộ xã đòi phong bì mới ký", "Cổng dịch vụ công lỗi cả ngày"],
        "don_vi": ['<img src=x onerror="alert(1)">', "Xã A & B"],
    })
    page = build_report(default_model.tag_frame(frame, "y_kien"), group_column="don_vi", title="<b>Báo cáo</b>")
    parsed = _Collector()
    parsed.feed(page)
    assert not {"script", "img"} & set(parsed.tags)
    assert "<b>Báo cáo" not in page and "<h1>&lt;b&gt;Báo cáo&lt;/b&gt;</h1>" in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page and "Xã A &amp; B" in page


def test_build_report_from_tag_frame(default_model):
    frame = make_frame().iloc[:20]
    html = build_report(default_model.tag_frame(frame, "y_kien"), text_columns="y_kien")
    assert '<svg id="chart-themes"' in html and '<svg id="chart-trend"' not in html and "By group" not in html


def test_parsers():
    assert parse_themes("delays;courtesy") == ["delays", "courtesy"]
    assert parse_themes(float("nan")) == [] and parse_themes("") == [] and parse_themes(["harassment"]) == ["harassment"]
    assert parse_month("05/03/2024") == "2024-03" and parse_month("2024-03-05") == "2024-03"
    assert parse_month("13/12/2023 08:15") == "2023-12" and parse_month("hôm qua") is None and parse_month(None) is None


def test_errors_are_actionable(tmp_path, tagged_csv):
    plain = tmp_path / "plain.csv"
    make_frame().to_csv(plain, index=False)
    with pytest.raises(DataError, match="tag-file"):
        write_report(plain, tmp_path / "r.html")
    with pytest.raises(DataError, match="no column 'ngay_sai'.*Available columns"):
        write_report(tagged_csv, tmp_path / "r.html", date_column="ngay_sai")
    existing = tmp_path / "exists.html"
    existing.write_text("keep me", encoding="utf-8")
    with pytest.raises(DataError, match="--overwrite"):
        write_report(tagged_csv, existing)
    assert existing.read_text(encoding="utf-8") == "keep me"
    assert not list(tmp_path.glob(".*partial*"))


def test_cli(tmp_path, tagged_csv):
    runner = CliRunner()
    out = tmp_path / "bao_cao.html"
    result = runner.invoke(app, ["report", str(tagged_csv), "-o", str(out), "--group-column", "xa_phuong"])
    assert result.exit_code == 0, result.output
    assert "tagged" in result.stderr and out.is_file()
    bad = runner.invoke(app, ["report", str(tagged_csv), "-o", str(tmp_path / "x.html"), "--group-column", "nope"])
    assert bad.exit_code == 1 and bad.stderr.startswith("error: ") and "nope" in bad.stderr
    assert "--date-column" in runner.invoke(app, ["report", "--help"]).stdout


# --------------------------------------------------------------------------- a real browser
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (Debian: apt-get install chromium); "
                                             "the browser rendering test needs it")
def test_renders_in_headless_chromium(report_html, tmp_path):
    dom = _chromium(["--dump-dom", report_html.resolve().as_uri()], tmp_path / "profile")
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = dom.stdout
    for chart in ("chart-themes", "chart-sentiment", "chart-trend"):
        svg = re.search(rf'<svg id="{chart}"[^>]*>(.*?)</svg>', rendered, re.S)
        assert svg is not None, chart
        assert re.search(r"<(rect|polyline)\b", svg.group(1)), chart
    parsed = _Collector()
    parsed.feed(rendered)
    text = " ".join(parsed.text)
    for words in ("Chậm trễ / Delays", "Thái độ phục vụ / Courtesy", "Chuyển đổi số / Digitalisation",
                  "Nhũng nhiễu / Harassment", "Sắc thái theo chủ đề / Sentiment by theme",
                  "Theo đơn vị / By group", "Ví dụ / Examples"):
        assert words in text, words
    shot = tmp_path / "report.png"
    picture = _chromium(["--screenshot=" + str(shot), "--window-size=1100,2400", "--hide-scrollbars",
                         report_html.resolve().as_uri()], tmp_path / "profile2")
    assert picture.returncode == 0 and shot.stat().st_size > 20_000, picture.stderr[-2000:]
