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
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import polars as pl

from ecom_assets.layouts import Layout

SUPPORTED_SUFFIXES = (".csv", ".csv.gz", ".parquet")
LINEAGE_SCHEMA: dict[str, pl.DataType] = {
    "_source_file": pl.String(),
    "_source_row": pl.Int64(),
    "_layout": pl.String(),
    "_ingested_at": pl.Datetime("us", "UTC"),
}
LINEAGE_COLUMNS = tuple(LINEAGE_SCHEMA)
SOURCE_HASH = "_source_hash"
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


def _header_of(data: bytes, layouts: Mapping[str, Layout], name: str) -> tuple[list[str], Layout]:
    head = data[:_SNIFF_BYTES]
    if not head.strip():
        raise ExportFileError(name, "the file is empty")
    if b"\x00" in head:
        raise ExportFileError(name, "not a CSV text file (it contains binary data)")
    first_line = head.splitlines()[0]
    tried: list[str] = []
    for delimiter, encoding in sorted({(la.delimiter, la.encoding) for la in layouts.values()}):
        try:
            text = first_line.decode(encoding)
        except UnicodeDecodeError:
            continue
        header = [_normalise_header(h) for h in next(csv.reader([text], delimiter=delimiter))]
        tried.append(", ".join(header))
        layout = match_layout(header, layouts)
        if layout is not None and layout.delimiter == delimiter:
            return header, layout
    if not tried:
        raise ExportFileError(name, "the header line is not text in any known layout's encoding")
    header = next(csv.reader([first_line.decode("utf-8", "replace")]))
    raise ExportFileError(
        name,
        f"header [{tried[0]}] matches no known layout ({_nearest_layout_hint(header, layouts)}); "
        f"known layouts: {sorted(layouts)}",
    )


def _check_not_truncated(
    last_line: str, line_number: int, width: int, layout: Layout, name: str
) -> None:
    """A file whose last line has no line end and fewer fields than the header was cut short."""
    fields = next(csv.reader([last_line], delimiter=layout.delimiter), [])
    if len(fields) < width:
        raise ExportFileError(
            name,
            f"the file is truncated: its last line ({line_number}) ends after {len(fields)} of "
            f"{width} fields",
        )


def _text_checks(file: BinaryIO, layout: Layout, header: list[str], name: str) -> None:
    """Decode errors (with their byte and line), a last line cut short, and no rows.

    The file is read in chunks that end on a line end, so a file of any size is checked in
    little memory (in the layouts' encodings, UTF-8 and single-byte ones, no character contains
    a newline byte)."""
    lines_before, offset, last = 0, 0, b""
    has_rows = False
    while chunk := file.read(CHUNK_BYTES) + file.readline():
        try:
            chunk.decode(layout.encoding)
        except UnicodeDecodeError as error:
            line = lines_before + chunk.count(b"\n", 0, error.start) + 1
            raise ExportFileError(
                name,
                f"byte {offset + error.start} (line {line}) is not valid {layout.encoding}, the "
                f"encoding of layout '{layout.name}'; re-export as {layout.encoding} or add a "
                "layout for it",
            ) from error
        body = chunk if offset else chunk.split(b"\n", 1)[-1] if b"\n" in chunk else b""
        has_rows = has_rows or bool(body.strip())
        lines_before += chunk.count(b"\n")
        offset += len(chunk)
        last = chunk
    if not last.endswith((b"\n", b"\r")):
        last_line = last.rsplit(b"\n", 1)[-1].decode(layout.encoding)
        _check_not_truncated(last_line, lines_before + 1, len(header), layout, name)
    if not has_rows:
        raise ExportFileError(name, "the file has a header but no rows")


def _csv_error(error: pl.exceptions.PolarsError, layout: Layout, name: str) -> ExportFileError:
    first = str(error).strip().splitlines()[0]
    return ExportFileError(name, f"not valid CSV for layout '{layout.name}': {first}")


def _read_csv(data: bytes, layout: Layout, header: list[str], name: str) -> pl.LazyFrame:
    _text_checks(io.BytesIO(data), layout, header, name)
    utf8 = (
        data
        if codecs.lookup(layout.encoding).name == "utf-8"
        else data.decode(layout.encoding).encode("utf-8")
    )
    try:
        frame = pl.read_csv(
            utf8,
            separator=layout.delimiter,
            infer_schema=False,
            empty_string_is_null=False,
            new_columns=header,
        )
    except pl.exceptions.PolarsError as error:
        raise _csv_error(error, layout, name) from error
    return frame.lazy()


def _scan_csv(path: Path, layout: Layout, header: list[str], name: str) -> pl.LazyFrame:
    with path.open("rb") as file:
        _text_checks(file, layout, header, name)
    return pl.scan_csv(
        path,
        separator=layout.delimiter,
        infer_schema=False,
        empty_string_is_null=False,
        new_columns=header,
    )


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
    other encodings and Parquet files are read eagerly. Raises ExportFileError for what the
    checks find; parsing errors surface when the rows are collected or sunk (`stage_export`).
    """
    if not name.endswith(SUPPORTED_SUFFIXES):
        raise ExportFileError(name, f"unsupported file type; expected one of {SUPPORTED_SUFFIXES}")
    if name.endswith(".parquet"):
        eager, layout = _read_parquet(path, layouts, name)
        if eager.height == 0:
            raise ExportFileError(name, "the file has a header but no rows")
        frame = eager.lazy()
    elif name.endswith(".gz"):
        data = _file_bytes(path, name)
        header, layout = _header_of(data, layouts, name)
        frame = _read_csv(data, layout, header, name)
    else:
        with path.open("rb") as file:
            head = file.read(_SNIFF_BYTES)
        header, layout = _header_of(head, layouts, name)
        frame = (
            _scan_csv(path, layout, header, name)
            if codecs.lookup(layout.encoding).name == "utf-8"
            else _read_csv(_file_bytes(path, name), layout, header, name)
        )
    frame = _canonical_header_case(frame, layout)
    data_columns = frame.collect_schema().names()
    rows = (
        frame.with_row_index("_source_row", offset=1)
        .with_columns(
            pl.lit(name).alias("_source_file"),
            pl.col("_source_row").cast(pl.Int64),
            pl.lit(layout.name).alias("_layout"),
            pl.lit(ingested_at).dt.replace_time_zone("UTC").alias("_ingested_at"),
        )
        .select(*data_columns, *LINEAGE_COLUMNS)
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
    (the lineage columns, then the file's content hash when the frames carry it)."""
    if not frames:
        return pl.LazyFrame(schema={**LINEAGE_SCHEMA, SOURCE_HASH: pl.String()})
    combined = pl.concat([frame.lazy() for frame in frames], how="diagonal")
    columns = combined.collect_schema().names()
    last = [*LINEAGE_COLUMNS, *([SOURCE_HASH] if SOURCE_HASH in columns else [])]
    return combined.select(*(c for c in columns if c not in last), *last)
