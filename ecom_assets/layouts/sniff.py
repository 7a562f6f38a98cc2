"""Telling how an export is written from its own bytes: encoding, field delimiter.

Pure functions over a sample of the file; bronze uses them for a layout that says `auto`, and
`ecom layout suggest` to fill in a draft layout. Nothing here reads files or knows about Dagster.
"""

from __future__ import annotations

import csv
import io

import charset_normalizer

AUTO = "auto"
DELIMITERS = (",", ";", "\t", "|")
PREFERRED_ENCODINGS = ("cp1252", "latin_1")
"""Among the encodings the detector ranks equally (or that decode a sample to the same text), the
one named: Western spreadsheet exports are far more often Windows-1252 than the Central European
cp1250 or the DOS code pages the detector may rank first when only a few bytes are not ASCII."""


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
