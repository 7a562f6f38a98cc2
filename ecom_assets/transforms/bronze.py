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
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path

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


def _decode(data: bytes, layout: Layout, name: str) -> str:
    try:
        return data.decode(layout.encoding)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ExportFileError(
            name,
            f"byte {error.start} (line {line}) is not valid {layout.encoding}, the encoding of "
            f"layout '{layout.name}'; re-export as {layout.encoding} or add a layout for it",
        ) from error


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


def _check_not_truncated(text: str, width: int, layout: Layout, name: str) -> None:
    if text.endswith(("\n", "\r")):
        return
    last_line = text.rsplit("\n", 1)[-1]
    fields = next(csv.reader([last_line], delimiter=layout.delimiter), [])
    if len(fields) < width:
        line = text.count("\n") + 1
        raise ExportFileError(
            name,
            f"the file is truncated: its last line ({line}) ends after {len(fields)} of "
            f"{width} fields",
        )


def _read_csv(data: bytes, layout: Layout, header: list[str], name: str) -> pl.DataFrame:
    text = _decode(data, layout, name)
    _check_not_truncated(text, len(header), layout, name)
    utf8 = data if codecs.lookup(layout.encoding).name == "utf-8" else text.encode("utf-8")
    try:
        frame = pl.read_csv(
            utf8,
            separator=layout.delimiter,
            infer_schema=False,
            empty_string_is_null=False,
            raise_if_empty=True,
            new_columns=header,
        )
    except pl.exceptions.NoDataError as error:
        raise ExportFileError(name, "the file has a header but no rows") from error
    except pl.exceptions.PolarsError as error:
        first = str(error).strip().splitlines()[0]
        raise ExportFileError(name, f"not valid CSV for layout '{layout.name}': {first}") from error
    return frame


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


def _canonical_header_case(frame: pl.DataFrame, layout: Layout) -> pl.DataFrame:
    spelled = {c.casefold(): c for c in layout.source_columns.values()}
    renames = {c: spelled[c.casefold()] for c in frame.columns if c.casefold() in spelled}
    return frame.rename({old: new for old, new in renames.items() if old != new})


def read_export(
    path: Path, name: str, layouts: Mapping[str, Layout], ingested_at: datetime
) -> pl.DataFrame:
    """One export file as bronze rows: its own columns as text plus the lineage columns.

    `name` is how the file is named in lineage and errors (its path under the landing folder).
    Raises ExportFileError for an unsupported, empty, truncated, undecodable or unknown file.
    """
    if not name.endswith(SUPPORTED_SUFFIXES):
        raise ExportFileError(name, f"unsupported file type; expected one of {SUPPORTED_SUFFIXES}")
    if name.endswith(".parquet"):
        frame, layout = _read_parquet(path, layouts, name)
    else:
        data = _file_bytes(path, name)
        header, layout = _header_of(data, layouts, name)
        frame = _read_csv(data, layout, header, name)
    if frame.height == 0:
        raise ExportFileError(name, "the file has a header but no rows")
    return _canonical_header_case(frame, layout).with_columns(
        pl.lit(name).alias("_source_file"),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("_source_row"),
        pl.lit(layout.name).alias("_layout"),
        pl.lit(ingested_at).dt.replace_time_zone("UTC").alias("_ingested_at"),
    )


def combine_exports(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Bronze orders from the frames of several files: the union of their columns, lineage last
    (the lineage columns, then the file's content hash when the frames carry it)."""
    if not frames:
        return pl.DataFrame(schema={**LINEAGE_SCHEMA, SOURCE_HASH: pl.String()})
    combined = pl.concat(frames, how="diagonal")
    last = [*LINEAGE_COLUMNS, *([SOURCE_HASH] if SOURCE_HASH in combined.columns else [])]
    data_columns = [c for c in combined.columns if c not in last]
    return combined.select(*data_columns, *last)
