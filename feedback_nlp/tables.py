"""Read and write tabular files (CSV, TSV, XLSX, JSONL, Parquet) by extension.

Every reader keeps cells as text (no type guessing that would turn "0912" into 912) and
raises :class:`DataError` naming the file and, where it helps, the option that fixes it.
"""

from __future__ import annotations

import codecs
import csv
import json
import os
import sys
from collections.abc import Callable, Iterator
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
    notice: Callable[[str], None] | None = None,
) -> Iterator[pd.DataFrame]:
    """Yield the rows of a table in order, ``chunk_size`` rows at a time, cells as text.

    A CSV with broken quoting or rows with too many fields is not rejected: from the first
    bad chunk on it is read one physical line per row (extra fields joined into the last
    column), and ``notice`` is told.
    """
    path = Path(path)
    fmt = table_format(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file.")
    try:
        if fmt in ("csv", "tsv"):
            options = _csv_options(path, fmt, encoding, delimiter)
            rows_done = 0
            try:
                for frame in pd.read_csv(path, chunksize=chunk_size, **options):
                    yield frame
                    rows_done += len(frame)
            except pd.errors.EmptyDataError:
                return
            except pd.errors.ParserError as exc:
                # Broken quoting or ragged rows: re-read line by line from where the fast parser stopped.
                (notice or _warn)(f"{path}: {exc}; reading the rest with a lenient parser (broken quotes taken literally).")
                yield from _iter_csv_robust(path, options["encoding"], options["sep"], chunk_size, skip_rows=rows_done)
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


def _warn(message: str) -> None:
    print(message, file=sys.stderr)


MAX_FIELD_LINES = 50  # a quoted field spanning more lines than this is taken as broken quoting


def _robust_csv_records(handle: Any, sep: str) -> Iterator[list[str]]:
    """CSV records that survive broken quoting: a record whose quote does not close within
    MAX_FIELD_LINES lines is read as that one physical line (its quote taken literally)."""
    buffer: list[str] = []
    lines = iter(handle)
    while True:
        for line in lines:
            buffer.append(line)
            if len(buffer) >= MAX_FIELD_LINES:
                break
        if not buffer:
            return
        reader = csv.reader(iter(buffer), delimiter=sep, strict=True)
        try:
            record = next(reader)
            used = reader.line_num
        except (csv.Error, StopIteration):
            record = next(csv.reader([buffer[0].rstrip("\r\n")], delimiter=sep, strict=False), [])
            used = 1
        del buffer[:used]
        yield record


def _iter_csv_robust(path: Path, encoding: str, sep: str, chunk_size: int, skip_rows: int) -> Iterator[pd.DataFrame]:
    with open(path, encoding=encoding, newline="") as handle:
        records = _robust_csv_records(handle, sep)
        header = next(records, [])
        width = len(header)
        rows: list[list[str | None]] = []
        for number, fields in enumerate(records):
            if number < skip_rows:
                continue
            if len(fields) > width:  # stray delimiters: keep the text, joined into the last column
                fields = fields[: width - 1] + [sep.join(fields[width - 1:])]
            fields = fields + [""] * (width - len(fields))
            rows.append([f if f != "" else None for f in fields])
            if len(rows) >= chunk_size:
                yield pd.DataFrame(rows, columns=header, dtype=object)
                rows = []
        if rows:
            yield pd.DataFrame(rows, columns=header, dtype=object)


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


def row_locations(path: str | os.PathLike[str], frame: pd.DataFrame) -> list[str]:
    """How a user finds each row of ``frame`` read from ``path``: a line or a spreadsheet row
    (row 1 is the header)."""
    if "__line__" in frame.columns:
        return [f"{path}, line {int(line)}" for line in frame["__line__"].tolist()]
    return [f"{path}, row {index + 2}" for index in range(len(frame))]


def count_rows(path: str | os.PathLike[str], *, encoding: str | None = None, sheet: str | int | None = None) -> int | None:
    """A quick row count for progress bars (exact for Parquet/XLSX, line-based for text formats)."""
    path = Path(path)
    fmt = table_format(path)
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(path).metadata.num_rows)
        if fmt == "xlsx":
            from openpyxl import load_workbook

            book = load_workbook(path, read_only=True)
            sheet_ = book.worksheets[sheet] if isinstance(sheet, int) else book[sheet] if sheet else book.worksheets[0]
            return max((sheet_.max_row or 1) - 1, 0)
        newline = "\n".encode(detect_encoding(path, encoding).replace("-sig", ""))
        lines = 0
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                lines += block.count(newline)
        return max(lines - (1 if fmt in ("csv", "tsv") else 0), 0)
    except Exception:  # a progress bar without a total is fine
        return None


EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_CELL = 32_767
LIST_COLUMNS = ("themes",)


class TableWriter:
    """Write DataFrame chunks to a table file atomically: a temp file renamed into place on success.

    On any exception (Ctrl-C included) the temp file is removed and nothing appears under the
    output name. CSV and TSV are written as UTF-8 with a BOM so Excel shows Vietnamese correctly.
    """

    def __init__(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        self.path = Path(path)
        self.format = table_format(self.path)
        self.overwrite = overwrite
        self.tmp = self.path.with_name(f".{self.path.name}.partial-{os.getpid()}")
        self._handle: Any = None
        self._parquet: Any = None
        self._book: Any = None
        self._sheet: Any = None
        self._rows = 0
        self.notes: list[str] = []

    def __enter__(self) -> TableWriter:
        if self.path.exists() and not self.overwrite:
            raise DataError(f"{self.path} already exists; pass --overwrite to replace it.")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.format in ("csv", "tsv"):
            self._handle = open(self.tmp, "w", encoding="utf-8-sig", newline="")
        elif self.format == "jsonl":
            self._handle = open(self.tmp, "w", encoding="utf-8", newline="\n")
        elif self.format == "xlsx":
            from openpyxl import Workbook

            self._book = Workbook(write_only=True)
            self._sheet = self._book.create_sheet("tagged")
        return self

    def write(self, frame: pd.DataFrame) -> None:
        if self.format in ("csv", "tsv"):
            frame.to_csv(self._handle, sep="\t" if self.format == "tsv" else ",", header=self._rows == 0, index=False)
        elif self.format == "jsonl":
            for record in frame.to_dict(orient="records"):
                self._handle.write(json.dumps({k: _json_value(v) for k, v in record.items()}, ensure_ascii=False) + "\n")
        elif self.format == "parquet":
            self._write_parquet(frame)
        else:
            self._write_excel(frame)
        self._rows += len(frame)

    def _write_parquet(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        frame = frame.copy()
        for column in frame.columns:
            if frame[column].dtype == object and column not in LIST_COLUMNS:
                frame[column] = [None if _is_missing(v) else v if isinstance(v, str) else json.dumps(_json_value(v), ensure_ascii=False)
                                 for v in frame[column]]
        if self._parquet is None:
            fields = []
            for column in frame.columns:
                if column in LIST_COLUMNS:
                    fields.append(pa.field(column, pa.list_(pa.string())))
                elif frame[column].dtype == object or str(frame[column].dtype) in ("string", "str"):
                    fields.append(pa.field(column, pa.string()))
                else:
                    fields.append(pa.field(column, pa.Table.from_pandas(frame[[column]], preserve_index=False).schema.field(column).type))
            self._schema = pa.schema(fields)
            self._parquet = pq.ParquetWriter(self.tmp, self._schema)
        try:
            table = pa.Table.from_pandas(frame, schema=self._schema, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            for column in frame.columns:
                if column not in LIST_COLUMNS and self._schema.field(column).type == pa.string():
                    frame[column] = [None if _is_missing(v) else str(v) for v in frame[column]]
            table = pa.Table.from_pandas(frame, schema=self._schema, preserve_index=False, safe=False)
        self._parquet.write_table(table)

    def _write_excel(self, frame: pd.DataFrame) -> None:
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        if self._rows == 0:
            self._sheet.append([str(c) for c in frame.columns])
        if self._rows + len(frame) >= EXCEL_MAX_ROWS:
            raise DataError(f"{self.path}: Excel holds at most {EXCEL_MAX_ROWS - 1:,} rows; write .csv or .parquet instead.")
        for row in frame.itertuples(index=False, name=None):
            cells = []
            for value in row:
                if _is_missing(value):
                    cells.append(None)
                elif isinstance(value, str):
                    value = ILLEGAL_CHARACTERS_RE.sub(" ", value)
                    if len(value) > EXCEL_MAX_CELL:
                        value = value[:EXCEL_MAX_CELL]
                        if not self.notes:
                            self.notes.append(f"{self.path}: cells over {EXCEL_MAX_CELL:,} characters were cut (an Excel limit).")
                    cells.append(value)
                elif isinstance(value, (list, tuple)):
                    cells.append(";".join(map(str, value)))
                else:
                    cells.append(value.item() if hasattr(value, "item") else value)
            self._sheet.append(cells)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if self._handle is not None:
                self._handle.close()
            if self._parquet is not None:
                self._parquet.close()
            if exc_type is None:
                if self.format == "xlsx":
                    if self._rows == 0 and self._sheet is not None:
                        self._sheet.append([])
                    self._book.save(self.tmp)
                elif self.format == "parquet" and self._parquet is None:
                    import pyarrow as pa
                    import pyarrow.parquet as pq

                    pq.write_table(pa.table({}), self.tmp)
                os.replace(self.tmp, self.path)
        finally:
            if self.tmp.exists():
                self.tmp.unlink()


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or value is pd.NA


def _json_value(value: Any) -> Any:
    if _is_missing(value):
        return None
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    return value
