"""Small lakes for the dashboard's tests, written with the pipeline's own transforms.

`build_lake` runs the real bronze, silver and gold transforms on a generated export, backtests
the baselines (no model is fitted: the best baseline serves, as the pipeline does when no model
beats it), forecasts and decides, and writes every table the dashboard reads as a Delta table.
`build_wide_lake` scales the gold and business tables to thousands of products for timing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import polars as pl

from ecom_assets import forecasting, tables
from ecom_assets.generate import generate_orders
from ecom_assets.layouts import load_layouts
from ecom_assets.transforms import features, gold
from ecom_assets.transforms.bronze import combine_exports, read_export
from ecom_assets.transforms.decisions import decide, load_decision_rules
from ecom_assets.transforms.silver import annotate_orders, split_orders

HORIZON_DAYS = 30
BACKTEST_DAYS = 90
RUN_ID = "0123456789abcdef0123456789abcdef"


def write(lake: Path, name: str, frame: pl.DataFrame) -> None:
    """Write a frame as the next version of one of the lake's known tables."""
    frame.write_delta(tables.table_uri(name, str(lake)), mode="overwrite")


def _model_table(training: pl.DataFrame, plan: features.CutoffPlan) -> tuple[pl.DataFrame, str]:
    """The model table of a backtest of the baselines alone; the best one serves."""
    _, test = forecasting.split_by_time(training, plan)
    baselines = [c.removeprefix("baseline_") for c in features.BASELINE_COLUMNS]
    predictions = test.select(
        "product_id",
        "cutoff_date",
        pl.col("target").alias("actual"),
        *(pl.col(f"baseline_{b}").fill_null(0.0).alias(b) for b in baselines),
    )
    scores = pl.DataFrame(
        [{"candidate": b, **forecasting.score(predictions, b)} for b in baselines]
    )
    chosen = forecasting.best_baseline(scores)
    assert chosen is not None
    best = chosen["candidate"]
    low, high = forecasting.interval_offsets(predictions, best)
    description = f"baseline:{best} (no model beats it on the backtest)"
    table = scores.with_columns(
        pl.lit(RUN_ID).alias("run_id"),
        pl.lit("1").alias("model_version"),
        pl.lit(False).alias("promoted"),
        (pl.col("candidate") == best).alias("served"),
        pl.lit(f"baseline:{best}").alias("served_method"),
        pl.lit(None, pl.String).alias("served_model_version"),
        pl.lit(description).alias("served_description"),
        pl.lit(low).alias("interval_low"),
        pl.lit(high).alias("interval_high"),
        pl.lit(best).alias("best_baseline"),
    )
    return table, best


def build_lake(root: Path, rows: int = 20_000, seed: int = 11) -> Path:
    """Generate an export under `root/raw` and write the lake's tables under `root/lake`."""
    raw, lake = root / "raw", root / "lake"
    raw.mkdir(parents=True)
    export = raw / "orders.csv"
    generate_orders(export, rows=rows, seed=seed)
    bronze = combine_exports(
        [read_export(export, export.name, load_layouts(), datetime(2026, 11, 1, tzinfo=UTC))]
    ).collect()
    silver, rejected = pl.collect_all(split_orders(annotate_orders(bronze.lazy(), load_layouts())))
    as_of = gold.default_as_of_date(silver.lazy())
    assert as_of is not None
    daily = gold.daily_product_sales(silver.lazy(), as_of).collect()
    product_metrics = gold.product_metrics(silver.lazy(), as_of).collect()
    plan = features.plan_cutoffs(daily["date"].min(), as_of, HORIZON_DAYS, BACKTEST_DAYS)
    training = features.training_set(daily.lazy(), plan)
    model_table, best = _model_table(training, plan)
    served = model_table.row(0, named=True)
    rows_now = features.forecast_features(daily.lazy(), as_of, HORIZON_DAYS)
    forecast = forecasting.forecast_table(
        rows_now,
        rows_now[f"baseline_{best}"].fill_null(0.0).to_numpy(),
        served["served_method"],
        served["served_description"],
        (served["interval_low"], served["interval_high"]),
        HORIZON_DAYS,
        90,
        60,
    )
    facts = forecast.join(
        product_metrics.select(
            "product_id",
            "product_name",
            "category",
            "total_revenue",
            "total_orders",
            "total_quantity",
            "avg_rating",
            "current_price",
        ),
        on="product_id",
        how="left",
    )
    write(lake, "rejected_orders", rejected)
    write(lake, "monthly_sales", gold.monthly_sales(silver.lazy(), as_of).collect())
    write(lake, "product_metrics", product_metrics)
    write(lake, "category_metrics", gold.category_metrics(silver.lazy(), as_of).collect())
    write(lake, "revenue_model", model_table)
    write(lake, "revenue_forecast", forecast)
    write(lake, "product_decisions", decide(facts, load_decision_rules()))
    return lake


def build_wide_lake(template: Path, target: Path, products: int, seed: int = 5) -> Path:
    """Gold and business tables for `products` products over three years of months, with the
    schemas of the tables in `template`, and rejected rows as ten million lines would leave."""
    rng = np.random.default_rng(seed)
    as_of = date(2026, 9, 30)
    months = [date(2023 + (9 + m) // 12, (9 + m) % 12 + 1, 1) for m in range(36)]
    categories = [f"Category {c:02d}" for c in range(24)]
    ids = [f"product-{p:05d}" for p in range(products)]
    names = [f"Product {p:05d}" for p in range(products)]
    category_of = [categories[p % len(categories)] for p in range(products)]
    level = rng.lognormal(6, 1.2, products)

    catalogue = pl.DataFrame(
        {"product_id": ids, "product_name": names, "category": category_of, "level": level}
    )
    monthly = (
        pl.DataFrame({"month": months}, schema={"month": pl.Date})
        .join(catalogue, how="cross")
        .with_columns(
            (pl.col("level") * pl.Series(rng.gamma(4, 0.25, products * len(months))))
            .round(2)
            .alias("revenue")
        )
        .with_columns(
            (pl.col("revenue") / 20).round().cast(pl.Int64).alias("quantity"),
            (pl.col("revenue") / 25).round().cast(pl.Int64).alias("orders"),
            pl.lit(as_of).alias("as_of_date"),
        )
        .drop("level")
    )
    per_product = monthly.group_by(
        "product_id", "product_name", "category", maintain_order=True
    ).agg(
        pl.col("revenue").sum().alias("total_revenue"),
        pl.col("orders").sum().alias("total_orders"),
        pl.col("quantity").sum().alias("total_quantity"),
        pl.col("revenue").last().alias("revenue_last_period"),
    )
    predicted = per_product["revenue_last_period"].to_numpy() * rng.lognormal(0, 0.3, products)
    decisions_template = tables.read("product_decisions", str(template))
    reasons = decisions_template["action_reason"][0]
    decisions = per_product.with_columns(
        pl.Series("avg_rating", np.round(rng.uniform(2.5, 5, products), 2)),
        pl.Series("predicted_revenue", predicted),
        pl.Series("predicted_lower", predicted * 0.5),
        pl.Series("predicted_upper", predicted * 1.6),
    ).with_columns(
        (100 * (pl.col("predicted_revenue") / pl.col("revenue_last_period") - 1))
        .round(2)
        .alias("predicted_change_pct"),
        pl.when(pl.col("predicted_revenue") >= pl.col("predicted_revenue").quantile(0.8))
        .then(pl.lit("High"))
        .when(pl.col("predicted_revenue") < pl.col("predicted_revenue").quantile(0.4))
        .then(pl.lit("Low"))
        .otherwise(pl.lit("Medium"))
        .alias("performance_bucket"),
        pl.lit("maintain and monitor").alias("recommended_action"),
        pl.lit(reasons).alias("action_reason"),
        pl.lit("ecom_revenue_forecast v1").alias("model_version"),
        pl.lit(as_of).alias("as_of_date"),
        pl.lit(HORIZON_DAYS).alias("horizon_days"),
    )
    lake = target / "lake"
    write(
        lake, "monthly_sales", monthly.select(tables.read("monthly_sales", str(template)).columns)
    )
    write(lake, "product_decisions", decisions.select(decisions_template.columns))
    metrics_template = tables.read("product_metrics", str(template))
    write(
        lake,
        "product_metrics",
        decisions.select("product_id", "product_name", "category", "total_revenue", "total_orders")
        .join(
            metrics_template.drop("product_name", "category", "total_revenue", "total_orders")
            .head(1)
            .drop("product_id"),
            how="cross",
        )
        .select(metrics_template.columns),
    )
    category_template = tables.read("category_metrics", str(template))
    per_category = monthly.group_by("category").agg(
        pl.col("product_id").n_unique().cast(pl.Int64).alias("products"),
        pl.col("revenue").sum().alias("total_revenue"),
        pl.col("orders").sum().alias("total_orders"),
        pl.col("quantity").sum().alias("total_quantity"),
    )
    write(
        lake,
        "category_metrics",
        per_category.with_columns(
            pl.lit(4.2).alias("avg_rating"),
            (pl.col("total_revenue") / 36).alias("revenue_last_30d"),
            (pl.col("total_revenue") / 12).alias("revenue_last_90d"),
            (100 * pl.col("total_revenue") / pl.col("total_revenue").sum()).alias(
                "revenue_share_pct"
            ),
            pl.lit(as_of).alias("as_of_date"),
        ).select(category_template.columns),
    )
    write(lake, "revenue_model", tables.read("revenue_model", str(template)))
    rejected = tables.read("rejected_orders", str(template))
    copies = max(1, 200_000 // max(rejected.height, 1))
    write(lake, "rejected_orders", pl.concat([rejected] * copies))
    return lake
