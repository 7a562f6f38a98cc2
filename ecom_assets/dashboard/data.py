"""The dashboard's queries: pure Polars functions from the lake's tables to what a page shows.

Nothing here imports Streamlit or reads files: each function takes the frames of the tables it
needs (as `tables.read` returns them) and returns a frame or a small record, so every number on
the dashboard can be tested without a browser.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

import polars as pl

BUCKETS = ("High", "Medium", "Low")
METRIC_COLUMNS = ("rmse", "mae", "wape", "bias_pct", "rank_corr", "bucket_agreement")
SORTABLE_COLUMNS = (
    "predicted_revenue",
    "predicted_change_pct",
    "revenue_last_period",
    "total_revenue",
    "total_orders",
    "total_quantity",
    "avg_rating",
    "product_name",
    "category",
)
SAMPLE_COLUMNS = ("line_id", "field", "value", "raw_values", "_source_file", "_source_row")


@dataclass(frozen=True)
class Provenance:
    """What the decision table was computed from: its as-of date(s), horizon and model(s)."""

    as_of_dates: tuple[date, ...]
    horizon_days: tuple[int, ...]
    model_versions: tuple[str, ...]


@dataclass(frozen=True)
class Kpis:
    """The Overview page's headline numbers."""

    revenue_to_date: float
    revenue_last_period: float
    predicted_revenue: float
    predicted_change_pct: float | None
    products_forecast: int
    products_total: int


@dataclass(frozen=True)
class ModelCard:
    """What serves the forecast and where its MLflow run is."""

    run_id: str
    registered_version: str
    promoted: bool
    served_candidate: str
    served_description: str
    best_baseline: str


def provenance(decisions: pl.DataFrame) -> Provenance:
    """The distinct as-of dates, horizons and model versions of the decision table, sorted."""
    return Provenance(
        as_of_dates=tuple(decisions["as_of_date"].drop_nulls().unique().sort().to_list()),
        horizon_days=tuple(decisions["horizon_days"].drop_nulls().unique().sort().to_list()),
        model_versions=tuple(decisions["model_version"].drop_nulls().unique().sort().to_list()),
    )


def kpis(decisions: pl.DataFrame, product_metrics: pl.DataFrame) -> Kpis:
    """Revenue to date over every product, and the next period's forecast over active ones."""
    last = float(decisions["revenue_last_period"].sum())
    predicted = float(decisions["predicted_revenue"].sum())
    return Kpis(
        revenue_to_date=float(product_metrics["total_revenue"].sum()),
        revenue_last_period=last,
        predicted_revenue=predicted,
        predicted_change_pct=100 * (predicted - last) / last if last else None,
        products_forecast=decisions.height,
        products_total=product_metrics.height,
    )


def count_by(frame: pl.DataFrame, column: str, order: Sequence[str] = ()) -> pl.DataFrame:
    """Rows per value of `column` (`products`), values listed in `order` first, then by count."""
    counts = frame.group_by(column).agg(pl.len().cast(pl.Int64).alias("products"))
    rank = {value: index for index, value in enumerate(order)}
    return (
        counts.with_columns(
            pl.col(column)
            .replace_strict(rank, default=len(rank), return_dtype=pl.Int64)
            .alias("_r")
        )
        .sort("_r", pl.col("products"), column, descending=[False, True, False])
        .drop("_r")
    )


def revenue_trend(monthly_sales: pl.DataFrame) -> pl.DataFrame:
    """Total revenue per month (`month`, `revenue`), oldest first."""
    return (
        monthly_sales.group_by("month")
        .agg(pl.col("revenue").sum())
        .sort("month")
        .select("month", "revenue")
    )


def is_partial_month(month: date, as_of: date) -> bool:
    """True when `as_of` falls inside `month` before its last day (the month is not over)."""
    next_month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return month <= as_of < next_month - timedelta(days=1)


def filter_decisions(
    decisions: pl.DataFrame,
    buckets: Sequence[str] = (),
    categories: Sequence[str] = (),
    actions: Sequence[str] = (),
    search: str = "",
) -> pl.DataFrame:
    """Decision rows matching every given filter; an empty filter keeps everything.

    `search` matches product names and ids, case-insensitively, as plain text.
    """
    condition = pl.lit(True)
    if buckets:
        condition &= pl.col("performance_bucket").is_in(list(buckets))
    if categories:
        condition &= pl.col("category").is_in(list(categories))
    if actions:
        condition &= pl.col("recommended_action").is_in(list(actions))
    needle = search.strip().lower()
    if needle:
        condition &= pl.col("product_name").str.to_lowercase().str.contains(
            needle, literal=True
        ) | pl.col("product_id").str.to_lowercase().str.contains(needle, literal=True)
    return decisions.filter(condition)


def sort_decisions(decisions: pl.DataFrame, by: str, descending: bool) -> pl.DataFrame:
    """Decision rows sorted by one column (nulls last), ties broken by product id."""
    if by not in decisions.columns:
        raise ValueError(f"cannot sort by {by!r}: not a column of the decision table")
    return decisions.sort([by, "product_id"], descending=[descending, False], nulls_last=True)


def to_csv(frame: pl.DataFrame) -> bytes:
    """A frame as UTF-8 CSV with a header, as the download button serves it."""
    return frame.write_csv().encode("utf-8")


def product_history(monthly_sales: pl.DataFrame, product_id: str) -> pl.DataFrame:
    """One product's revenue, units and orders per month, oldest first."""
    return (
        monthly_sales.filter(pl.col("product_id") == product_id)
        .sort("month")
        .select("month", "revenue", "quantity", "orders")
    )


def forecast_midpoint(as_of: date, horizon_days: int) -> date:
    """The middle of the forecast window after `as_of`, where a chart places the forecast."""
    return as_of + timedelta(days=(horizon_days + 1) // 2)


def top_forecasts(decisions: pl.DataFrame, limit: int, category: str | None = None) -> pl.DataFrame:
    """The `limit` products with the highest predicted revenue, with interval and last period."""
    rows = decisions if category is None else decisions.filter(pl.col("category") == category)
    return rows.sort(
        ["predicted_revenue", "product_id"], descending=[True, False], nulls_last=True
    ).head(limit)


def category_forecast(decisions: pl.DataFrame) -> pl.DataFrame:
    """Per category: products, last-period and predicted revenue, and the predicted change."""
    return (
        decisions.group_by("category")
        .agg(
            pl.len().cast(pl.Int64).alias("products"),
            pl.col("revenue_last_period").sum(),
            pl.col("predicted_revenue").sum(),
        )
        .with_columns(
            pl.when(pl.col("revenue_last_period") != 0)
            .then(
                100
                * (pl.col("predicted_revenue") - pl.col("revenue_last_period"))
                / pl.col("revenue_last_period")
            )
            .alias("predicted_change_pct")
        )
        .sort(["predicted_revenue", "category"], descending=[True, False], nulls_last=True)
    )


def category_performance(category_metrics: pl.DataFrame, decisions: pl.DataFrame) -> pl.DataFrame:
    """The category metrics with each category's forecast next to them, by revenue."""
    forecast = category_forecast(decisions).select(
        "category",
        pl.col("products").alias("products_forecast"),
        pl.col("revenue_last_period").alias("revenue_last_period"),
        "predicted_revenue",
        "predicted_change_pct",
    )
    return (
        category_metrics.drop("as_of_date", strict=False)
        .join(forecast, on="category", how="left")
        .sort(["total_revenue", "category"], descending=[True, False], nulls_last=True)
    )


def model_scores(revenue_model: pl.DataFrame) -> pl.DataFrame:
    """The backtest metrics per candidate with `serves` (what the forecast uses) and `kind`."""
    best = revenue_model["best_baseline"].drop_nulls()
    best_name = best[0] if best.len() else ""
    kind = (
        pl.when(pl.col("candidate") == "champion")
        .then(pl.lit("registered champion"))
        .when(pl.col("candidate") == "model")
        .then(pl.lit("this run's model"))
        .when(pl.col("candidate") == "linear_regression")
        .then(pl.lit("comparison"))
        .when(pl.col("candidate") == best_name)
        .then(pl.lit("best baseline"))
        .otherwise(pl.lit("baseline"))
    )
    return revenue_model.select(
        "candidate", kind.alias("kind"), pl.col("served").alias("serves"), *METRIC_COLUMNS
    )


def model_card(revenue_model: pl.DataFrame) -> ModelCard:
    """Run id, registered version, promotion and what serves, from the model table."""
    if revenue_model.height == 0:
        raise ValueError("the model table has no rows")
    first = revenue_model.row(0, named=True)
    served = revenue_model.filter(pl.col("served"))
    return ModelCard(
        run_id=str(first["run_id"] or ""),
        registered_version=str(first["model_version"] or ""),
        promoted=bool(first["promoted"]),
        served_candidate=str(served["candidate"][0]) if served.height else "",
        served_description=str(first["served_description"] or ""),
        best_baseline=str(first["best_baseline"] or ""),
    )


def rejected_counts(rejected: pl.LazyFrame) -> pl.DataFrame:
    """Rejected rows per reason (`rows`, `share_pct` of all rejected rows), most frequent first."""
    return (
        rejected.group_by("reason")
        .agg(pl.len().cast(pl.Int64).alias("rows"))
        .with_columns((100 * pl.col("rows") / pl.col("rows").sum()).alias("share_pct"))
        .sort(["rows", "reason"], descending=[True, False])
        .collect()
    )


def rejected_samples(rejected: pl.LazyFrame, per_reason: int) -> pl.DataFrame:
    """Up to `per_reason` rejected rows of each reason, in file order."""
    return (
        rejected.sort("_source_file", "_source_row")
        .group_by("reason", maintain_order=True)
        .head(per_reason)
        .select("reason", *SAMPLE_COLUMNS)
        .collect()
    )


def answer_frame(columns: Sequence[str], rows: Any) -> pl.DataFrame:
    """An answer's result as a frame: rows of values (or of dicts, or a frame) under `columns`."""
    if isinstance(rows, pl.DataFrame):
        return rows
    records = list(rows)
    if records and isinstance(records[0], dict):
        return pl.DataFrame(records, strict=False).select(list(columns) or pl.all())
    if not columns:
        return pl.DataFrame()
    if not records:
        return pl.DataFrame(schema=dict.fromkeys(columns, pl.String))
    names = _unique_names(columns)
    return pl.DataFrame([list(r) for r in records], schema=names, orient="row", strict=False)


def _unique_names(columns: Sequence[str]) -> list[str]:
    seen: dict[str, int] = {}
    names = []
    for column in columns:
        count = seen.get(column, 0)
        seen[column] = count + 1
        names.append(column if count == 0 else f"{column}_{count + 1}")
    return names


@dataclass(frozen=True)
class ChartSpec:
    """How to chart a result: a line over time or bars per label, of one value column."""

    kind: Literal["line", "bar"]
    x: str
    y: str


_ORDER_BY = re.compile(r"order\s+by\s+\"?([A-Za-z_][A-Za-z0-9_]*)\"?", re.IGNORECASE)
_TEMPORAL_NAMES = ("month", "date", "day", "week", "year")


def chart_for(frame: pl.DataFrame, sql: str = "", max_bars: int = 50) -> ChartSpec | None:
    """A chart that suits a result, or None: a line when it has a time column and a numeric one,
    bars when it has a text label and a numeric value for 2 to `max_bars` rows.

    The value is the numeric column the SQL orders by when there is one, else the first.
    """
    if frame.height < 2:
        return None
    numeric = [c for c, t in frame.schema.items() if t.is_numeric()]
    temporal = [c for c, t in frame.schema.items() if t.is_temporal()]
    if not temporal:
        temporal = [c for c in numeric if c.lower() in _TEMPORAL_NAMES]
    text = [c for c, t in frame.schema.items() if t in (pl.String, pl.Categorical)]
    values = [c for c in numeric if c not in temporal]
    if not values:
        return None
    ordered = [m.group(1) for m in _ORDER_BY.finditer(sql)]
    value = next((c for c in ordered if c in values), values[0])
    if temporal:
        return ChartSpec("line", temporal[0], value)
    if text and frame.height <= max_bars:
        return ChartSpec("bar", _label_column(frame, text), value)
    return None


def _label_column(frame: pl.DataFrame, text: list[str]) -> str:
    for preferred in ("product_name", "category", "recommended_action", "performance_bucket"):
        if preferred in text:
            return preferred
    return text[0]
