"""Reading order exports into bronze rows: every field as text, plus lineage.

`read_export` takes one file and the known layouts and returns its rows as strings with
`_source_file`, `_source_row`, `_layout` and `_ingested_at`, or raises `ExportFileError` naming the
file and what is wrong with it. Nothing here knows about Dagster.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import polars as pl

from ecom_assets.layouts import Layout
from ecom_assets.layouts.sniff import AUTO, detect_encoding, sniff_delimiter

SUPPORTED_SUFFIXES = (".csv", ".csv.gz", ".parquet")
LINEAGE_SCHEMA: dict[str, pl.DataType] = {
    "_source_file": pl.String(),
    "_source_row": pl.Int64(),
    "_layout": pl.String(),
    "_ingested_at": pl.Datetime("us", "UTC"),
}
LINEAGE_COLUMNS = tuple(LINEAGE_SCHEMA)
SOURCE_HASH = "_source_hash"
SOURCE_ENCODING = "_source_encoding"
BRONZE_ONLY_COLUMNS = (SOURCE_HASH, SOURCE_ENCODING)
_SNIFF_BYTES = 64 * 1024
CHUNK_BYTES = 64 * 1024 * 1024


class ExportFileError(ValueError):
    """An export file that cannot be ingested; the message names the file and the problem."""

    def __init__(self, file: str, problem: str) -> None:
        super().__init__(f"{file}: {problem}")
        self.file = file
        self.problem = problem


def is_export_file(path: Path) -> bool:
    """Whether a file in the landing folder is meant as an export (hidden files are skipped)."""
    return path.is_file() and not path.name.startswith(".")


def export_files(raw_dir: Path) -> list[Path]:
    """Every candidate export under `raw_dir`, in a stable order."""
    if not raw_dir.is_dir():
        return []
    return sorted(p for p in raw_dir.rglob("*") if is_export_file(p))


def content_hash(path: Path) -> str:
    """The SHA-256 of a file's bytes: the key that says whether an export was already ingested."""
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _normalise_header(name: str) -> str:
    return name.replace("\ufeff", "").strip()


def match_layout(header: Iterable[str], layouts: Mapping[str, Layout]) -> Layout | None:
    """The layout whose required columns all appear in `header`, the most specific one first."""
    present = {_normalise_header(h).casefold() for h in header}
    candidates = [
        layout
        for layout in layouts.values()
        if {c.casefold() for c in layout.required_headers()} <= present
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda layout: (len(layout.source_columns), layout.name))


def _nearest_layout_hint(header: list[str], layouts: Mapping[str, Layout]) -> str:
    present = {h.casefold() for h in header}

    def missing(layout: Layout) -> list[str]:
        return sorted(c for c in layout.required_headers() if c.casefold() not in present)

    nearest = min(layouts.values(), key=lambda layout: (len(missing(layout)), layout.name))
    return f"nearest layout '{nearest.name}' lacks {missing(nearest)}"


def _file_bytes(path: Path, name: str) -> bytes:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as error:
            raise ExportFileError(name, f"not a readable gzip file ({error})") from error
    return data


@dataclass(frozen=True)
class ExportFormat:
    """How one CSV file is read: its layout, and the encoding and delimiter it is written in
    (the layout's own, or sniffed from the file where the layout says `auto`)."""

    layout: Layout
    encoding: str
    delimiter: str

    @property
    def is_utf8(self) -> bool:
        return codecs.lookup(self.encoding).name in ("utf-8", "utf-8-sig")


def _same_codec(a: str, b: str) -> bool:
    return codecs.lookup(a).name == codecs.lookup(b).name


def _sniffed(head: bytes, name: str) -> tuple[str, str | None]:
    """(encoding, delimiter) sniffed from the file's first bytes (delimiter None if undecided)."""
    try:
        encoding = detect_encoding(head)
    except ValueError as error:
        raise ExportFileError(name, str(error)) from error
    try:
        delimiter: str | None = sniff_delimiter(head.decode(encoding, "replace"))
    except ValueError:
        delimiter = None
    return encoding, delimiter


def _header_of(
    head: bytes, layouts: Mapping[str, Layout], name: str
) -> tuple[list[str], ExportFormat]:
    """The header of a CSV file and how to read it: the first (encoding, delimiter) under which
    the header matches a layout that allows them (its own, or the sniffed ones for `auto`)."""
    if not head.strip():
        raise ExportFileError(name, "the file is empty")
    if b"\x00" in head:
        raise ExportFileError(name, "not a CSV text file (it contains binary data)")
    encoding, delimiter = _sniffed(head, name)
    first_line = head.splitlines()[0]
    fixed = {(la.encoding, la.delimiter) for la in layouts.values()}
    encodings = [encoding, *sorted({e for e, _ in fixed if e != AUTO} - {encoding})]
    delimiters = [d for d in dict.fromkeys([delimiter, *sorted(d for _, d in fixed)]) if d]
    headers: dict[str, list[str]] = {}
    for file_encoding in encodings:
        try:
            text = first_line.decode(file_encoding)
        except UnicodeDecodeError:
            continue
        for file_delimiter in (d for d in delimiters if d != AUTO):
            header = [
                _normalise_header(h) for h in next(csv.reader([text], delimiter=file_delimiter))
            ]
            headers.setdefault(file_delimiter, header)
            allowed = {
                key: la
                for key, la in layouts.items()
                if (la.encoding == AUTO and file_encoding == encoding)
                or (la.encoding != AUTO and _same_codec(la.encoding, file_encoding))
                if (la.delimiter == AUTO and file_delimiter == delimiter)
                or la.delimiter == file_delimiter
            }
            layout = match_layout(header, allowed)
            if layout is not None:
                return header, ExportFormat(layout, file_encoding, file_delimiter)
    if not headers:
        raise ExportFileError(name, "the header line is not text in any known layout's encoding")
    header = headers.get(delimiter or ",", next(iter(headers.values())))
    read_as = f"read as {encoding}" + (f" with delimiter {delimiter!r}" if delimiter else "")
    raise ExportFileError(
        name,
        f"header [{', '.join(header)}] ({read_as}) matches no known layout "
        f"({_nearest_layout_hint(header, layouts)}); known layouts: {sorted(layouts)}; "
        f"run `ecom layout suggest {name}` to draft a layout for it",
    )


def _check_not_truncated(
    last_line: str, line_number: int, width: int, fmt: ExportFormat, name: str
) -> None:
    """A file whose last line has no line end and fewer fields than the header was cut short."""
    fields = next(csv.reader([last_line], delimiter=fmt.delimiter), [])
    if len(fields) < width:
        raise ExportFileError(
            name,
            f"the file is truncated: its last line ({line_number}) ends after {len(fields)} of "
            f"{width} fields",
        )


def _text_checks(file: BinaryIO, fmt: ExportFormat, header: list[str], name: str) -> ExportFormat:
    """Decode errors (with their byte and line), a last line cut short, and no rows; returns the
    format to read the file with.

    The file is read in chunks that end on a line end, so a file of any size is checked in
    little memory (in UTF-8 and single-byte encodings no character contains a newline byte).
    When the layout's encoding is `auto` and bytes past the sniffed sample are not valid UTF-8,
    the encoding is detected again from the offending chunk and the whole file checked in it."""
    lines_before, offset, last = 0, 0, b""
    has_rows = False
    while chunk := file.read(CHUNK_BYTES) + file.readline():
        try:
            chunk.decode(fmt.encoding)
        except UnicodeDecodeError as error:
            redetected = detect_encoding(chunk) if fmt.layout.encoding == AUTO else fmt.encoding
            if not _same_codec(redetected, fmt.encoding):
                file.seek(0)
                retry = ExportFormat(fmt.layout, redetected, fmt.delimiter)
                return _text_checks(file, retry, header, name)
            line = lines_before + chunk.count(b"\n", 0, error.start) + 1
            source = "detected" if fmt.layout.encoding == AUTO else f"of layout '{fmt.layout.name}'"
            raise ExportFileError(
                name,
                f"byte {offset + error.start} (line {line}) is not valid {fmt.encoding}, the "
                f"encoding {source}; re-export as UTF-8 or set the layout's encoding",
            ) from error
        body = chunk if offset else chunk.split(b"\n", 1)[-1] if b"\n" in chunk else b""
        has_rows = has_rows or bool(body.strip())
        lines_before += chunk.count(b"\n")
        offset += len(chunk)
        last = chunk
    if not last.endswith((b"\n", b"\r")):
        last_line = last.rsplit(b"\n", 1)[-1].decode(fmt.encoding)
        _check_not_truncated(last_line, lines_before + 1, len(header), fmt, name)
    if not has_rows:
        raise ExportFileError(name, "the file has a header but no rows")
    return fmt


def _csv_error(error: pl.exceptions.PolarsError, layout: Layout, name: str) -> ExportFileError:
    first = str(error).strip().splitlines()[0]
    return ExportFileError(name, f"not valid CSV for layout '{layout.name}': {first}")


def _read_csv(data: bytes, fmt: ExportFormat, header: list[str], name: str) -> pl.LazyFrame:
    fmt = _text_checks(io.BytesIO(data), fmt, header, name)
    utf8 = data if fmt.is_utf8 else data.decode(fmt.encoding).encode("utf-8")
    try:
        frame = pl.read_csv(
            utf8,
            separator=fmt.delimiter,
            infer_schema=False,
            empty_string_is_null=False,
            new_columns=header,
        )
    except pl.exceptions.PolarsError as error:
        raise _csv_error(error, fmt.layout, name) from error
    return frame.lazy().with_columns(pl.lit(fmt.encoding).alias(SOURCE_ENCODING))


def _scan_csv(path: Path, fmt: ExportFormat, header: list[str], name: str) -> pl.LazyFrame:
    with path.open("rb") as file:
        fmt = _text_checks(file, fmt, header, name)
    if not fmt.is_utf8:
        return _read_csv(path.read_bytes(), fmt, header, name)
    frame = pl.scan_csv(
        path,
        separator=fmt.delimiter,
        infer_schema=False,
        empty_string_is_null=False,
        new_columns=header,
    )
    return frame.with_columns(pl.lit(fmt.encoding).alias(SOURCE_ENCODING))


def _read_parquet(
    path: Path, layouts: Mapping[str, Layout], name: str
) -> tuple[pl.DataFrame, Layout]:
    try:
        frame = pl.read_parquet(path)
    except Exception as error:
        raise ExportFileError(name, f"not a readable Parquet file ({error})") from error
    layout = match_layout(frame.columns, layouts)
    if layout is None:
        hint = _nearest_layout_hint(frame.columns, layouts)
        raise ExportFileError(name, f"columns {frame.columns} match no known layout ({hint})")
    return frame.select(pl.all().cast(pl.String)), layout


def _canonical_header_case(frame: pl.LazyFrame, layout: Layout) -> pl.LazyFrame:
    spelled = {c.casefold(): c for c in layout.source_columns.values()}
    columns = frame.collect_schema().names()
    renames = {c: spelled[c.casefold()] for c in columns if c.casefold() in spelled}
    return frame.rename({old: new for old, new in renames.items() if old != new})


def scan_export(
    path: Path, name: str, layouts: Mapping[str, Layout], ingested_at: datetime
) -> tuple[pl.LazyFrame, Layout]:
    """One export file as lazy bronze rows, and its layout (see `read_export`).

    A UTF-8 CSV file is checked in chunks and scanned, never read whole into memory; gzip,
    other encodings and Parquet files are read eagerly. Every row carries the encoding the file
    was read in (`_source_encoding`; null for Parquet). Raises ExportFileError for what the
    checks find; parsing errors surface when the rows are collected or sunk (`stage_export`).
    """
    if not name.endswith(SUPPORTED_SUFFIXES):
        raise ExportFileError(name, f"unsupported file type; expected one of {SUPPORTED_SUFFIXES}")
    if name.endswith(".parquet"):
        eager, layout = _read_parquet(path, layouts, name)
        if eager.height == 0:
            raise ExportFileError(name, "the file has a header but no rows")
        frame = eager.lazy().with_columns(pl.lit(None, pl.String).alias(SOURCE_ENCODING))
    elif name.endswith(".gz"):
        data = _file_bytes(path, name)
        header, fmt = _header_of(data[:_SNIFF_BYTES], layouts, name)
        layout = fmt.layout
        frame = _read_csv(data, fmt, header, name)
    else:
        with path.open("rb") as file:
            head = file.read(_SNIFF_BYTES)
        header, fmt = _header_of(head, layouts, name)
        layout = fmt.layout
        frame = _scan_csv(path, fmt, header, name)
    frame = _canonical_header_case(frame, layout)
    data_columns = [c for c in frame.collect_schema().names() if c != SOURCE_ENCODING]
    rows = (
        frame.with_row_index("_source_row", offset=1)
        .with_columns(
            pl.lit(name).alias("_source_file"),
            pl.col("_source_row").cast(pl.Int64),
            pl.lit(layout.name).alias("_layout"),
            pl.lit(ingested_at).dt.replace_time_zone("UTC").alias("_ingested_at"),
        )
        .select(*data_columns, *LINEAGE_COLUMNS, SOURCE_ENCODING)
    )
    return rows, layout


def read_export(
    path: Path, name: str, layouts: Mapping[str, Layout], ingested_at: datetime
) -> pl.DataFrame:
    """One export file as bronze rows: its own columns as text plus the lineage columns.

    `name` is how the file is named in lineage and errors (its path under the landing folder).
    Raises ExportFileError for an unsupported, empty, truncated, undecodable or unknown file.
    """
    frame, layout = scan_export(path, name, layouts, ingested_at)
    try:
        return frame.collect()
    except pl.exceptions.PolarsError as error:
        raise _csv_error(error, layout, name) from error


def stage_export(
    path: Path, name: str, layouts: Mapping[str, Layout], ingested_at: datetime, target: Path
) -> None:
    """Stream one export's bronze rows into a Parquet file at `target`, in little memory."""
    frame, layout = scan_export(path, name, layouts, ingested_at)
    try:
        frame.sink_parquet(target, compression="lz4", engine="streaming")
    except pl.exceptions.PolarsError as error:
        raise _csv_error(error, layout, name) from error


def combine_exports(frames: Sequence[pl.DataFrame | pl.LazyFrame]) -> pl.LazyFrame:
    """Bronze orders from the rows of several files: the union of their columns, lineage last
    (the lineage columns, then the file's encoding and content hash when the frames carry
    them)."""
    if not frames:
        return pl.LazyFrame(
            schema={**LINEAGE_SCHEMA, SOURCE_ENCODING: pl.String(), SOURCE_HASH: pl.String()}
        )
    combined = pl.concat([frame.lazy() for frame in frames], how="diagonal")
    columns = combined.collect_schema().names()
    last = [*LINEAGE_COLUMNS, *(c for c in BRONZE_ONLY_COLUMNS if c in columns)]
    return combined.select(*(c for c in columns if c not in last), *last)
