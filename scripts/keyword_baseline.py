"""Keyword baseline: regular expressions over the cue words of ../shared/LABELS.md.

Usage: python scripts/keyword_baseline.py [corpora/civic_feedback/test.jsonl]

A theme is predicted when any of its cues (from the label guide's table, matched on the
lower-cased text with and without diacritics) occurs. Sentiment: negative if a negative cue
occurs, else positive if a positive cue occurs, else neutral. This is the bar the trained
model must clear (BENCHMARKS.md).
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from feedback_nlp.evaluation import sentiment_metrics, theme_metrics  # noqa: E402
from feedback_nlp.features import strip_diacritics  # noqa: E402
from feedback_nlp.labels import DEFAULT_THEMES, SENTIMENTS  # noqa: E402

# The cue words listed in LABELS.md, theme by theme.
THEME_CUES = {
    "harassment": ["sách nhiễu", "nhũng nhiễu", "gây phiền hà", "gây khó dễ", "làm khó", "vòi vĩnh", "hạch sách",
                   "tiền bồi dưỡng", "tiền trà nước", "lót tay", "bôi trơn", "phong bì", "tiêu cực", "cò hồ sơ", "cửa quyền"],
    "delays": ["chậm trễ", "trễ hẹn", "quá hạn", "hẹn lần hẹn lữa", "chờ cả buổi", "đi lại nhiều lần", "tồn đọng", "rườm rà",
               "đi muộn về sớm", "nhanh gọn", "đúng hẹn", "trước hạn", "rút ngắn thời gian"],
    "courtesy": ["niềm nở", "tận tình", "chu đáo", "lịch sự", "hướng dẫn tỉ mỉ", "3 xin", "xin chào", "xin lỗi", "cảm ơn",
                 "cáu gắt", "quát tháo", "thờ ơ", "vô cảm", "hách dịch", "nói trống không", "thiếu tôn trọng",
                 "văn hóa công sở", "quy tắc ứng xử"],
    "digitalisation": ["dịch vụ công trực tuyến", "cổng dịch vụ công", "nộp hồ sơ qua mạng", "online", "vneid", "chữ ký số",
                       "thanh toán trực tuyến", "số hóa", "chính quyền số", "chính phủ điện tử", "ứng dụng công nghệ thông tin",
                       "hệ thống lỗi", "web bị treo", "không đăng nhập được"],
}
NEGATIVE_CUES = ["sách nhiễu", "nhũng nhiễu", "gây phiền hà", "gây khó dễ", "làm khó", "vòi vĩnh", "hạch sách", "lót tay",
                 "bôi trơn", "tiêu cực", "chậm trễ", "trễ hẹn", "quá hạn", "hẹn lần hẹn lữa", "chờ cả buổi", "đi lại nhiều lần",
                 "tồn đọng", "rườm rà", "đi muộn về sớm", "cáu gắt", "quát tháo", "thờ ơ", "vô cảm", "hách dịch",
                 "nói trống không", "thiếu tôn trọng", "hệ thống lỗi", "web bị treo", "không đăng nhập được", "vẫn còn tình trạng",
                 "chưa nghiêm", "chờ quá lâu", "lầy lội"]
POSITIVE_CUES = ["niềm nở", "tận tình", "chu đáo", "lịch sự", "hướng dẫn tỉ mỉ", "nhanh gọn", "đúng hẹn", "trước hạn",
                 "rút ngắn thời gian", "hài lòng", "đạt 100%", "nhiệt tình"]


def _pattern(cues: list[str]) -> re.Pattern[str]:
    variants = {c for cue in cues for c in (cue, strip_diacritics(cue))}
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(v) for v in sorted(variants, key=len, reverse=True)) + r")(?!\w)")


THEME_PATTERNS = {theme: _pattern(cues) for theme, cues in THEME_CUES.items()}
NEGATIVE, POSITIVE = _pattern(NEGATIVE_CUES), _pattern(POSITIVE_CUES)


def predict(text: str) -> tuple[list[str], str]:
    text = unicodedata.normalize("NFC", text).lower()
    themes = [t for t, p in THEME_PATTERNS.items() if p.search(text)]
    sentiment = "negative" if NEGATIVE.search(text) else "positive" if POSITIVE.search(text) else "neutral"
    return themes, sentiment


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "corpora/civic_feedback/test.jsonl"
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    predicted = [predict(r["text"]) for r in records]
    t = theme_metrics([r["themes"] for r in records], [p[0] for p in predicted], DEFAULT_THEMES)
    s = sentiment_metrics([r["sentiment"] for r in records], [p[1] for p in predicted], SENTIMENTS)
    print(json.dumps({"file": str(path), "n": len(records), "themes": t, "sentiment": s}, ensure_ascii=False, indent=1))
    print(f"keyword baseline: theme macro-F1 {t['macro_f1']:.3f} "
          + " ".join(f"{k} {v['f1']:.3f}" for k, v in t["per_theme"].items())
          + f"; sentiment macro-F1 {s['macro_f1']:.3f}", file=sys.stderr)


if __name__ == "__main__":
    main()
