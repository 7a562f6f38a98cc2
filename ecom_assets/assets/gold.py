"""Gold layer: business metrics per day, month, product and category, computed as of one date."""

from collections.abc import Callable
from datetime import date

import dagster as dg
import polars as pl

from ecom_assets.assets.checks import result_from_offenders
from ecom_assets.assets.silver import SILVER_ORDERS
from ecom_assets.resources import AnalysisSettings
from ecom_assets.transforms import gold, quality

GoldTransform = Callable[[pl.LazyFrame, date], pl.LazyFrame]
DAILY_PRODUCT_SALES = dg.AssetKey(["gold", "daily_product_sales"])
PRODUCT_METRICS = dg.AssetKey(["gold", "product_metrics"])


def _as_of(silver: pl.LazyFrame, settings: AnalysisSettings) -> date:
    as_of = settings.as_of_override() or gold.default_as_of_date(silver)
    if as_of is None:
        raise ValueError("silver/orders has no order lines: nothing to compute gold tables from")
    return as_of


def _gold_asset(name: str, transform: GoldTransform, description: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=name,
        key_prefix=["gold"],
        group_name="gold",
        ins={"silver": dg.AssetIn(key=SILVER_ORDERS)},
        description=description,
    )
    def _asset(silver: pl.LazyFrame, analysis: AnalysisSettings) -> dg.Output[pl.DataFrame]:
        as_of = _as_of(silver, analysis)
        table = transform(silver, as_of).collect()
        return dg.Output(table, metadata={"as_of_date": str(as_of)})

    return _asset


daily_product_sales = _gold_asset(
    "daily_product_sales",
    gold.daily_product_sales,
    "Revenue, units and orders per product per day.",
)
monthly_sales = _gold_asset(
    "monthly_sales", gold.monthly_sales, "Revenue, units and orders per product per month."
)
product_metrics = _gold_asset(
    "product_metrics",
    gold.product_metrics,
    "Per product: total revenue, orders, units, average rating, sale dates, recent revenue.",
)
category_metrics = _gold_asset(
    "category_metrics",
    gold.category_metrics,
    "Per category: products, revenue and share, orders, units, rating, recent revenue.",
)
GOLD_ASSETS = [daily_product_sales, monthly_sales, product_metrics, category_metrics]


def _revenue_check(asset: dg.AssetsDefinition) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset,
        name="revenue_matches_silver",
        additional_ins={"silver": dg.AssetIn(key=SILVER_ORDERS)},
        description="The table's revenue equals silver revenue up to its as-of date, to the cent.",
    )
    def _check(table: pl.LazyFrame, silver: pl.LazyFrame) -> dg.AssetCheckResult:
        gap = quality.revenue_gap(silver, table)
        return dg.AssetCheckResult(
            passed=gap < quality.REVENUE_TOLERANCE,
            metadata={"absolute_difference": round(gap, 6)},
            description=f"gold and silver revenue differ by {gap:.6f}",
        )

    return _check


def _negative_totals_check(
    asset: dg.AssetsDefinition, columns: tuple[str, ...]
) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset,
        name="no_negative_totals",
        description=f"No row has a negative {', '.join(columns)}.",
    )
    def _check(table: pl.LazyFrame) -> dg.AssetCheckResult:
        offenders = quality.negative_totals(table, columns)
        return result_from_offenders(offenders, "rows with a negative total")

    return _check


TOTALS = ("total_revenue", "total_quantity", "total_orders")
GOLD_CHECKS = [
    *(_revenue_check(asset) for asset in GOLD_ASSETS),
    _negative_totals_check(product_metrics, TOTALS),
    _negative_totals_check(category_metrics, TOTALS),
]
