"""A self-contained HTML report of a tagged file (the output of ``feedback-nlp tag-file``).

The report is one HTML file with inline CSS and hand-written SVG charts: no JavaScript, no
fonts or images to fetch, so it opens offline and can be mailed or attached to an intranet
page. Labels are in Vietnamese and English. It shows:

- counts and shares per theme (``chart-themes``);
- the sentiment split per theme (``chart-sentiment``);
- a trend per month when a date column is given (``chart-trend``);
- a table per group (commune, office, ...) ranking the most complained-about themes, when a
  group column is given (a complaint is a negative comment with that theme);
- three example comments per theme, those with the highest theme scores.

The file is read in chunks and summarised as it goes, so memory stays flat on large files.
Rows whose ``error`` is not empty (texts that could not be tagged) are counted but left out
of every statistic. All user text is escaped with :func:`html.escape`.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import os
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .batch import join_text_columns, pick_text_columns
from .errors import DataError
from .tables import iter_table

THEME_NAMES_VI = {
    "harassment": "Nhũng nhiễu",
    "delays": "Chậm trễ",
    "courtesy": "Thái độ phục vụ",
    "digitalisation": "Chuyển đổi số",
}
THEME_NAMES_EN = {"harassment": "Harassment", "delays": "Delays", "courtesy": "Courtesy", "digitalisation": "Digitalisation"}
SENTIMENTS = ("negative", "neutral", "positive")
SENTIMENT_NAMES = {"negative": ("Tiêu cực", "Negative"), "neutral": ("Trung lập", "Neutral"), "positive": ("Tích cực", "Positive")}
SENTIMENT_COLOURS = {"negative": "#c0392b", "neutral": "#9aa0a6", "positive": "#2e7d32"}
THEME_COLOURS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")
ERROR_NAMES = {
    "empty": "trống / empty", "missing": "thiếu / missing", "not_text": "không phải văn bản / not text",
    "no_words": "không có chữ / no words", "too_long": "quá dài / too long",
}
EXAMPLES_PER_THEME = 3
MAX_GROUPS = 200
EXAMPLE_CHARS = 600
UNKNOWN_GROUP = "(không rõ / unknown)"
TAG_COLUMNS = ("themes", "sentiment", "sentiment_score", "error", "evidence")
_YEAR_FIRST = re.compile(r"^\s*\d{4}\D?\d")


# --------------------------------------------------------------------------- labels
def theme_label(theme: str) -> str:
    """"Chậm trễ / Delays" for the standard themes; the name itself for others."""
    if theme in THEME_NAMES_VI:
        return f"{THEME_NAMES_VI[theme]} / {THEME_NAMES_EN[theme]}"
    return theme


def sentiment_label(sentiment: str) -> str:
    vi, en = SENTIMENT_NAMES.get(sentiment, (sentiment, ""))
    return f"{vi} / {en}" if en else vi


def _e(value: Any) -> str:
    """Escape any value for HTML text or an attribute (lone surrogates replaced)."""
    return html.escape(str(value).encode("utf-8", "replace").decode("utf-8"), quote=True)


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


# --------------------------------------------------------------------------- parsing cells
def parse_themes(value: Any) -> list[str]:
    """Theme names from a ``themes`` cell: a list (JSONL/Parquet) or a ';'-joined string (CSV/Excel)."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):  # a list written as JSON text
            text = text[1:-1].replace('"', "").replace("'", "").replace(",", ";")
        return [t.strip() for t in text.split(";") if t.strip()]
    if isinstance(value, float) and math.isnan(value):
        return []
    if isinstance(value, (list, tuple, np.ndarray, pd.Series)):
        return [str(t).strip() for t in value if isinstance(t, str) and t.strip()]
    return []


def parse_month(value: Any) -> str | None:
    """``YYYY-MM`` of a date cell, or None. Day-first (Vietnamese dd/mm/yyyy) unless the year comes first."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, (dt.date, pd.Timestamp)):
        return f"{value.year:04d}-{value.month:02d}"
    text = str(value).strip()
    if not text:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stamp = pd.to_datetime(text, dayfirst=not _YEAR_FIRST.match(text))
    except (ValueError, TypeError, OverflowError):
        return None
    if stamp is pd.NaT or pd.isna(stamp):
        return None
    return f"{stamp.year:04d}-{stamp.month:02d}"


def _months_between(first: str, last: str) -> list[str]:
    year, month = map(int, first.split("-"))
    end = tuple(map(int, last.split("-")))
    out = []
    while (year, month) <= end:
        out.append(f"{year:04d}-{month:02d}")
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return out


# --------------------------------------------------------------------------- summary
@dataclass
class Example:
    """One example comment for a theme."""

    score: float
    text: str
    sentiment: str
    sentiment_score: float | None
    month_or_date: str = ""
    group: str = ""
    evidence: str = ""


@dataclass
class ReportData:
    """Everything the report shows, gathered in one pass over the tagged file."""

    source: str
    rows: int = 0
    tagged: int = 0
    errors: Counter = field(default_factory=Counter)
    themes: list[str] = field(default_factory=list)
    theme_counts: Counter = field(default_factory=Counter)
    no_theme: int = 0
    sentiments: list[str] = field(default_factory=lambda: list(SENTIMENTS))
    sentiment_counts: Counter = field(default_factory=Counter)
    theme_sentiment: dict[str, Counter] = field(default_factory=dict)
    date_column: str | None = None
    bad_dates: int = 0
    month_totals: Counter = field(default_factory=Counter)
    month_themes: dict[str, Counter] = field(default_factory=dict)
    group_column: str | None = None
    group_totals: Counter = field(default_factory=Counter)
    group_negative: Counter = field(default_factory=Counter)
    group_themes: dict[str, Counter] = field(default_factory=dict)
    group_complaints: dict[str, Counter] = field(default_factory=dict)
    examples: dict[str, list[Example]] = field(default_factory=dict)
    text_columns: list[str] = field(default_factory=list)

    def add_theme(self, theme: str) -> None:
        if theme not in self.themes:
            self.themes.append(theme)
            self.theme_sentiment[theme] = Counter()
            self.examples[theme] = []

    def add_sentiment(self, sentiment: str) -> None:
        if sentiment and sentiment not in self.sentiments:
            self.sentiments.append(sentiment)


class ReportBuilder:
    """Accumulates :class:`ReportData` chunk by chunk (see :func:`summarise_frames`)."""

    def __init__(self, source: str, text_columns: Sequence[str] | None = None, date_column: str | None = None,
                 group_column: str | None = None) -> None:
        self.data = ReportData(source=source, date_column=date_column, group_column=group_column)
        self.requested_text = list(text_columns) if text_columns else None
        self.started = False

    def _start(self, frame: pd.DataFrame) -> None:
        source = self.data.source
        columns = [str(c) for c in frame.columns if c != "__line__"]
        missing = [c for c in ("themes", "sentiment") if c not in columns]
        if missing:
            raise DataError(
                f"{source}: no column {', '.join(repr(c) for c in missing)}: this is not the output of "
                "'feedback-nlp tag-file'. Tag it first: feedback-nlp tag-file IN -o TAGGED, then report on TAGGED."
            )
        for name, option in ((self.data.date_column, "--date-column"), (self.data.group_column, "--group-column")):
            if name is not None and name not in columns:
                raise DataError(f"{source}: no column {name!r} for {option}. Available columns: {', '.join(columns)}.")
        for column in columns:
            if column.startswith("score_") and len(column) > 6:
                self.data.add_theme(column[6:])
        own = set(TAG_COLUMNS) | {c for c in columns if c.startswith("score_")}
        inputs = frame[[c for c in frame.columns if str(c) not in own]]
        try:
            self.data.text_columns, _ = pick_text_columns(inputs, self.requested_text, source)
        except DataError as exc:
            raise DataError(f"{exc} (the report shows example comments from it: pass --text-column)") from None
        self.started = True

    def add(self, frame: pd.DataFrame) -> None:
        """Fold one chunk of tagged rows into the summary."""
        if not self.started:
            self._start(frame)
        data = self.data
        frame = frame.reset_index(drop=True)
        n = len(frame)
        data.rows += n
        errors = frame["error"] if "error" in frame.columns else pd.Series([""] * n)
        errors = [("" if e is None or (isinstance(e, float) and math.isnan(e)) else str(e).strip()) for e in errors]
        ok = np.array([not e for e in errors], dtype=bool)
        data.errors.update(e for e in errors if e)
        data.tagged += int(ok.sum())
        if not ok.any():
            return
        rows = frame.loc[ok].reset_index(drop=True)
        theme_lists = [parse_themes(v) for v in rows["themes"]]
        for names in theme_lists:
            for name in names:
                data.add_theme(name)
        sentiments = [("" if not isinstance(s, str) else s.strip().lower()) for s in rows["sentiment"]]
        for s in set(sentiments):
            data.add_sentiment(s)
        months = [parse_month(v) for v in rows[data.date_column]] if data.date_column else None
        groups = [UNKNOWN_GROUP if _blank(v) else str(v).strip() for v in rows[data.group_column]] if data.group_column else None
        for i, names in enumerate(theme_lists):
            sentiment = sentiments[i]
            data.sentiment_counts[sentiment] += 1
            if not names:
                data.no_theme += 1
            for name in set(names):
                data.theme_counts[name] += 1
                data.theme_sentiment[name][sentiment] += 1
            if months is not None:
                month = months[i]
                if month is None:
                    data.bad_dates += 1
                else:
                    data.month_totals[month] += 1
                    data.month_themes.setdefault(month, Counter()).update(set(names))
            if groups is not None:
                group = groups[i]
                data.group_totals[group] += 1
                data.group_themes.setdefault(group, Counter()).update(set(names))
                if sentiment == "negative":
                    data.group_negative[group] += 1
                    data.group_complaints.setdefault(group, Counter()).update(set(names))
        self._add_examples(rows, theme_lists, sentiments, groups)

    def _add_examples(self, rows: pd.DataFrame, theme_lists: list[list[str]], sentiments: list[str],
                      groups: list[str] | None) -> None:
        data = self.data
        texts = join_text_columns(rows, data.text_columns)
        sentiment_scores = pd.to_numeric(rows["sentiment_score"], errors="coerce") if "sentiment_score" in rows.columns else None
        dates = rows[data.date_column] if data.date_column else None
        evidence = rows["evidence"] if "evidence" in rows.columns else None
        for theme in data.themes:
            holders = [i for i, names in enumerate(theme_lists) if theme in names and isinstance(texts[i], str) and texts[i].strip()]
            if not holders:
                continue
            column = f"score_{theme}"
            scores = pd.to_numeric(rows[column], errors="coerce").to_numpy() if column in rows.columns else np.full(len(rows), np.nan)
            # Best score first; among equal texts keep one (identical comments are common in surveys).
            holders.sort(key=lambda i: -(scores[i] if not math.isnan(scores[i]) else -1.0))
            chosen: list[Example] = list(data.examples[theme])
            seen = {ex.text for ex in chosen}
            for i in holders:
                text = " ".join(str(texts[i]).split())
                if text in seen:
                    continue
                score = float(scores[i]) if not math.isnan(scores[i]) else float("nan")
                if len(chosen) >= EXAMPLES_PER_THEME and not _better(score, chosen[-1].score):
                    break
                seen.add(text)
                s_score = None if sentiment_scores is None or pd.isna(sentiment_scores.iloc[i]) else float(sentiment_scores.iloc[i])
                when = "" if dates is None else _date_text(dates.iloc[i])
                proof = "" if evidence is None or _blank(evidence.iloc[i]) else str(evidence.iloc[i])
                chosen.append(Example(score, text, sentiments[i], s_score, when, groups[i] if groups else "", proof))
                chosen.sort(key=lambda ex: -(ex.score if not math.isnan(ex.score) else -1.0))
                del chosen[EXAMPLES_PER_THEME:]
                seen = {ex.text for ex in chosen}
            data.examples[theme] = chosen


def _better(score: float, than: float) -> bool:
    if math.isnan(score):
        return False
    return math.isnan(than) or score > than


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (isinstance(value, str) and not value.strip())


def _date_text(value: Any) -> str:
    if isinstance(value, (dt.date, pd.Timestamp)):
        return value.strftime("%d/%m/%Y")
    if _blank(value):
        return ""
    return str(value).strip()[:40]


def summarise_frames(frames: Iterable[pd.DataFrame], source: str, *, text_columns: Sequence[str] | None = None,
                     date_column: str | None = None, group_column: str | None = None) -> ReportData:
    """Summarise tagged rows given as DataFrame chunks (all chunks have the same columns)."""
    builder = ReportBuilder(source, text_columns, date_column, group_column)
    for frame in frames:
        builder.add(frame)
    if not builder.started:
        raise DataError(f"{source}: the file has no rows to report on.")
    return builder.data


# --------------------------------------------------------------------------- SVG charts
FONT = "system-ui, 'Segoe UI', Roboto, 'Noto Sans', 'DejaVu Sans', Arial, sans-serif"


def _svg_open(chart_id: str, width: int, height: int, title: str) -> str:
    return (f'<svg id="{chart_id}" class="chart" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="{chart_id}-title" font-family="{_e(FONT)}" font-size="13">'
            f'<title id="{chart_id}-title">{_e(title)}</title>')


def _text_width(text: str, size: float = 13) -> float:
    """A generous estimate of the rendered width of ``text`` in the chart font, in pixels."""
    return 0.6 * size * len(text)


def _fit(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def theme_bar_chart(data: ReportData) -> str:
    """Horizontal bars: comments per theme (and with no theme), with their share of tagged comments."""
    rows = [(theme_label(t), data.theme_counts[t], THEME_COLOURS[k % len(THEME_COLOURS)]) for k, t in enumerate(data.themes)]
    rows.append(("Không có chủ đề / No theme", data.no_theme, "#c8ccd0"))
    label_w, bar_w, row_h, top = 250, 380, 30, 10
    width, height = label_w + bar_w + 130, top + row_h * len(rows) + 10
    peak = max([count for _, count, _ in rows] + [1])
    parts = [_svg_open("chart-themes", width, height, "Số ý kiến theo chủ đề / Comments per theme")]
    for k, (label, count, colour) in enumerate(rows):
        y = top + k * row_h
        w = bar_w * count / peak
        parts.append(f'<text x="{label_w - 8}" y="{y + 19}" text-anchor="end" fill="#222">{_e(_fit(label, 34))}</text>')
        parts.append(f'<rect class="bar" x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" rx="3" fill="{colour}">'
                     f'<title>{_e(label)}: {count:,}</title></rect>')
        parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 19}" fill="#222">{count:,} ({_pct(count, data.tagged)})</text>')
    parts.append("</svg>")
    return "".join(parts)


def sentiment_chart(data: ReportData) -> str:
    """One 100% stacked bar per theme (and for all comments): the share of each sentiment."""
    sentiments = [s for s in data.sentiments if any(data.theme_sentiment[t][s] for t in data.themes) or data.sentiment_counts[s]]
    sentiments = sentiments or list(SENTIMENTS)
    rows = [(theme_label(t), data.theme_sentiment[t]) for t in data.themes]
    rows.append(("Tất cả ý kiến / All comments", data.sentiment_counts))
    label_w, bar_w, row_h, top = 250, 440, 30, 40
    legend_w = label_w + sum(36 + _text_width(sentiment_label(s)) for s in sentiments)
    width, height = int(max(label_w + bar_w + 20, legend_w)), top + row_h * len(rows) + 10
    parts = [_svg_open("chart-sentiment", width, height, "Sắc thái theo chủ đề / Sentiment by theme")]
    x = float(label_w)
    for s in sentiments:  # legend
        colour = SENTIMENT_COLOURS.get(s, "#6d597a")
        parts.append(f'<rect x="{x:.0f}" y="8" width="14" height="14" rx="2" fill="{colour}"/>')
        parts.append(f'<text x="{x + 20:.0f}" y="20" fill="#222">{_e(sentiment_label(s))}</text>')
        x += 36 + _text_width(sentiment_label(s))
    for k, (label, counts) in enumerate(rows):
        y = top + k * row_h
        total = sum(counts[s] for s in sentiments)
        parts.append(f'<text x="{label_w - 8}" y="{y + 19}" text-anchor="end" fill="#222">{_e(_fit(label, 34))}</text>')
        if not total:
            parts.append(f'<rect x="{label_w}" y="{y + 4}" width="{bar_w}" height="{row_h - 8}" fill="#f1f3f4"/>'
                         f'<text x="{label_w + 8}" y="{y + 19}" fill="#666">0</text>')
            continue
        x = float(label_w)
        for s in sentiments:
            w = bar_w * counts[s] / total
            if w <= 0:
                continue
            colour = SENTIMENT_COLOURS.get(s, "#6d597a")
            parts.append(f'<rect class="segment" x="{x:.1f}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" fill="{colour}">'
                         f'<title>{_e(label)} – {_e(sentiment_label(s))}: {counts[s]:,} ({_pct(counts[s], total)})</title></rect>')
            if w >= 44:
                parts.append(f'<text x="{x + w / 2:.1f}" y="{y + 19}" text-anchor="middle" fill="#fff">{_pct(counts[s], total)}</text>')
            x += w
    parts.append("</svg>")
    return "".join(parts)


def _nice_ticks(peak: float, count: int = 5) -> list[float]:
    if peak <= 0:
        return [0.0, 1.0]
    raw = peak / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [step * i for i in range(int(math.ceil(peak / step)) + 1)]


def trend_chart(data: ReportData, months: list[str]) -> str:
    """Lines: comments per theme per month (every month between the first and last, zeros included)."""
    left, right, top, bottom = 56, 40, 16, 60
    plot_w = max(640, min(860, 60 * len(months)))
    per_row = max(1, plot_w // 280)
    plot_h = 260
    width, height = left + plot_w + right, top + plot_h + bottom + 24 * math.ceil(len(data.themes) / per_row)
    series = {t: [data.month_themes.get(m, Counter())[t] for m in months] for t in data.themes}
    peak = max([v for values in series.values() for v in values] + [0])
    ticks = _nice_ticks(peak)
    y_max = ticks[-1] or 1.0

    def px(i: int) -> float:
        return left + (plot_w / 2 if len(months) == 1 else plot_w * i / (len(months) - 1))

    def py(v: float) -> float:
        return top + plot_h - plot_h * v / y_max

    parts = [_svg_open("chart-trend", width, height, "Số ý kiến theo chủ đề và tháng / Comments per theme and month")]
    for tick in ticks:
        y = py(tick)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#e3e6e8"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{tick:g}</text>')
    step = max(1, math.ceil(len(months) / 12))
    for i, month in enumerate(months):
        if i % step == 0 or i == len(months) - 1:
            parts.append(f'<text x="{px(i):.1f}" y="{top + plot_h + 18}" text-anchor="middle" fill="#555">{_e(month[5:])}/{_e(month[:4])}</text>')
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#888"/>')
    for k, theme in enumerate(data.themes):
        colour = THEME_COLOURS[k % len(THEME_COLOURS)]
        points = " ".join(f"{px(i):.1f},{py(v):.1f}" for i, v in enumerate(series[theme]))
        parts.append(f'<polyline class="line" points="{points}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
        for i, v in enumerate(series[theme]):
            parts.append(f'<circle cx="{px(i):.1f}" cy="{py(v):.1f}" r="3.5" fill="{colour}">'
                         f'<title>{_e(theme_label(theme))}, {_e(months[i])}: {v:,}</title></circle>')
    legend_y = top + plot_h + 44
    for k, theme in enumerate(data.themes):
        x, y = left + (k % per_row) * 280, legend_y + (k // per_row) * 24
        colour = THEME_COLOURS[k % len(THEME_COLOURS)]
        parts.append(f'<line x1="{x}" y1="{y - 4}" x2="{x + 22}" y2="{y - 4}" stroke="{colour}" stroke-width="3"/>')
        parts.append(f'<text x="{x + 28}" y="{y}" fill="#222">{_e(_fit(theme_label(theme), 34))}</text>')
    parts.append("</svg>")
    return "".join(parts)


# --------------------------------------------------------------------------- HTML
CSS = """
body { font-family: system-ui, 'Segoe UI', Roboto, 'Noto Sans', 'DejaVu Sans', Arial, sans-serif; color: #202124;
       margin: 0 auto; max-width: 1000px; padding: 24px; line-height: 1.45; }
h1 { font-size: 26px; margin: 0 0 4px; } h2 { font-size: 20px; margin: 36px 0 8px; border-bottom: 2px solid #e3e6e8; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 20px 0 6px; }
.meta { color: #5f6368; margin: 0 0 16px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
.card { border: 1px solid #dadce0; border-radius: 8px; padding: 10px 16px; min-width: 150px; }
.card b { display: block; font-size: 24px; }
table { border-collapse: collapse; margin: 10px 0; width: 100%; font-size: 14px; }
th, td { border-bottom: 1px solid #e3e6e8; padding: 6px 8px; text-align: left; vertical-align: top; }
th { background: #f8f9fa; } td.num, th.num { text-align: right; white-space: nowrap; }
.chart { max-width: 100%; height: auto; display: block; margin: 8px 0; }
.note { color: #5f6368; font-size: 13px; }
blockquote { margin: 8px 0; padding: 8px 12px; border-left: 4px solid #4e79a7; background: #f8f9fa; }
.tag { display: inline-block; border-radius: 10px; padding: 0 8px; font-size: 12px; color: #fff; }
ol.rank { margin: 0; padding-left: 20px; }
.scroll { overflow-x: auto; }
"""


def _table(header: Sequence[tuple[str, bool]], rows: Iterable[Sequence[str]]) -> str:
    """An HTML table; ``header`` is (escaped label, numeric); cells are already-escaped HTML."""
    head = "".join(f'<th class="num">{h}</th>' if num else f"<th>{h}</th>" for h, num in header)
    body = []
    for row in rows:
        cells = "".join(f'<td class="num">{c}</td>' if header[j][1] else f"<td>{c}</td>" for j, c in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def _two_lines(label: str) -> str:
    """"Chậm trễ / Delays" as two lines (narrow table headers), escaped."""
    vi, sep, en = label.partition(" / ")
    return f"{_e(vi)}<br>{_e(en)}" if sep else _e(label)


def _sentiment_tag(sentiment: str) -> str:
    colour = SENTIMENT_COLOURS.get(sentiment, "#6d597a")
    return f'<span class="tag" style="background:{colour}">{_e(sentiment_label(sentiment) if sentiment else "?")}</span>'


def render_html(data: ReportData, title: str | None = None, generated: dt.datetime | None = None) -> str:
    """The report as one self-contained HTML document."""
    from . import __version__

    generated = generated or dt.datetime.now()
    title = title or "Báo cáo ý kiến phản ánh đã gắn nhãn / Tagged feedback report"
    errors_total = sum(data.errors.values())
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="vi"><head><meta charset="utf-8">',
        # Nothing may be fetched: the report must render the same offline.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">Tệp / File: <code>{_e(data.source)}</code> · Tạo lúc / Generated: {generated:%d/%m/%Y %H:%M}'
        f" · feedback-nlp {_e(__version__)}</p>",
        '<div class="cards">',
        f'<div class="card">Số dòng / Rows<b>{data.rows:,}</b></div>',
        f'<div class="card">Đã gắn nhãn / Tagged<b>{data.tagged:,}</b></div>',
        f'<div class="card">Lỗi, không tính / Errors, not counted<b>{errors_total:,}</b></div>',
        f'<div class="card">Tiêu cực / Negative<b>{_pct(data.sentiment_counts["negative"], data.tagged)}</b></div>',
        "</div>",
    ]
    if errors_total:
        reasons = ", ".join(f"{_e(ERROR_NAMES.get(r, r))}: {n:,}" for r, n in data.errors.most_common())
        out.append(f'<p class="note">Các dòng lỗi không được tính trong thống kê / Rows with errors are left out of every statistic ({reasons}).</p>')
    if not data.tagged:
        out.append("<p><b>Không có dòng nào được gắn nhãn / No row was tagged</b>: nothing to chart.</p>")

    # Themes
    out.append("<h2>Chủ đề / Themes</h2>")
    out.append('<p class="note">Tỷ lệ trên số ý kiến đã gắn nhãn; một ý kiến có thể thuộc nhiều chủ đề / '
               "Share of tagged comments; a comment may have several themes, so shares can add up to more than 100%.</p>")
    out.append(theme_bar_chart(data))
    theme_rows = [[_e(theme_label(t)), f"{data.theme_counts[t]:,}", _pct(data.theme_counts[t], data.tagged)] for t in data.themes]
    theme_rows.append(["Không có chủ đề / No theme", f"{data.no_theme:,}", _pct(data.no_theme, data.tagged)])
    out.append(_table([("Chủ đề / Theme", False), ("Số ý kiến / Comments", True), ("Tỷ lệ / Share", True)], theme_rows))

    # Sentiment per theme
    out.append("<h2>Sắc thái theo chủ đề / Sentiment by theme</h2>")
    out.append(sentiment_chart(data))
    sentiments = [s for s in data.sentiments if data.sentiment_counts[s]] or list(SENTIMENTS)
    header = [("Chủ đề / Theme", False)] + [(_e(sentiment_label(s)), True) for s in sentiments]
    rows = []
    for label, counts in [(theme_label(t), data.theme_sentiment[t]) for t in data.themes] + [("Tất cả / All", data.sentiment_counts)]:
        total = sum(counts[s] for s in sentiments)
        rows.append([_e(label)] + [f"{counts[s]:,} ({_pct(counts[s], total)})" for s in sentiments])
    out.append(_table(header, rows))

    # Monthly trend
    if data.date_column is not None:
        out.append(f"<h2>Xu hướng theo tháng / Monthly trend <span class=\"note\">(cột / column <code>{_e(data.date_column)}</code>)</span></h2>")
        if data.month_totals:
            months = _months_between(min(data.month_totals), max(data.month_totals))
            out.append(trend_chart(data, months))
            header = [("Tháng / Month", False), ("Tổng / Total", True)] + [(_two_lines(theme_label(t)), True) for t in data.themes]
            rows = [[f"{m[5:]}/{m[:4]}", f"{data.month_totals[m]:,}"] + [f"{data.month_themes.get(m, Counter())[t]:,}" for t in data.themes]
                    for m in months]
            out.append(_table(header, rows))
        else:
            out.append("<p>Không đọc được ngày nào / No date could be read.</p>")
        if data.bad_dates:
            out.append(f'<p class="note">{data.bad_dates:,} ý kiến không có ngày hợp lệ, không có trong biểu đồ / '
                       f"{data.bad_dates:,} comments have no readable date and are not in the trend.</p>")

    # Groups
    if data.group_column is not None:
        out.append(f"<h2>Theo đơn vị / By group <span class=\"note\">(cột / column <code>{_e(data.group_column)}</code>)</span></h2>")
        out.append('<p class="note">Phàn nàn = ý kiến tiêu cực có chủ đề đó; đơn vị xếp theo số phàn nàn / '
                   "A complaint is a negative comment with that theme; groups are ordered by their number of complaints.</p>")
        order = sorted(data.group_totals, key=lambda g: (-sum(data.group_complaints.get(g, Counter()).values()),
                                                         -data.group_totals[g], g))
        rows = []
        for group in order[:MAX_GROUPS]:
            complaints = data.group_complaints.get(group, Counter())
            mentions = data.group_themes.get(group, Counter())
            ranked = sorted((t for t in data.themes if mentions[t]), key=lambda t: (-complaints[t], -mentions[t], data.themes.index(t)))
            items = "".join(f"<li>{_e(theme_label(t))}: {complaints[t]:,} phàn nàn / complaints "
                            f"({mentions[t]:,} ý kiến / comments)</li>" for t in ranked)
            rows.append([_e(group), f"{data.group_totals[group]:,}",
                         f"{data.group_negative[group]:,} ({_pct(data.group_negative[group], data.group_totals[group])})",
                         f'<ol class="rank">{items}</ol>' if items else "–"])
        out.append(_table([("Đơn vị / Group", False), ("Ý kiến / Comments", True), ("Tiêu cực / Negative", True),
                           ("Chủ đề bị phàn nàn nhiều nhất / Most complained-about themes", False)], rows))
        if len(order) > MAX_GROUPS:
            out.append(f'<p class="note">Chỉ hiện {MAX_GROUPS} đơn vị đầu trong {len(order):,} / '
                       f"Only the first {MAX_GROUPS} of {len(order):,} groups are shown.</p>")

    # Examples
    out.append("<h2>Ví dụ / Examples</h2>")
    out.append(f'<p class="note">{EXAMPLES_PER_THEME} ý kiến có điểm cao nhất cho mỗi chủ đề / '
               f"The {EXAMPLES_PER_THEME} comments with the highest score for each theme.</p>")
    for theme in data.themes:
        out.append(f'<h3 class="examples" id="examples-{_e(theme)}">{_e(theme_label(theme))}</h3>')
        examples = data.examples.get(theme, [])
        if not examples:
            out.append('<p class="note">Không có ý kiến nào / No comment has this theme.</p>')
        for ex in examples:
            text = ex.text if len(ex.text) <= EXAMPLE_CHARS else ex.text[:EXAMPLE_CHARS] + "…"
            score = "?" if math.isnan(ex.score) else f"{ex.score:.3f}"
            details = [f"Điểm / Score: <b>{score}</b>", _sentiment_tag(ex.sentiment)
                       + ("" if ex.sentiment_score is None else f" {ex.sentiment_score:.3f}")]
            if ex.month_or_date:
                details.append(f"Ngày / Date: {_e(ex.month_or_date)}")
            if ex.group:
                details.append(f"Đơn vị / Group: {_e(ex.group)}")
            out.append(f'<blockquote class="example">{_e(text)}<br><span class="note">{" · ".join(details)}</span></blockquote>')
    out.append('<p class="note">Điểm là xác suất mô hình gán cho chủ đề / Scores are the probabilities the model gave the theme.</p>')
    out.append("</body></html>")
    return "\n".join(out)


# --------------------------------------------------------------------------- public API
@dataclass
class ReportSummary:
    rows: int
    tagged: int
    errors: int
    output: str

    def __str__(self) -> str:
        return f"{self.rows:,} rows, {self.tagged:,} tagged, {self.errors:,} errors (not counted) -> {self.output}"


def build_report(frame: pd.DataFrame, *, text_columns: Sequence[str] | str | None = None, date_column: str | None = None,
                 group_column: str | None = None, title: str | None = None, source: str = "DataFrame") -> str:
    """The HTML report of a tagged DataFrame (e.g. from ``model.tag_frame``)."""
    columns = [text_columns] if isinstance(text_columns, str) else text_columns
    data = summarise_frames([frame], source, text_columns=columns, date_column=date_column, group_column=group_column)
    return render_html(data, title)


def write_report(
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    text_columns: Sequence[str] | str | None = None,
    date_column: str | None = None,
    group_column: str | None = None,
    title: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
    overwrite: bool = False,
    chunk_size: int = 50_000,
) -> ReportSummary:
    """Read a tagged file (any output of ``tag-file``) and write its HTML report atomically."""
    input_path, output_path = Path(input_path), Path(output_path)
    if not input_path.is_file():
        raise DataError(f"{input_path}: no such file.")
    if output_path.exists():
        if output_path.resolve() == input_path.resolve():
            raise DataError(f"{output_path} is the input file; write the report to another file (e.g. report.html).")
        if not overwrite:
            raise DataError(f"{output_path} already exists; pass --overwrite to replace it.")
    columns = [text_columns] if isinstance(text_columns, str) else text_columns
    data = summarise_frames(iter_table(input_path, chunk_size=chunk_size, encoding=encoding, sheet=sheet), str(input_path.name),
                            text_columns=columns, date_column=date_column, group_column=group_column)
    document = render_html(data, title)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = output_path.with_name(f".{output_path.name}.partial-{os.getpid()}")
    try:
        tmp.write_text(document, encoding="utf-8")
        os.replace(tmp, output_path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return ReportSummary(data.rows, data.tagged, sum(data.errors.values()), str(output_path))
