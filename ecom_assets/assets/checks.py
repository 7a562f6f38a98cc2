"""Turning a frame of offending rows into an asset check result with a count and a sample."""

from typing import Any

import dagster as dg
import polars as pl

SAMPLE_ROWS = 5


def result_from_offenders(
    offenders: pl.DataFrame,
    what: str,
    check_name: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> dg.AssetCheckResult:
    """Passed when `offenders` is empty; otherwise the count and the first rows as markdown."""
    metadata = {"offending_rows": offenders.height, **(metadata or {})}
    if offenders.height:
        sample = offenders.head(SAMPLE_ROWS).with_columns(pl.all().cast(pl.String))
        metadata["sample"] = dg.MetadataValue.md(markdown_table(sample))
    description = f"{offenders.height} {what}" if offenders.height else f"no {what}"
    return dg.AssetCheckResult(
        check_name=check_name,
        passed=offenders.height == 0,
        metadata=metadata,
        description=description,
    )


def markdown_table(frame: pl.DataFrame) -> str:
    """A frame as a markdown table, for asset metadata."""
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = [
        "| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in frame.rows()
    ]
    return "\n".join([header, rule, *rows])
