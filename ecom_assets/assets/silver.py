"""Silver layer: clean canonical order lines and every rejected row with its reason."""

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from ecom_assets.assets.bronze import BRONZE_ORDERS, LoadConfig
from ecom_assets.assets.checks import result_from_offenders
from ecom_assets.resources import Lake, LandingZone, write_metadata
from ecom_assets.runs import WRITERS_POOL
from ecom_assets.transforms import quality
from ecom_assets.transforms.silver import annotate_orders, split_orders, unplaced_bronze

SILVER_ORDERS = dg.AssetKey(["silver", "orders"])
SILVER_REJECTED = dg.AssetKey(["silver", "rejected_orders"])


def _silver_to_extend(lake: Lake, bronze: pl.LazyFrame) -> tuple[pl.LazyFrame, pl.LazyFrame] | None:
    """(silver orders as loaded, the bronze rows it has not placed yet), or None when silver
    must be rebuilt: it is missing, or bronze was rebuilt under it (see `unplaced_bronze`)."""
    orders, rejected = lake.read(SILVER_ORDERS), lake.read(SILVER_REJECTED)
    if orders is None or rejected is None:
        return None
    new_rows = unplaced_bronze(bronze, orders, rejected)
    return None if new_rows is None else (orders, new_rows)


@dg.multi_asset(
    outs={
        "orders": dg.AssetOut(
            key=SILVER_ORDERS,
            description="Clean order lines in the canonical schema, one row per line_id.",
        ),
        "rejected_orders": dg.AssetOut(
            key=SILVER_REJECTED,
            description="Every bronze row that is not a clean line: reason, field, raw values.",
        ),
    },
    ins={"bronze": dg.AssetIn(key=BRONZE_ORDERS)},
    group_name="silver",
    pool=WRITERS_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            "has_clean_lines",
            asset=SILVER_ORDERS,
            blocking=True,
            description="Silver holds at least one clean order line; otherwise the run stops "
            "here and says why (files skipped, rows rejected by reason).",
        )
    ],
)
def silver_orders(
    context: dg.AssetExecutionContext,
    config: LoadConfig,
    bronze: pl.LazyFrame,
    landing_zone: LandingZone,
    lake: Lake,
) -> Iterator[dg.Output[Any] | dg.AssetCheckResult]:
    """Typed, validated, de-duplicated order lines, and the rejected rows with their reasons."""
    loaded = None if config.full_rebuild else _silver_to_extend(lake, bronze)
    with tempfile.TemporaryDirectory(prefix="ecom-silver-") as scratch:
        staged = Path(scratch) / "parsed.parquet"

        def stage(parsed: pl.LazyFrame) -> pl.LazyFrame:
            parsed.sink_parquet(staged, compression="lz4", engine="streaming")
            return pl.scan_parquet(staged)

        if loaded is None:
            context.log.info("Rebuilding silver from every bronze row")
            annotated = annotate_orders(bronze, landing_zone.layouts(), stage=stage)
            orders_write, rejected_write = write_metadata("overwrite"), write_metadata("overwrite")
        else:
            silver, new_rows = loaded
            annotated = annotate_orders(new_rows, landing_zone.layouts(), silver, stage)
            orders_write, rejected_write = (
                write_metadata("merge", "line_id"),
                write_metadata("append"),
            )
        orders, rejected_rows = split_orders(annotated)
        rejected = rejected_rows.collect(engine="streaming")
        reasons = rejected.group_by("reason").len().sort("len", descending=True)
        per_file = rejected.group_by("_source_file", "reason").len().sort("_source_file", "reason")
        yield dg.Output(orders, output_name="orders", metadata=orders_write)
        yield dg.Output(
            rejected,
            output_name="rejected_orders",
            metadata={
                **rejected_write,
                **{f"reason_{reason}": count for reason, count in reasons.iter_rows()},
                "rejected_per_file": dg.MetadataValue.md(
                    "\n".join(f"- {f}: {r} {n}" for f, r, n in per_file.iter_rows()) or "none"
                ),
            },
        )
    yield _has_clean_lines(context, lake, reasons)


def _has_clean_lines(
    context: dg.AssetExecutionContext, lake: Lake, reasons: pl.DataFrame
) -> dg.AssetCheckResult:
    """Passed when silver/orders holds a line; otherwise one message that says why it holds none:
    the exports bronze could not read and this run's rejected rows by reason."""
    written = lake.read(SILVER_ORDERS)
    lines = 0 if written is None else written.select(pl.len()).collect().item()
    if lines:
        return dg.AssetCheckResult(
            check_name="has_clean_lines", passed=True, metadata={"lines": lines}
        )
    event = context.instance.get_latest_materialization_event(BRONZE_ORDERS)
    bronze_metadata = (
        event.asset_materialization.metadata if event and event.asset_materialization else {}
    )
    unreadable = bronze_metadata.get("unreadable")
    skipped = str(unreadable.value) if unreadable is not None else "none"
    rejected = ", ".join(f"{reason} {count}" for reason, count in reasons.iter_rows()) or "none"
    message = (
        "silver/orders has no clean order lines, so gold, the forecast and the decisions are not "
        f"computed. Rows rejected by reason: {rejected}. Exports bronze could not read: "
        f"{skipped}. See silver/rejected_orders and the layouts in the README."
    )
    context.log.error(message)
    return dg.AssetCheckResult(
        check_name="has_clean_lines",
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR,
        description=message,
        metadata={"lines": 0, "rejected_by_reason": rejected, "unreadable_exports": skipped},
    )


@dg.asset_check(asset=SILVER_ORDERS, blocking=True)
def line_id_unique(orders: pl.LazyFrame) -> dg.AssetCheckResult:
    """Each silver line_id appears once."""
    return result_from_offenders(
        quality.duplicated_line_ids(orders), "lines with a repeated line_id"
    )


@dg.asset_check(asset=SILVER_ORDERS, blocking=True)
def key_columns_not_null(orders: pl.LazyFrame) -> dg.AssetCheckResult:
    """No silver line has a null key, date, product, category, price, quantity or revenue."""
    return result_from_offenders(quality.null_key_fields(orders), "lines with a null key field")


@dg.asset_check(asset=SILVER_ORDERS)
def values_in_range(orders: pl.LazyFrame) -> dg.AssetCheckResult:
    """Prices positive, quantities non-zero with the sign of the line type, revenue = price x
    quantity, ratings within 1-5, no order dated after its ingestion."""
    return result_from_offenders(
        quality.out_of_range_values(orders), "lines with impossible values"
    )


@dg.asset_check(
    asset=SILVER_ORDERS,
    blocking=True,
    additional_ins={
        "bronze": dg.AssetIn(key=BRONZE_ORDERS),
        "rejected": dg.AssetIn(key=SILVER_REJECTED),
    },
)
def bronze_reconciles_with_silver(
    orders: pl.LazyFrame, bronze: pl.LazyFrame, rejected: pl.LazyFrame
) -> dg.AssetCheckResult:
    """Every bronze row is in exactly one of silver orders or rejected orders."""
    offenders = quality.unreconciled_rows(bronze, orders, rejected)
    counts = pl.concat(
        [bronze.select(pl.len()), orders.select(pl.len()), rejected.select(pl.len())]
    )
    bronze_rows, silver_rows, rejected_rows = counts.collect().to_series().to_list()
    return result_from_offenders(
        offenders,
        "bronze rows not placed exactly once",
        metadata={
            "bronze_rows": bronze_rows,
            "silver_rows": silver_rows,
            "rejected_rows": rejected_rows,
        },
    )
