"""Business layer: the decision table, what to expect from each product and what to do."""

import dagster as dg
import polars as pl

from ecom_assets.assets.checks import result_from_offenders
from ecom_assets.assets.gold import PRODUCT_METRICS
from ecom_assets.assets.ml import REVENUE_FORECAST
from ecom_assets.resources import ForecastSettings
from ecom_assets.transforms.decisions import ACTIONS, decide, load_decision_rules

PRODUCT_DECISIONS = dg.AssetKey(["business", "product_decisions"])
PRODUCT_FACTS = [
    "product_id",
    "product_name",
    "category",
    "total_revenue",
    "total_orders",
    "total_quantity",
    "avg_rating",
    "current_price",
]


@dg.asset(
    key=PRODUCT_DECISIONS,
    group_name="business",
    ins={
        "revenue_forecast": dg.AssetIn(key=REVENUE_FORECAST),
        "products": dg.AssetIn(key=PRODUCT_METRICS),
    },
)
def product_decisions(
    revenue_forecast: pl.DataFrame, products: pl.LazyFrame, forecast: ForecastSettings
) -> dg.Output[pl.DataFrame]:
    """Per active product: expected revenue, performance bucket, recommended action and why."""
    rules = load_decision_rules(forecast.rules_path())
    facts = revenue_forecast.join(
        products.select(PRODUCT_FACTS).collect(), on="product_id", how="left"
    )
    table = decide(facts, rules)
    actions = table.group_by("recommended_action").len().sort("len", descending=True)
    buckets = table.group_by("performance_bucket").len().sort("performance_bucket")
    return dg.Output(
        table,
        metadata={
            "products": table.height,
            **{f"action: {a}": n for a, n in actions.iter_rows()},
            **{f"bucket: {b}": n for b, n in buckets.iter_rows()},
            "model_version": ", ".join(table["model_version"].unique().sort().to_list()),
        },
    )


@dg.asset_check(
    asset=PRODUCT_DECISIONS, additional_ins={"revenue_forecast": dg.AssetIn(key=REVENUE_FORECAST)}
)
def one_decision_per_forecast_product(
    product_decisions: pl.DataFrame, revenue_forecast: pl.DataFrame
) -> dg.AssetCheckResult:
    """Exactly one decision row for every product with a forecast, and none for others."""
    counts = product_decisions.group_by("product_id").len()
    offenders = (
        revenue_forecast.select("product_id")
        .join(counts, on="product_id", how="full", coalesce=True)
        .filter(pl.col("len").is_null() | (pl.col("len") != 1))
    )
    return result_from_offenders(offenders, "products without exactly one decision")


@dg.asset_check(asset=PRODUCT_DECISIONS)
def actions_in_vocabulary(product_decisions: pl.DataFrame) -> dg.AssetCheckResult:
    """Every recommended action is one of the documented vocabulary, with a reason."""
    offenders = product_decisions.filter(
        ~pl.col("recommended_action").is_in(list(ACTIONS))
        | pl.col("action_reason").is_null()
        | (pl.col("action_reason").str.len_chars() == 0)
    ).select("product_id", "recommended_action", "action_reason")
    return result_from_offenders(offenders, "decisions outside the action vocabulary")


@dg.asset_check(
    asset=PRODUCT_DECISIONS,
    additional_ins={
        "product_metrics": dg.AssetIn(key=PRODUCT_METRICS),
        "category_metrics": dg.AssetIn(key=dg.AssetKey(["gold", "category_metrics"])),
        "monthly_sales": dg.AssetIn(key=dg.AssetKey(["gold", "monthly_sales"])),
    },
)
def ask_benchmark_answered_correctly(
    product_decisions: pl.DataFrame,
    product_metrics: pl.DataFrame,
    category_metrics: pl.DataFrame,
    monthly_sales: pl.DataFrame,
) -> dg.AssetCheckResult:
    """The assistant answers every benchmark question correctly on the freshly built tables."""
    from ecom_assets.ask import Asker
    from ecom_assets.ask.benchmark import run_benchmark

    asker = Asker(
        frames={
            "product_decisions": product_decisions,
            "product_metrics": product_metrics,
            "category_metrics": category_metrics,
            "monthly_sales": monthly_sales,
        }
    )
    result = run_benchmark(asker)
    failures = pl.DataFrame(
        [{"id": f.id, "question": f.question, "reason": f.reason} for f in result.failures],
        schema={"id": pl.String, "question": pl.String, "reason": pl.String},
    )
    return result_from_offenders(
        failures,
        "benchmark questions answered wrongly",
        metadata={
            "questions": result.total,
            "correct": result.correct,
            "accuracy": round(result.accuracy, 4),
        },
    )
