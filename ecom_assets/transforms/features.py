"""Leak-free forecasting features from gold daily product sales.

Every feature row describes one product on one "last observed day" d: the features use days up to
and including d only, the target is the product's revenue over the next `horizon_days` (d, d+h],
and the row's `cutoff_date` is d + 1, the first day it does not know. Windows are computed on a
dense product x day grid with rolling sums, so no feature ever reads a day after d. A window
that reaches back before the store's first day is not supported by the history and is null
(a 365-day total after 200 days would be a 200-day total under another name).

`plan_cutoffs` says which cutoffs a history allows: training cutoffs wait for a year of history
when the history is long enough to still backtest on `backtest_days` of cutoffs with at least as
many training cutoffs, otherwise for 90 days, otherwise for MIN_HISTORY_DAYS; when even that
leaves too few, the test window shrinks, down to the last cutoff alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

WINDOWS_DAYS = (7, 30, 90, 365)
YEAR_DAYS = 365
QUARTER_DAYS = 90
MIN_HISTORY_DAYS = 30
MIN_TRAIN_CUTOFFS = 4
DORMANT_AFTER_DAYS = 180
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
HISTORY_COLUMNS = ["history_days", "revenue_last_period", "revenue_recent", "run_rate"]
_PEAK_WINDOWS = ((11, 20, 12, 24),)


@dataclass(frozen=True)
class CutoffPlan:
    """The training cutoffs a history allows and how the backtest splits them.

    `cutoffs` ascend; the backtest tests on those from `first_test` on (None when there is no
    cutoff) and the model learns from the `train_cutoffs` whose target window ends by then.
    """

    first_day: date
    as_of: date
    horizon_days: int
    step_days: int
    cutoffs: tuple[date, ...]
    first_test: date | None
    train_cutoffs: int

    @property
    def history_days(self) -> int:
        """Days from the store's first day to `as_of`, both included."""
        return (self.as_of - self.first_day).days + 1

    @property
    def test_days(self) -> int:
        """Days from the first test cutoff to the last cutoff, both included (0: none)."""
        if self.first_test is None:
            return 0
        return (self.cutoffs[-1] - self.first_test).days + 1

    @property
    def min_history_days(self) -> int:
        """History the earliest training cutoff needs (its 30-day and horizon windows)."""
        return max(self.horizon_days, MIN_HISTORY_DAYS)

    @property
    def backtest_needs_days(self) -> int:
        """The shortest history with one cutoff whose target is observed."""
        return self.min_history_days + self.horizon_days

    @property
    def model_needs_days(self) -> int:
        """The shortest history that backtests the model: MIN_TRAIN_CUTOFFS training cutoffs
        whose targets end before the last cutoff, which is then the only test cutoff."""
        steps_past_target = -(-self.horizon_days // self.step_days)
        span = self.step_days * (steps_past_target + MIN_TRAIN_CUTOFFS - 1)
        return self.backtest_needs_days + span


def plan_cutoffs(
    first_day: date, as_of: date, horizon_days: int, backtest_days: int, step_days: int = 7
) -> CutoffPlan:
    """Cutoffs every `step_days` back from the last one whose target is fully observed, from the
    first one with enough history, and the backtest's first test cutoff (see the module doc)."""
    history_days = (as_of - first_day).days + 1
    last = history_days - horizon_days
    floor = max(horizon_days, MIN_HISTORY_DAYS)

    def cutoffs(wait: int) -> list[int]:
        return sorted(range(last, wait - 1, -step_days)) if last >= wait else []

    def train_count(history: list[int], test_days: int) -> int:
        return sum(c + horizon_days <= last - test_days + 1 for c in history)

    def plan(history: list[int], test_days: int) -> CutoffPlan:
        dates = tuple(first_day + timedelta(days=c) for c in history)
        first_test = first_day + timedelta(days=last - test_days + 1) if history else None
        return CutoffPlan(
            first_day,
            as_of,
            horizon_days,
            step_days,
            dates,
            first_test,
            train_count(history, test_days) if history else 0,
        )

    for wait in sorted({YEAR_DAYS, QUARTER_DAYS, floor}, reverse=True):
        history = cutoffs(wait)
        tested = sum(c > last - backtest_days for c in history)
        if wait >= floor and train_count(history, backtest_days) >= max(MIN_TRAIN_CUTOFFS, tested):
            return plan(history, backtest_days)
    history = cutoffs(floor)
    for tested in range(min(len(history), -(-backtest_days // step_days)), 0, -1):
        test_days = min(backtest_days, step_days * (tested - 1) + 1)
        if train_count(history, test_days) >= max(MIN_TRAIN_CUTOFFS, tested):
            return plan(history, test_days)
    return plan(history, backtest_days)


def store_first_day(daily: pl.LazyFrame, as_of: date) -> date:
    """The store's first day of sales up to `as_of`."""
    day: date = daily.filter(pl.col("date") <= as_of).select(pl.col("date").min()).collect().item()
    return day


def _dense_grid(daily: pl.LazyFrame, first_day: date, last_day: date) -> pl.LazyFrame:
    """One row per product and calendar day from `first_day` to `last_day`, zero-filled."""
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
    """Features, baselines and target for every product on every day up to `last_day`, with
    HISTORY_COLUMNS: the store's days of history so far, the revenue of the last horizon and of
    the last 90 days as far as the history goes, and the run rate (revenue per day over those 90
    days or the whole history when shorter, times the horizon).

    `daily` is gold/daily_product_sales. Rows before a product's first sale are dropped; the
    target is null where the horizon runs past `last_day`; a window longer than the history
    so far is null.
    """
    if not 0 < horizon_days < 365:
        raise ValueError(f"horizon_days must be between 1 and 364, not {horizon_days}")
    first_day = store_first_day(daily, last_day)
    grid = _dense_grid(daily.filter(pl.col("date") <= last_day), first_day, last_day)
    calendar = grid.select(pl.col("date").unique()).with_columns(
        (pl.col("date") + pl.duration(days=horizon_days // 2 + 1)).dt.month().alias("target_month"),
        _peak_days(pl.col("date") + pl.duration(days=1), horizon_days).alias("target_peak_days"),
    )
    by_product = "product_id"
    history = pl.col("history_days")

    def supported(column: str, days: int) -> pl.Expr:
        return pl.when(history >= days).then(pl.col(column)).alias(column)

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
        ((pl.col("date") - first_day).dt.total_days() + 1).alias("history_days"),
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
            pl.col("_revenue_horizon").alias("revenue_last_period"),
            pl.col("revenue_90d").alias("revenue_recent"),
            pl.when(history >= QUARTER_DAYS)
            .then(pl.col("revenue_90d") * horizon_days / 90)
            .otherwise(pl.col("revenue_90d") * horizon_days / history)
            .alias("run_rate"),
        )
        .with_columns(
            *(supported(f"revenue_{days}d", days) for days in WINDOWS_DAYS),
            supported("units_30d", 30),
            supported("orders_30d", 30),
            supported("revenue_trend", 60),
            supported("revenue_same_period_last_year", YEAR_DAYS),
            supported("baseline_naive", horizon_days),
            supported("baseline_seasonal_naive", YEAR_DAYS),
            supported("baseline_ma90", QUARTER_DAYS),
            supported("baseline_mean365", YEAR_DAYS),
        )
        .filter(pl.col("product_age_days") >= 0)
        .join(calendar, on="date", how="left")
        .with_columns(
            pl.when(pl.col("price").is_infinite())
            .then(None)
            .otherwise(pl.col("price"))
            .alias("price"),
            pl.col("price_change_pct").replace([float("inf"), float("-inf")], None),
        )
        .select(
            "product_id",
            "cutoff_date",
            *FEATURES,
            *BASELINE_COLUMNS,
            *HISTORY_COLUMNS,
            "target",
        )
    )


def training_set(
    daily: pl.LazyFrame,
    plan: CutoffPlan,
    dormant_after_days: int = DORMANT_AFTER_DAYS,
) -> pl.DataFrame:
    """Training rows at the plan's cutoffs; products dormant for longer than
    `dormant_after_days` at the cutoff are left out."""
    grid = feature_grid(daily, plan.as_of, plan.horizon_days)
    return (
        grid.filter(
            pl.col("cutoff_date").is_in(pl.Series(plan.cutoffs, dtype=pl.Date).implode())
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
