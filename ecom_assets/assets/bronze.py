"""Bronze layer: every exported row as text, with where it came from."""

import tempfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import polars as pl
from pydantic import Field

from ecom_assets.assets.checks import result_from_offenders
from ecom_assets.layouts import Layout
from ecom_assets.resources import Lake, LandingZone, write_metadata
from ecom_assets.runs import WRITERS_POOL
from ecom_assets.transforms.bronze import (
    SOURCE_ENCODING,
    SOURCE_HASH,
    ExportFileError,
    combine_exports,
    content_hash,
    export_files,
    stage_export,
)

BRONZE_ORDERS = dg.AssetKey(["bronze", "orders"])


def _required_columns_missing(frame: pl.LazyFrame, layouts: Mapping[str, Layout]) -> pl.DataFrame:
    """(layout, column) pairs where rows of a layout lack one of its required columns."""
    columns = frame.collect_schema().names()
    present = frame.group_by("_layout").agg(
        pl.len().alias("_rows"),
        *(
            pl.col(c).null_count().alias(c)
            for c in sorted({c for la in layouts.values() for c in la.required_headers()})
            if c in columns
        ),
    )
    missing = []
    for row in present.collect(engine="streaming").iter_rows(named=True):
        layout = layouts[row["_layout"]]
        for column in sorted(layout.required_headers()):
            absent = row.get(column, row["_rows"])
            if absent:
                missing.append({"layout": layout.name, "column": column, "rows": absent})
    return pl.DataFrame(
        missing, schema={"layout": pl.String, "column": pl.String, "rows": pl.Int64}
    )


class LoadConfig(dg.Config):
    """How bronze and silver load: only what is new (default), or everything again."""

    full_rebuild: bool = Field(
        default=False,
        description="Re-read every export in the landing zone and rebuild bronze and silver "
        "from scratch instead of adding only files not ingested yet.",
    )


def _ingested_hashes(lake: Lake) -> set[str]:
    existing = lake.read(BRONZE_ORDERS)
    if existing is None or SOURCE_HASH not in existing.collect_schema().names():
        return set()
    return set(existing.select(pl.col(SOURCE_HASH).unique()).collect().to_series().to_list())


@dg.asset(
    key=BRONZE_ORDERS,
    group_name="bronze",
    pool=WRITERS_POOL,
    check_specs=[
        dg.AssetCheckSpec("no_unreadable_files", asset=BRONZE_ORDERS),
        dg.AssetCheckSpec("required_columns_present", asset=BRONZE_ORDERS),
    ],
)
def bronze_orders(
    context: dg.AssetExecutionContext, config: LoadConfig, landing_zone: LandingZone, lake: Lake
) -> Iterator[dg.Output[pl.LazyFrame | pl.DataFrame] | dg.AssetCheckResult]:
    """Every row of every export in the landing zone, as text, with source file, row and layout."""
    raw_dir = landing_zone.path()
    layouts = landing_zone.layouts()
    ingested_at = datetime.now(UTC)
    seen = set() if config.full_rebuild else _ingested_hashes(lake)
    errors, skipped = [], []
    with tempfile.TemporaryDirectory(prefix="ecom-bronze-") as scratch:
        staged: list[pl.LazyFrame] = []
        for path in export_files(raw_dir):
            name = path.relative_to(raw_dir).as_posix()
            digest = content_hash(path)
            if digest in seen:
                skipped.append(name)
                continue
            target = Path(scratch) / f"{len(staged)}.parquet"
            try:
                stage_export(path, name, layouts, ingested_at, target)
            except ExportFileError as error:
                context.log.error(f"Skipped unreadable export {error}")
                errors.append({"file": error.file, "problem": error.problem})
                continue
            staged.append(pl.scan_parquet(target).with_columns(pl.lit(digest).alias(SOURCE_HASH)))
            seen.add(digest)
        if skipped:
            context.log.info(f"{len(skipped)} export(s) already ingested, not read again")
        bronze = combine_exports(staged)
        per_file = (
            bronze.group_by("_source_file", "_layout", SOURCE_ENCODING)
            .len()
            .sort("_source_file")
            .collect()
        )
        files_read = dg.MetadataValue.md(
            "\n".join(
                f"- {file} ({layout}, {encoding or 'parquet'}): {rows} rows"
                for file, layout, encoding, rows in per_file.iter_rows()
            )
        )
        unreadable_list = dg.MetadataValue.md(
            "\n".join(f"- {e['file']}: {e['problem']}" for e in errors) or "none"
        )
        missing = _required_columns_missing(bronze, layouts)
        yield dg.Output(
            bronze if staged else bronze.collect(),  # an empty frame appends no commit
            metadata={
                **write_metadata("overwrite" if config.full_rebuild else "append"),
                "files": len(staged),
                "already_ingested_files": len(skipped),
                "unreadable_files": len(errors),
                "unreadable": unreadable_list,
                "raw_dir": str(raw_dir),
                "rows_per_file": files_read,
            },
        )
    unreadable = pl.DataFrame(errors, schema={"file": pl.String, "problem": pl.String})
    yield result_from_offenders(
        unreadable,
        "unreadable export files",
        "no_unreadable_files",
        metadata={
            "files_read": files_read,
            "unreadable": unreadable_list,
        },
    )
    yield result_from_offenders(missing, "missing required columns", "required_columns_present")
