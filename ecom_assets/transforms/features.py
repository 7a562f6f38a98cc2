"""Leak-free forecasting features from gold daily product sales.

Every feature row describes one product on one "last observed day" d: the features use days up to
and including d only, the target is the product's revenue over the next `horizon_days` (d, d+h],
and the row's `cutoff_date` is d + 1, the first day it does not know. Windows are computed on a
dense product x day grid with rolling sums, so no feature ever reads a day after d.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

WINDOWS_DAYS = (7, 30, 90, 365)
NUMERIC_FEATURES = [
    "revenue_7d",
    "revenue_30d",
    "revenue_90d",
    "revenue_365d",
    "units_30d",
    "orders_30d",
    "revenue_trend",
    "revenue_same_period_last_year",
    "price",
    "price_change_pct",
    "rating",
    "reviews",
    "product_age_days",
    "days_since_last_sale",
    "target_month",
    "target_peak_days",
]
CATEGORICAL_FEATURES = ["category"]
FEATURES = NUMERIC_FEATURES + CATEGORICAL_FEATURES
BASELINE_COLUMNS = [
    "baseline_naive",
    "baseline_seasonal_naive",
    "baseline_ma90",
    "baseline_mean365",
]
_PEAK_WINDOWS = ((11, 20, 12, 24),)


def _dense_grid(daily: pl.LazyFrame, last_day: date) -> pl.LazyFrame:
    """One row per product and calendar day from the first sale day to `last_day`, zero-filled."""
    first_day = daily.select(pl.col("date").min()).collect().item()
    days = pl.LazyFrame({"date": pl.date_range(first_day, last_day, "1d", eager=True)})
    products = daily.group_by("product_id").agg(pl.col("category").last())
    values = daily.select(
        "product_id", "date", "revenue", "quantity", "orders", "avg_rating", "reviews"
    )
    return (
        products.join(days, how="cross")
        .join(values, on=["product_id", "date"], how="left")
        .with_columns(pl.col("revenue", "quantity", "orders").fill_null(0))
        .sort("product_id", "date")
    )


def _peak_days(start: pl.Expr, days: int) -> pl.Expr:
    """Days of the window [start, start + days) inside the late-November-to-Christmas peak."""
    in_peak = []
    for offset in range(days):
        day = start + pl.duration(days=offset)
        month, dom = day.dt.month(), day.dt.day()
        for m1, d1, m2, d2 in _PEAK_WINDOWS:
            in_peak.append(
                (((month == m1) & (dom >= d1)) | ((month == m2) & (dom <= d2))).cast(pl.Int64)
            )
    return pl.sum_horizontal(in_peak)


def feature_grid(daily: pl.LazyFrame, last_day: date, horizon_days: int) -> pl.LazyFrame:
    """Features, baselines and target for every product on every day up to `last_day`.

    `daily` is gold/daily_product_sales. Rows before a product's first sale are dropped; the
    target is null where the horizon runs past `last_day`.
    """
    if not 0 < horizon_days < 365:
        raise ValueError(f"horizon_days must be between 1 and 364, not {horizon_days}")
    grid = _dense_grid(daily.filter(pl.col("date") <= last_day), last_day)
    by_product = "product_id"

    def rolling(column: str, days: int) -> pl.Expr:
        total = pl.col(column).rolling_sum(days, min_samples=1).over(by_product)
        return total.round(2) if column == "revenue" else total

    sold = pl.col("quantity") > 0
    first_sale = pl.when(sold).then(pl.col("date")).min().over(by_product)
    last_sale = pl.when(sold).then(pl.col("date")).forward_fill().over(by_product)
    features = grid.with_columns(
        *(rolling("revenue", days).alias(f"revenue_{days}d") for days in WINDOWS_DAYS),
        rolling("revenue", 60).alias("_revenue_60d"),
        rolling("revenue", horizon_days).alias("_revenue_horizon"),
        rolling("quantity", 30).alias("units_30d"),
        rolling("quantity", 90).alias("_units_90d"),
        rolling("orders", 30).alias("orders_30d"),
        pl.col("avg_rating").forward_fill().over(by_product).alias("rating"),
        pl.col("reviews").forward_fill().over(by_product).alias("reviews"),
        first_sale.alias("_first_sale"),
        last_sale.alias("_last_sale"),
    ).with_columns(
        (
            pl.col("revenue_30d").log1p() - (pl.col("_revenue_60d") - pl.col("revenue_30d")).log1p()
        ).alias("revenue_trend"),
        pl.col("_revenue_horizon")
        .shift(365 - horizon_days)
        .over(by_product)
        .alias("revenue_same_period_last_year"),
        (pl.col("revenue_30d") / pl.col("units_30d")).alias("price"),
        (
            (pl.col("revenue_90d") - pl.col("revenue_30d"))
            / (pl.col("_units_90d") - pl.col("units_30d"))
        ).alias("_price_before"),
        (pl.col("date") - pl.col("_first_sale")).dt.total_days().alias("product_age_days"),
        (pl.col("date") - pl.col("_last_sale")).dt.total_days().alias("days_since_last_sale"),
        (pl.col("date") + pl.duration(days=horizon_days // 2 + 1)).dt.month().alias("target_month"),
        _peak_days(pl.col("date") + pl.duration(days=1), horizon_days).alias("target_peak_days"),
        pl.col("_revenue_horizon").shift(-horizon_days).over(by_product).alias("target"),
        (pl.col("date") + pl.duration(days=1)).alias("cutoff_date"),
    )
    price = pl.col("price").forward_fill().over(by_product)
    return (
        features.with_columns(
            price.alias("price"),
            (100 * (pl.col("price") / pl.col("_price_before") - 1))
            .fill_nan(None)
            .alias("price_change_pct"),
        )
        .with_columns(
            pl.col("_revenue_horizon").alias("baseline_naive"),
            pl.col("revenue_same_period_last_year").alias("baseline_seasonal_naive"),
            (pl.col("revenue_90d") * horizon_days / 90).alias("baseline_ma90"),
            (pl.col("revenue_365d") * horizon_days / 365).alias("baseline_mean365"),
        )
        .filter(pl.col("product_age_days") >= 0)
        .with_columns(
            pl.when(pl.col("price").is_infinite())
            .then(None)
            .otherwise(pl.col("price"))
            .alias("price"),
            pl.col("price_change_pct").replace([float("inf"), float("-inf")], None),
        )
        .select("product_id", "cutoff_date", *FEATURES, *BASELINE_COLUMNS, "target")
    )


def training_set(
    daily: pl.LazyFrame,
    as_of: date,
    horizon_days: int,
    step_days: int = 7,
    min_history_days: int = 365,
    dormant_after_days: int = 180,
) -> pl.DataFrame:
    """Training rows over rolling cutoffs, every `step_days` back from the last one whose target
    is fully observed, once the store has `min_history_days` of history; products dormant for
    longer than `dormant_after_days` at the cutoff are left out."""
    grid = feature_grid(daily, as_of, horizon_days)
    last_observed = as_of - timedelta(days=horizon_days)
    first_day = daily.select(pl.col("date").min()).collect().item()
    first_observed = first_day + timedelta(days=min_history_days)
    cutoffs = []
    day = last_observed
    while day >= first_observed:
        cutoffs.append(day + timedelta(days=1))
        day -= timedelta(days=step_days)
    return (
        grid.filter(
            pl.col("cutoff_date").is_in(cutoffs)
            & (pl.col("days_since_last_sale") <= dormant_after_days)
            & pl.col("target").is_not_null()
        )
        .sort("cutoff_date", "product_id")
        .collect()
    )


def forecast_features(daily: pl.LazyFrame, as_of: date, horizon_days: int) -> pl.DataFrame:
    """Feature rows for the period after `as_of`: one per product, target unknown."""
    grid = feature_grid(daily, as_of, horizon_days)
    return (
        grid.filter(pl.col("cutoff_date") == as_of + timedelta(days=1))
        .drop("target")
        .sort("product_id")
        .collect()
    )
