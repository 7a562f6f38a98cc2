"""Data-quality rules as pure functions: each returns the offending rows (empty when all is well).

The Dagster asset checks call these and attach the count and a sample of the rows; tests call
them directly on broken frames.
"""

from __future__ import annotations

import polars as pl

from ecom_assets.transforms.gold import money_sum
from ecom_assets.transforms.silver import repeated_key_hashes, rows_with_key_hashes

SILVER_KEY_COLUMNS = (
    "order_id",
    "line_id",
    "order_date",
    "product_id",
    "product_name",
    "category",
    "price",
    "quantity",
    "revenue",
    "line_type",
)
REVENUE_TOLERANCE = 0.005


def duplicated_line_ids(silver: pl.LazyFrame) -> pl.DataFrame:
    """Silver lines whose line_id is not unique.

    Keys are first counted by their hash (little memory at any size); only the lines whose key
    hash repeats are then compared by key."""
    repeated = repeated_key_hashes(silver, "line_id").collect()
    return (
        rows_with_key_hashes(silver, "line_id", repeated)
        .filter(pl.len().over("line_id") > 1)
        .select("line_id", "order_id", "product_id", "_source_file", "_source_row")
        .sort("line_id", "_source_file", "_source_row")
        .collect()
    )


def null_key_fields(silver: pl.LazyFrame) -> pl.DataFrame:
    """Silver lines with a null in a column every downstream table relies on."""
    return silver.filter(pl.any_horizontal(pl.col(SILVER_KEY_COLUMNS).is_null())).collect()


def out_of_range_values(silver: pl.LazyFrame) -> pl.DataFrame:
    """Silver lines with an impossible value, and which rule they break."""
    quantity = pl.col("quantity")
    problems = {
        "price_not_positive": pl.col("price") <= 0,
        "quantity_zero": quantity == 0,
        "sale_with_negative_quantity": (pl.col("line_type") == "sale") & (quantity < 0),
        "return_with_positive_quantity": (pl.col("line_type") == "return") & (quantity > 0),
        "revenue_not_price_times_quantity": (
            (pl.col("revenue") - pl.col("price") * quantity).abs() > 0.01
        ),
        "rating_outside_1_to_5": ~pl.col("rating").is_between(1, 5),
        "negative_reviews": pl.col("reviews") < 0,
        "order_after_ingestion": pl.col("order_date") > pl.col("_ingested_at").dt.date(),
    }
    first_problem = pl.coalesce(
        [pl.when(broken).then(pl.lit(name)) for name, broken in problems.items()]
    )
    return (
        silver.with_columns(first_problem.alias("problem"))
        .filter(pl.col("problem").is_not_null())
        .select("problem", pl.exclude("problem"))
        .collect()
    )


def _unplaced_batches(bronze: pl.LazyFrame, placed: pl.LazyFrame) -> pl.LazyFrame:
    """The (file, ingestion) batches whose placed rows may not be exactly their bronze rows.

    A batch's bronze rows are numbered first..last without gaps or repeats; its placed rows are
    exactly those rows when they are as many, all distinct, with the same first and last number.
    Comparing these per-batch counts is an aggregation, far cheaper than joining every row.
    """
    batch = ["_source_file", "_ingested_at"]
    row = pl.col("_source_row")
    stats = [
        pl.len().alias("n"),
        row.n_unique().alias("distinct"),
        row.min().alias("first"),
        row.max().alias("last"),
    ]
    in_bronze = bronze.group_by(batch).agg(stats)
    in_tables = placed.group_by(batch).agg(stats)
    joined = in_bronze.join(in_tables, on=batch, how="full", coalesce=True, suffix="_placed")
    numbered = (pl.col("n") == pl.col("distinct")) & (
        pl.col("last") - pl.col("first") + 1 == pl.col("n")
    )
    same = (
        (pl.col("n") == pl.col("n_placed"))
        & (pl.col("distinct_placed") == pl.col("n_placed"))
        & (pl.col("first") == pl.col("first_placed"))
        & (pl.col("last") == pl.col("last_placed"))
    )
    return joined.filter(~(numbered & same).fill_null(False)).select(batch)


def unreconciled_rows(
    bronze: pl.LazyFrame, silver: pl.LazyFrame, rejected: pl.LazyFrame
) -> pl.DataFrame:
    """Bronze rows not in exactly one of silver and rejected, and rows from nowhere.

    A row is known by its file, its row number and when it was ingested (a file sent again with
    other content under the same name is ingested as new rows). Rows are compared one by one
    only in the batches whose counts do not already prove them placed exactly once."""
    key = ["_source_file", "_source_row", "_ingested_at"]
    placed = pl.concat(
        [
            silver.select(*key, pl.lit("silver").alias("table")),
            rejected.select(*key, pl.lit("rejected").alias("table")),
        ]
    )
    suspect = _unplaced_batches(bronze, placed).collect()
    batch = ["_source_file", "_ingested_at"]
    bronze = bronze.join(suspect.lazy(), on=batch, how="semi")
    placed = placed.join(suspect.lazy(), on=batch, how="semi")
    placements = placed.group_by(key).agg(
        pl.len().alias("placements"), pl.col("table").sort().str.join(",").alias("tables")
    )
    joined = bronze.select(*key, pl.lit(True).alias("_in_bronze")).join(
        placements, on=key, how="full", coalesce=True
    )
    problem = (
        pl.when(pl.col("_in_bronze").is_null())
        .then(pl.lit("not_in_bronze"))
        .when(pl.col("placements").is_null())
        .then(pl.lit("lost"))
        .when(pl.col("placements") > 1)
        .then(pl.lit("placed_more_than_once"))
    )
    return (
        joined.with_columns(problem.alias("problem"))
        .filter(pl.col("problem").is_not_null())
        .select("problem", *key, "tables")
        .sort(key)
        .collect()
    )


def revenue_gap(silver: pl.LazyFrame, gold: pl.LazyFrame) -> float:
    """Absolute difference between silver revenue up to the gold table's `as_of_date` and the gold
    table's revenue column (`revenue` or `total_revenue`)."""
    revenue_column = "revenue" if "revenue" in gold.collect_schema().names() else "total_revenue"
    as_of = gold.select(pl.col("as_of_date").max()).collect().item()
    lines = silver if as_of is None else silver.filter(pl.col("order_date") <= as_of)
    silver_total = lines.select(money_sum("revenue")).collect().item() or 0.0
    gold_total = gold.select(money_sum(revenue_column)).collect().item() or 0.0
    return abs(silver_total - gold_total)


def negative_totals(gold: pl.LazyFrame, columns: tuple[str, ...]) -> pl.DataFrame:
    """Rows of a gold table where any of `columns` is negative."""
    return gold.filter(pl.any_horizontal(pl.col(columns) < 0)).collect()


def invalid_forecasts(
    forecast: pl.DataFrame, product_metrics: pl.DataFrame, active_within_days: int
) -> pl.DataFrame:
    """Active products (a sale within `active_within_days` of the as-of date) without exactly one
    forecast, and forecasts that are not finite, negative, or outside their interval."""
    active = product_metrics.filter(
        pl.col("last_sale_date") > pl.col("as_of_date") - pl.duration(days=active_within_days + 1)
    ).select("product_id")
    counts = forecast.group_by("product_id").len()
    missing = active.join(counts, on="product_id", how="left").filter(
        pl.col("len").is_null() | (pl.col("len") > 1)
    )
    predicted = pl.col("predicted_revenue")
    bad_value = ~predicted.is_finite() | (predicted < 0) | predicted.is_null()
    outside = (pl.col("predicted_lower") > predicted) | (pl.col("predicted_upper") < predicted)
    invalid = forecast.filter(bad_value | outside).select(
        "product_id",
        pl.when(bad_value)
        .then(pl.lit("not_a_valid_amount"))
        .otherwise(pl.lit("outside_its_interval"))
        .alias("problem"),
    )
    return pl.concat(
        [
            missing.select(
                "product_id",
                pl.when(pl.col("len").is_null())
                .then(pl.lit("no_forecast"))
                .otherwise(pl.lit("several_forecasts"))
                .alias("problem"),
            ),
            invalid,
        ]
    )
