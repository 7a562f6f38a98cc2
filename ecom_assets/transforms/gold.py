"""Gold business tables from silver order lines: daily, monthly, per product and per category.

Every table is computed "as of" a date (by default the last order date in silver), counts only
lines on or before it, and nets returns against sales: revenue and quantity are net figures, while
order counts count distinct orders with at least one sale line.
"""

from __future__ import annotations

from datetime import date

import polars as pl

RECENT_WINDOWS_DAYS = (30, 90)


def money_sum(column: str | pl.Expr) -> pl.Expr:
    """Sum of an amount in whole cents: exact, and the same whatever the order of the rows."""
    amount = pl.col(column) if isinstance(column, str) else column
    return (amount * 100).round().cast(pl.Int64).sum() / 100


def rating_mean(column: str) -> pl.Expr:
    """Mean of a one-decimal rating, summed in tenths so it does not depend on row order."""
    tenths = (pl.col(column) * 10).round().cast(pl.Int64)
    return (tenths.sum() / tenths.count() / 10).round(2)


def average_sale_price() -> pl.Expr:
    """Revenue of sale lines over their units: the average price a unit sold for."""
    sales = pl.col("line_type") == "sale"
    revenue = money_sum(pl.col("revenue").filter(sales))
    return (revenue / pl.col("quantity").filter(sales).sum()).round(2)


def default_as_of_date(silver: pl.LazyFrame) -> date | None:
    """The last order date in silver: "now" for every metric, so reruns give the same tables."""
    return silver.select(pl.col("order_date").max()).collect().item()


def _sales_to_date(silver: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    return silver.filter(pl.col("order_date") <= as_of)


def product_dimension(silver: pl.LazyFrame) -> pl.LazyFrame:
    """One row per product: its latest name and its most frequent category.

    The latest name is looked for among the lines of the product's last day only, so no group
    holds all its lines in memory."""
    last_day = silver.group_by("product_id").agg(pl.col("order_date").max())
    latest = ["order_date", "_source_file", "_source_row"]
    names = (
        silver.join(last_day, on=["product_id", "order_date"], how="semi")
        .group_by("product_id")
        .agg(pl.col("product_name").top_k_by(latest, k=1).first())
    )
    categories = (
        silver.group_by("product_id", "category")
        .agg(pl.len().alias("_lines"))
        .sort(["product_id", "_lines", "category"], descending=[False, True, False])
        .group_by("product_id", maintain_order=True)
        .agg(pl.col("category").first())
    )
    return names.join(categories, on="product_id", how="inner")


def _order_count() -> pl.Expr:
    """Distinct orders with a sale line, counted by their 64-bit hashes: a third of the memory of
    the ids at 100M lines, and a collision within one group is vanishingly unlikely (~1e-8)."""
    sale_orders = pl.col("order_id").hash().filter(pl.col("line_type") == "sale")
    return sale_orders.n_unique().cast(pl.Int64).alias("orders")


def daily_product_sales(silver: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    """Revenue, units, orders, average sale price, rating and reviews per product and day."""
    lines = _sales_to_date(silver, as_of)
    return (
        lines.group_by("order_date", "product_id")
        .agg(
            money_sum("revenue").alias("revenue"),
            pl.col("quantity").sum(),
            _order_count(),
            average_sale_price().alias("avg_price"),
            rating_mean("rating").alias("avg_rating"),
            pl.col("reviews").max(),
        )
        .join(product_dimension(lines), on="product_id", how="left")
        .select(
            pl.col("order_date").alias("date"),
            "product_id",
            "product_name",
            "category",
            "revenue",
            "quantity",
            "orders",
            "avg_price",
            "avg_rating",
            "reviews",
            pl.lit(as_of).alias("as_of_date"),
        )
        .sort("date", "product_id")
    )


def monthly_sales(silver: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    """Revenue, units and orders per product and calendar month (month = its first day)."""
    lines = _sales_to_date(silver, as_of).with_columns(
        pl.col("order_date").dt.month_start().alias("month")
    )
    return (
        lines.group_by("month", "product_id")
        .agg(money_sum("revenue").alias("revenue"), pl.col("quantity").sum(), _order_count())
        .join(product_dimension(lines), on="product_id", how="left")
        .select(
            "month",
            "product_id",
            "product_name",
            "category",
            "revenue",
            "quantity",
            "orders",
            pl.lit(as_of).alias("as_of_date"),
        )
        .sort("month", "product_id")
    )


def _recent_revenue(as_of: date, days: int) -> pl.Expr:
    window_start = pl.lit(as_of) - pl.duration(days=days)
    in_window = pl.col("order_date") > window_start
    return money_sum(pl.col("revenue").filter(in_window)).alias(f"revenue_last_{days}d")


def product_metrics(silver: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    """Per product: the original features (total revenue, orders, quantity, average rating),
    first and last sale dates, recent-window revenue, price and review figures."""
    lines = _sales_to_date(silver, as_of)
    sales = pl.col("line_type") == "sale"
    latest = pl.col("order_date") == pl.col("order_date").max()
    return (
        lines.group_by("product_id")
        .agg(
            money_sum("revenue").alias("total_revenue"),
            _order_count().alias("total_orders"),
            pl.col("quantity").sum().alias("total_quantity"),
            rating_mean("rating").alias("avg_rating"),
            pl.col("reviews").max().alias("reviews"),
            average_sale_price().alias("avg_price"),
            pl.col("price").filter(sales & latest).max().alias("current_price"),
            pl.col("order_date").filter(sales).min().alias("first_sale_date"),
            pl.col("order_date").filter(sales).max().alias("last_sale_date"),
            *(_recent_revenue(as_of, days) for days in RECENT_WINDOWS_DAYS),
        )
        .join(product_dimension(lines), on="product_id", how="left")
        .with_columns(pl.lit(as_of).alias("as_of_date"))
        .select(
            "product_id",
            "product_name",
            "category",
            pl.exclude("product_id", "product_name", "category"),
        )
        .sort("product_id")
    )


def category_metrics(silver: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    """Per category: products, revenue and its share, orders, units, rating, recent revenue."""
    lines = _sales_to_date(silver, as_of).join(
        product_dimension(silver).select("product_id", pl.col("category").alias("_category")),
        on="product_id",
        how="left",
    )
    return (
        lines.group_by(pl.col("_category").alias("category"))
        .agg(
            pl.col("product_id").n_unique().cast(pl.Int64).alias("products"),
            money_sum("revenue").alias("total_revenue"),
            _order_count().alias("total_orders"),
            pl.col("quantity").sum().alias("total_quantity"),
            rating_mean("rating").alias("avg_rating"),
            *(_recent_revenue(as_of, days) for days in RECENT_WINDOWS_DAYS),
        )
        .with_columns(
            (100 * pl.col("total_revenue") / pl.col("total_revenue").sum())
            .round(3)
            .alias("revenue_share_pct"),
            pl.lit(as_of).alias("as_of_date"),
        )
        .sort("total_revenue", descending=True)
    )
