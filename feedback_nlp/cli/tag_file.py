"""``feedback-nlp tag-file``: tag every row of a CSV/TSV/XLSX/JSONL/Parquet file."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ..batch import tag_file
from ..errors import FeedbackNLPError
from .common import FIX_ENCODING_HELP, MODEL_HELP, FixEncoding, fail


def tag_file_command(
    input_path: Path = typer.Argument(..., help="File to tag: .csv, .tsv, .xlsx, .jsonl or .parquet."),
    output: Path = typer.Option(..., "--output", "-o", help="File to write; its extension picks the format (may differ from the input's)."),
    text_column: list[str] = typer.Option(None, "--text-column", "-c", help="Column holding the text. Repeat to join several (e.g. title and body). Guessed when there is one obvious text column."),
    model_dir: Path = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    jobs: int = typer.Option(0, "--jobs", "-j", help="Worker processes; 0 means one per CPU core."),
    chunk_size: int = typer.Option(20_000, "--chunk-size", help="Rows read and written at a time; memory stays flat whatever the file size."),
    encoding: str = typer.Option(None, "--encoding", help="Text encoding of a CSV/TSV/JSONL input when it is not UTF-8 or UTF-16 (e.g. cp1258)."),
    sheet: str = typer.Option(None, "--sheet", help="Excel sheet name or 0-based index (default: the first)."),
    by_sentence: bool = typer.Option(False, "--by-sentence", help="For long texts: tag each sentence; themes are the union over sentences, with an 'evidence' column."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUTPUT if it exists (even when it is the input)."),
    fix_encoding: FixEncoding = typer.Option(FixEncoding.auto, "--fix-encoding", help=FIX_ENCODING_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar and no summary line."),
) -> None:
    """Tag every row of a table; write all input columns plus themes, scores, sentiment and error.

    Every input row gives one output row in the same order. Rows that cannot be tagged (empty,
    missing, not text, too long) keep default labels and say why in 'error'. The output is
    written to a temporary file and renamed at the end, so an interrupted run leaves nothing
    under the output name.
    """
    say = (lambda _msg: None) if quiet else (lambda msg: typer.echo(msg, err=True))
    try:
        summary = tag_file(
            input_path, output, text_column or None, model_dir=model_dir, jobs=jobs, chunk_size=chunk_size,
            encoding=encoding, sheet=int(sheet) if sheet and sheet.isdigit() else sheet, by_sentence=by_sentence,
            overwrite=overwrite, progress=not quiet and sys.stderr.isatty(), notice=say,
            fix_encoding=fix_encoding is FixEncoding.auto,
        )
    except FeedbackNLPError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail(f"interrupted; {output} was not written.", code=130)
    say(str(summary))
