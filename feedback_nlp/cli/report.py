"""``feedback-nlp report``: a self-contained HTML report of a tagged file."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import FeedbackNLPError
from .common import fail


def report_command(
    tagged_file: Path = typer.Argument(..., help="Output of 'feedback-nlp tag-file' (.csv, .tsv, .xlsx, .jsonl or .parquet)."),
    output: Path = typer.Option(..., "--output", "-o", help="HTML file to write, e.g. report.html."),
    date_column: str = typer.Option(None, "--date-column", "-d", help="Column with the date of each comment: adds a trend per month. Dates like 05/03/2024 are read day first; 2024-03-05 year first."),
    group_column: str = typer.Option(None, "--group-column", "-g", help="Column naming a commune, office or other group: adds a table ranking each group's most complained-about themes."),
    text_column: list[str] = typer.Option(None, "--text-column", "-c", help="Column with the comment text, for the examples (repeat to join several). Guessed when there is one obvious text column."),
    title: str = typer.Option(None, "--title", help="Report title (default: 'Báo cáo ý kiến phản ánh đã gắn nhãn / Tagged feedback report')."),
    encoding: str = typer.Option(None, "--encoding", help="Text encoding of a CSV/TSV/JSONL input when it is not UTF-8 or UTF-16."),
    sheet: str = typer.Option(None, "--sheet", help="Excel sheet name or 0-based index (default: the first)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUTPUT if it exists."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary line."),
) -> None:
    """Write one self-contained HTML report (charts as inline SVG, viewable offline) of a tagged file.

    It shows counts and shares per theme, the sentiment split per theme, a trend per month
    (with --date-column), a table ranking each group's most complained-about themes (with
    --group-column) and three example comments per theme with their scores, with Vietnamese
    and English labels. Rows that could not be tagged (non-empty 'error') are counted but left
    out of the statistics. The file is written to a temporary name and renamed at the end.
    """
    from ..report import write_report

    try:
        summary = write_report(
            tagged_file, output, text_columns=text_column or None, date_column=date_column, group_column=group_column,
            title=title, encoding=encoding, sheet=int(sheet) if sheet and sheet.isdigit() else sheet, overwrite=overwrite,
        )
    except FeedbackNLPError as exc:
        fail(str(exc))
    if not quiet:
        typer.echo(str(summary), err=True)
