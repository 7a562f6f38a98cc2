"""Telling how an export is written from its own bytes: encoding, field delimiter, decimal mark,
date formats.

Pure functions over a sample of the file; bronze uses them for a layout that says `auto`, and
`ecom layout suggest` to fill in a draft layout. Nothing here reads files or knows about Dagster.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import charset_normalizer

AUTO = "auto"
DELIMITERS = (",", ";", "\t", "|")
PREFERRED_ENCODINGS = ("cp1252", "latin_1")
"""Among encodings that decode a sample to the same text, or that the detector rates equally
(same mess and language coherence, as "¾" in cp1252 against "ľ" in cp1250), the one named:
Western spreadsheet exports are far more often Windows-1252 than the Central European cp1250
the detector may rank first when only no-break spaces and common accents differ from ASCII."""


def detect_encoding(sample: bytes) -> str:
    """The encoding of a file's bytes: `utf-8-sig` or `utf-8` when `sample` is valid UTF-8 (with
    or without a byte-order mark), otherwise charset-normalizer's best guess (a Python codec name).

    `sample` may end inside a multi-byte character (it is a prefix of the file); an incomplete
    last character does not make it invalid. Raises ValueError when no encoding fits.
    """
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as error:
        if error.start >= len(sample) - 3 and error.reason == "unexpected end of data":
            return "utf-8"
    results = charset_normalizer.from_bytes(sample)
    best = results.best()
    if best is None:
        raise ValueError("the bytes are not text in any encoding the detector knows")
    tied = [m for m in results if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
    for preferred in PREFERRED_ENCODINGS:
        if any(preferred in match.could_be_from_charset for match in tied):
            return preferred
    return str(best.encoding)


def sniff_delimiter(text: str) -> str:
    """The field delimiter of CSV text (its header and first lines): the one of `DELIMITERS` that
    splits the lines into the same number of fields, more than one, most often.

    Quoted fields are honoured, so a comma inside a quoted name does not count. Raises ValueError
    when no delimiter splits the header.
    """
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    if lines and not text.endswith(("\n", "\r")) and len(lines) > 1:
        lines = lines[:-1]

    def fit(delimiter: str) -> tuple[int, int]:
        widths = [
            len(row) for row in csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter)
        ]
        if not widths or widths[0] < 2:
            return (0, 0)
        return (sum(width == widths[0] for width in widths), widths[0])

    best = max(DELIMITERS, key=fit)
    if fit(best)[0] == 0:
        raise ValueError(
            f"the header splits into one field with each of {[*DELIMITERS]}: not delimited text"
        )
    return best


DECIMALS = (".", ",")
_CURRENCY = re.compile(r"^[A-Z]{3}\s*|\s*[A-Z]{3}$|[\s\u00a0\u202f'€$£¥₹]")
_GROUPED_DIGITS = re.compile(r"[+-]?(?:\d+[.,])*\d+")


@dataclass(frozen=True)
class DecimalMark:
    """What money-like values say about their decimal mark.

    `decimal` is "." or ",", or None when the values cannot tell (`reason` says why);
    `thousands` is the grouping mark seen ("1.234,50" groups with "."), or "" when none was seen.
    """

    decimal: str | None
    thousands: str
    reason: str


def _grouped(integer: str, mark: str) -> bool:
    return re.fullmatch(rf"\d{{1,3}}(?:{re.escape(mark)}\d{{3}})+", integer) is not None


def _bare_number(value: str) -> str | None:
    text = _CURRENCY.sub("", value.strip())
    return text if _GROUPED_DIGITS.fullmatch(text) else None


def read_number(value: str, decimal: str = ".", thousands: str = "") -> float | None:
    """A money-like text value ("1.234,50 €", "EUR 7,5", "-3.50") as a number, read with the
    given decimal mark ("." or ",") and thousands mark ("" for none; the mark that is not the
    decimal one is always taken as grouping); None when the value is not a number."""
    text = _bare_number(value)
    if text is None:
        return None
    other = "," if decimal == "." else "."
    for grouping in {thousands, other} - {""}:
        text = text.replace(grouping, "")
    try:
        return float(text.replace(decimal, "."))
    except ValueError:
        return None


def _marks_of(value: str) -> tuple[str | None, str]:
    """(decimal mark, thousands mark) one number shows; None/"" for what it does not show."""
    text = _bare_number(value)
    if text is None:
        return None, ""
    digits = text.lstrip("+-")
    marks = [c for c in digits if c in DECIMALS]
    if not marks:
        return None, ""
    last = marks[-1]
    other = "," if last == "." else "."
    integer, _, fraction = digits.rpartition(last)
    if other in marks:
        if last in integer or not _grouped(integer, other):
            return None, ""
        return last, other
    if len(marks) > 1:
        return (other, last) if _grouped(digits, last) else (None, "")
    if len(fraction) != 3 or len(integer) > 3 or integer == "0":
        return last, ""
    return None, ""


def sniff_decimal(values: Iterable[str]) -> DecimalMark:
    """The decimal mark of money-like text values ("3,50" and "1.234,50" say ","; "3.50" and
    "1,234.50" say "."). Values that are not numbers, whole numbers and values such as "1,234"
    (a thousands group or three decimals) tell nothing; when nothing tells, or values disagree,
    `decimal` is None and `reason` says which."""
    decimals: Counter[str] = Counter()
    thousands: Counter[str] = Counter()
    for value in values:
        decimal, grouping = _marks_of(value)
        if decimal:
            decimals[decimal] += 1
        if grouping:
            thousands[grouping] += 1
    if not decimals:
        return DecimalMark(None, "", "no value shows a decimal mark (whole numbers or 1,234-like)")
    if len(decimals) > 1:
        counts = ", ".join(f'{n} with "{mark}"' for mark, n in decimals.most_common())
        return DecimalMark(None, "", f"values disagree on the decimal mark ({counts})")
    decimal = next(iter(decimals))
    grouping = next((mark for mark in thousands if mark != decimal), "")
    example = "1.234,50" if decimal == "," else "1,234.50"
    return DecimalMark(decimal, grouping, f"{decimals[decimal]} value(s) read like {example}")


DAY_FIRST_DATES = ("%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%d/%m/%y", "%d.%m.%y", "%d-%m-%y")
MONTH_FIRST_DATES = ("%m/%d/%Y", "%m-%d-%Y", "%m/%d/%y")
OTHER_DATES = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%d-%b-%Y", "%d %b %Y")
TIME_PARTS = ("", " %H:%M", " %H:%M:%S", " %H:%M:%S.%f", " %I:%M %p", " %I:%M:%S %p")
ISO_T = r"^(\d{4}-\d\d-\d\d)T"
"""An ISO date followed by "T" and its time; the date is group 1 (silver uses it too)."""
TRAILING_ZONE = r"(\d:\d\d(?::\d\d(?:\.\d+)?)?)\s*(?:Z|UTC|GMT|[+-]\d\d:?\d\d)$"
"""A time-zone offset after a time; the time is group 1 (silver uses it too)."""
_DATE_LIKE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}|\d{1,2}[- ][A-Za-z]{3}[- ]\d{2,4}")


def without_zone(value: str) -> str:
    """A timestamp as the layout's `date_formats` are matched against it: an ISO "T" becomes a
    space and a trailing time-zone offset (+0500, +05:00, Z) after a time is dropped, so
    "2026-08-04T05:24:22Z" reads as "2026-08-04 05:24:22" (the local date and time)."""
    value = re.sub(ISO_T, r"\1 ", value.strip(), count=1)
    return re.sub(TRAILING_ZONE, r"\1", value)


def looks_like_date(value: str) -> bool:
    """Whether a text value starts like a calendar date (digits and separators, or 4-Jan-2023)."""
    return _DATE_LIKE.match(value.strip()) is not None


@dataclass(frozen=True)
class DateFormats:
    """The strftime formats that read a sample of date values.

    `formats` holds, for each way of writing the date that reads every value, the time variants
    the values use, most used first (empty when no known format reads them all). `ambiguous` is
    true when both a day-first and a month-first format read every value (no day above 12): the
    sample cannot tell the order, and `formats` lists day-first formats first. `unparsed` holds a
    few values that no format read.
    """

    formats: tuple[str, ...]
    ambiguous: bool
    unparsed: tuple[str, ...] = ()


def _parses(value: str, layout: str) -> bool:
    try:
        datetime.strptime(value, layout)
    except ValueError:
        return False
    return True


def _time_variants(values: list[str], date_part: str) -> Counter[str] | None:
    """How many values each time variant of `date_part` reads, or None when one value fails."""
    used: Counter[str] = Counter()
    for value in values:
        variant = next((date_part + t for t in TIME_PARTS if _parses(value, date_part + t)), None)
        if variant is None:
            return None
        used[variant] += 1
    return used


def infer_date_formats(values: Iterable[str], limit: int = 500) -> DateFormats:
    """The formats (see `DateFormats`) that read every one of up to `limit` distinct non-blank
    `values`, after `without_zone`. Unpadded days, months and hours ("2/4/2023 8:05") are read
    like padded ones. A day above 12 in the first or second place settles the day order."""
    distinct = list(dict.fromkeys(without_zone(v) for v in values if v and v.strip()))[:limit]
    if not distinct:
        return DateFormats((), False)
    fitting: dict[str, Counter[str]] = {}
    for date_part in (*OTHER_DATES, *DAY_FIRST_DATES, *MONTH_FIRST_DATES):
        used = _time_variants(distinct, date_part)
        if used is not None:
            fitting[date_part] = used
    if not fitting:
        best = max(
            (*OTHER_DATES, *DAY_FIRST_DATES, *MONTH_FIRST_DATES),
            key=lambda part: sum(_time_variants([v], part) is not None for v in distinct),
        )
        read = [v for v in distinct if _time_variants([v], best) is not None]
        unparsed = tuple(v for v in distinct if v not in read)[:5]
        if not read:
            return DateFormats((), False, unparsed)
        formats = tuple(f for f, _ in (_time_variants(read, best) or Counter()).most_common())
        return DateFormats(formats, False, unparsed)
    ambiguous = any(p in fitting for p in DAY_FIRST_DATES) and any(
        p in fitting for p in MONTH_FIRST_DATES
    )
    formats = tuple(f for used in fitting.values() for f, _ in used.most_common())
    return DateFormats(formats, ambiguous)
