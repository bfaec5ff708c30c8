"""Read and write tabular files (CSV, TSV, XLSX, JSONL, Parquet) by extension.

Every reader keeps cells as text (no type guessing that would turn "0912" into 912) and
raises :class:`DataError` naming the file and, where it helps, the option that fixes it.
"""

from __future__ import annotations

import codecs
import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import DataError

FORMATS = {".csv": "csv", ".tsv": "tsv", ".txt": "tsv", ".xlsx": "xlsx", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}


def table_format(path: str | os.PathLike[str]) -> str:
    """The format of ``path`` from its extension, or DataError listing the supported ones."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise DataError(f"{path}: unsupported file type '{suffix or '(none)'}'. Use one of: {', '.join(sorted(FORMATS))}.")
    return FORMATS[suffix]


def detect_encoding(path: str | os.PathLike[str], encoding: str | None = None) -> str:
    """The encoding to read a text file with: the one given, one a BOM names, or UTF-8 if it decodes."""
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            raise DataError(f"{path}: unknown encoding '{encoding}' given with --encoding.") from exc
        return encoding
    with open(path, "rb") as handle:
        head = handle.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        handle.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        offset = 0
        for block in iter(lambda: handle.read(1 << 20), b""):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"{path}: not UTF-8 (undecodable byte at offset {offset + exc.start}). "
                    "Save it as UTF-8 or UTF-16, or name its encoding with --encoding (e.g. --encoding cp1258)."
                ) from exc
            offset += len(block)
    return "utf-8"


def sniff_delimiter(path: str | os.PathLike[str], encoding: str, default: str = ",") -> str:
    """Guess the delimiter of a CSV file from its first 64 KB (one of , ; tab |)."""
    with open(path, encoding=encoding, newline="") as handle:
        sample = handle.read(65536)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return default


def _csv_options(path: Path, fmt: str, encoding: str | None, delimiter: str | None) -> dict[str, Any]:
    enc = detect_encoding(path, encoding)
    sep = delimiter or ("\t" if fmt == "tsv" else sniff_delimiter(path, enc))
    return {"encoding": enc, "sep": sep, "dtype": str, "keep_default_na": False, "na_values": [""], "engine": "c"}


def iter_table(
    path: str | os.PathLike[str],
    *,
    chunk_size: int = 50_000,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | int | None = None,
) -> Iterator[pd.DataFrame]:
    """Yield the rows of a table in order, ``chunk_size`` rows at a time, cells as text."""
    path = Path(path)
    fmt = table_format(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file.")
    try:
        if fmt in ("csv", "tsv"):
            options = _csv_options(path, fmt, encoding, delimiter)
            try:
                yield from pd.read_csv(path, chunksize=chunk_size, **options)
            except pd.errors.EmptyDataError:
                return
        elif fmt == "jsonl":
            yield from _iter_jsonl(path, chunk_size, encoding)
        elif fmt == "parquet":
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_size):
                yield batch.to_pandas()
        else:
            frame = pd.read_excel(path, sheet_name=0 if sheet is None else sheet, dtype=object, engine="openpyxl")
            for start in range(0, len(frame), chunk_size):
                yield frame.iloc[start:start + chunk_size]
    except DataError:
        raise
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError, KeyError) as exc:
        hint = " Check --sheet." if fmt == "xlsx" else ""
        raise DataError(f"{path}: cannot read as {fmt}: {exc}.{hint}") from exc


def _iter_jsonl(path: Path, chunk_size: int, encoding: str | None) -> Iterator[pd.DataFrame]:
    rows: list[dict[str, Any]] = []
    with open(path, encoding=detect_encoding(path, encoding)) as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}, line {number}: not valid JSON ({exc.msg}).") from exc
            if not isinstance(row, dict):
                raise DataError(f"{path}, line {number}: expected a JSON object, got {type(row).__name__}.")
            row["__line__"] = number
            rows.append(row)
            if len(rows) >= chunk_size:
                yield pd.DataFrame(rows)
                rows = []
    if rows:
        yield pd.DataFrame(rows)


def read_table(path: str | os.PathLike[str], **options: Any) -> pd.DataFrame:
    """Read a whole table (see :func:`iter_table`). JSONL rows carry their line in ``__line__``."""
    frames = list(iter_table(path, **options))
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


def row_location(path: str | os.PathLike[str], frame: pd.DataFrame, index: int) -> str:
    """How a user finds row ``index`` of ``frame`` read from ``path``: a line or a spreadsheet row."""
    if "__line__" in frame.columns:
        return f"{path}, line {int(frame['__line__'].iloc[index])}"
    return f"{path}, row {index + 2}"  # row 1 is the header
