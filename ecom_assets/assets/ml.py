"""ML layer: the training set, the revenue model tracked in MLflow, and the revenue forecast."""

import math
from typing import TYPE_CHECKING, Any

import dagster as dg
import polars as pl

from ecom_assets.assets.checks import markdown_table, result_from_offenders
from ecom_assets.assets.gold import DAILY_PRODUCT_SALES, PRODUCT_METRICS
from ecom_assets.resources import ForecastSettings, MlflowTracking
from ecom_assets.runs import WRITERS_POOL
from ecom_assets.transforms import features

if TYPE_CHECKING:
    from ecom_assets.forecasting import Backtest
    from ecom_assets.tracking import TrainingRecord

TRAINING_SET = dg.AssetKey(["ml", "product_training_set"])
REVENUE_MODEL = dg.AssetKey(["ml", "revenue_model"])
REVENUE_FORECAST = dg.AssetKey(["ml", "revenue_forecast"])


def _as_of(daily: pl.LazyFrame) -> Any:
    return daily.select(pl.col("as_of_date").max()).collect().item()


def _plan(daily: pl.LazyFrame, forecast: ForecastSettings) -> features.CutoffPlan:
    as_of = _as_of(daily)
    return features.plan_cutoffs(
        features.store_first_day(daily, as_of), as_of, forecast.horizon_days, forecast.backtest_days
    )


@dg.asset(key=TRAINING_SET, group_name="ml", ins={"daily": dg.AssetIn(key=DAILY_PRODUCT_SALES)})
def product_training_set(
    daily: pl.LazyFrame, forecast: ForecastSettings
) -> dg.Output[pl.DataFrame]:
    """(product, cutoff) rows: features from before each cutoff, next-horizon revenue as target."""
    plan = _plan(daily, forecast)
    table = features.training_set(daily, plan)
    return dg.Output(
        table,
        metadata={
            "history_days": plan.history_days,
            "cutoffs": table["cutoff_date"].n_unique(),
            "first_cutoff": str(table["cutoff_date"].min() or "none"),
            "last_cutoff": str(table["cutoff_date"].max() or "none"),
            "backtest_test_days": plan.test_days,
            "products": table["product_id"].n_unique(),
        },
    )


@dg.asset(
    key=REVENUE_MODEL,
    group_name="ml",
    pool=WRITERS_POOL,
    ins={
        "training": dg.AssetIn(key=TRAINING_SET),
        "daily": dg.AssetIn(key=DAILY_PRODUCT_SALES),
    },
)
def revenue_model(
    context: dg.AssetExecutionContext,
    training: pl.DataFrame,
    daily: pl.LazyFrame,
    forecast: ForecastSettings,
    mlflow: MlflowTracking,
) -> dg.Output[pl.DataFrame]:
    """Backtest the model and the baselines, gate them in MLflow, and say what serves and why."""
    from ecom_assets import forecasting, tracking

    model_settings = forecasting.ModelSettings()
    plan = _plan(daily, forecast)
    train, test = forecasting.split_by_time(training, plan)
    unfit_reason = forecasting.model_unfit_reason(plan, train.height, test.height, model_settings)
    backtest, fitted = forecasting.backtest(train, test, model_settings, unfit_reason is None)
    fitted_model = None
    if fitted is not None:
        fitted_model = tracking.FittedModel(
            final=forecasting.fit_final(training, model_settings),
            importance=forecasting.feature_importance(fitted, test, test["target"].to_numpy()),
            offsets=forecasting.interval_offsets(backtest.predictions, "model"),
        )
    params = {
        **model_settings.params(),
        "as_of_date": str(plan.as_of),
        "horizon_days": forecast.horizon_days,
        "backtest_days": forecast.backtest_days,
        "history_days": plan.history_days,
        "test_days": plan.test_days,
        "train_cutoffs": plan.train_cutoffs,
        "train_rows": backtest.train_rows,
        "test_rows": backtest.predictions.height,
        "test_cutoffs": len(backtest.test_cutoffs),
    }
    record = tracking.log_training(
        mlflow.client(), backtest, fitted_model, test, params, unfit_reason
    )
    served = record.served
    context.log.info(f"MLflow run {record.run_id}: {served.description}")
    table = _model_card(backtest, record)
    return dg.Output(
        table,
        metadata={
            "served_by": served.description,
            "mlflow_run_id": record.run_id,
            "model_version": record.version or "none (no model fitted)",
            "promoted_to_champion": record.promoted,
            "best_baseline": str(table["best_baseline"][0] or "none"),
            "history_days": plan.history_days,
            "backtest_test_days": plan.test_days,
            "train_rows": backtest.train_rows,
            "test_rows": backtest.predictions.height,
            **{
                f"model_{k}": round(v, 4)
                for row in backtest.scores.filter(pl.col("candidate") == "model").iter_rows(
                    named=True
                )
                for k, v in row.items()
                if k != "candidate" and math.isfinite(v)
            },
            "backtest": dg.MetadataValue.md(_scores_markdown(backtest.scores)),
        },
    )


def _model_card(backtest: "Backtest", record: "TrainingRecord") -> pl.DataFrame:
    """The backtest scores (with the champion's, when it serves, or an unscored run-rate row,
    when nothing could be scored) and what serves, one row per candidate."""
    from ecom_assets import forecasting

    served = record.served
    scores = backtest.scores
    extra = []
    if served.scores is not None:
        extra.append({"candidate": "champion", **served.scores})
    if served.candidate == forecasting.RUN_RATE:
        extra.append({"candidate": forecasting.RUN_RATE})
    if extra:
        scores = pl.concat([scores, pl.DataFrame(extra, schema=scores.schema)])
    best = forecasting.best_baseline(backtest.scores)
    return scores.with_columns(
        pl.lit(record.run_id).alias("run_id"),
        pl.lit(record.version, pl.String).alias("model_version"),
        pl.lit(record.promoted).alias("promoted"),
        (pl.col("candidate") == served.candidate).alias("served"),
        pl.lit(served.method).alias("served_method"),
        pl.lit(served.model_version, pl.String).alias("served_model_version"),
        pl.lit(served.description).alias("served_description"),
        pl.lit(served.interval_low, pl.Float64).alias("interval_low"),
        pl.lit(served.interval_high, pl.Float64).alias("interval_high"),
        pl.lit(best["candidate"] if best else None, pl.String).alias("best_baseline"),
    )


def _scores_markdown(scores: pl.DataFrame) -> str:
    rounded = scores.select(
        "candidate",
        pl.col("rmse", "mae").round(1),
        pl.col("wape").round(3),
        pl.col("bias_pct").round(1),
        pl.col("rank_corr", "bucket_agreement").round(3),
    )
    return markdown_table(rounded)


@dg.asset_check(asset=REVENUE_MODEL, blocking=True)
def served_forecast_beats_best_baseline(revenue_model: pl.DataFrame) -> dg.AssetCheckResult:
    """What serves is at least as good as the best baseline; the run rate, only with no backtest."""
    from ecom_assets.forecasting import MAX_BIAS_PCT, RUN_RATE, best_baseline

    served = revenue_model.filter(pl.col("served"))
    best = best_baseline(revenue_model.filter(pl.col("wape").is_not_null()))
    best_wape = best["wape"] if best else None
    if served.height != 1:
        offenders = revenue_model.head(1)
    elif best is None:
        offenders = served.filter(pl.col("candidate") != RUN_RATE)
    else:
        offenders = served.filter(
            (pl.col("candidate") == RUN_RATE)
            | pl.col("wape").is_null()
            | (pl.col("wape") > best_wape)
            | ((pl.col("served_method") == "model") & (pl.col("bias_pct").abs() > MAX_BIAS_PCT))
        )
    return result_from_offenders(
        offenders.select("candidate", "wape", "bias_pct", "served_description"),
        "served forecasts worse than the best baseline",
        metadata={
            "best_baseline": best["candidate"] if best else "none (nothing could be backtested)",
            "best_baseline_wape": best_wape,
            "served_by": str(revenue_model["served_description"][0]),
        },
    )


@dg.asset(
    key=REVENUE_FORECAST,
    group_name="ml",
    ins={
        "daily": dg.AssetIn(key=DAILY_PRODUCT_SALES),
        "model_card": dg.AssetIn(key=REVENUE_MODEL),
    },
)
def revenue_forecast(
    daily: pl.LazyFrame,
    model_card: pl.DataFrame,
    forecast: ForecastSettings,
    mlflow: MlflowTracking,
) -> dg.Output[pl.DataFrame]:
    """Per active product: revenue over the next horizon, an 80% interval, and what made it."""
    from ecom_assets import forecasting

    served = model_card.row(0, named=True)
    rows = features.forecast_features(daily, _as_of(daily), forecast.horizon_days)
    if served["served_method"] == "model":
        from ecom_assets import tracking

        mlflow.client()
        model = tracking.load_model(served["served_model_version"])
        prediction = model.predict(forecasting.to_model_input(rows))
    else:
        prediction = forecasting.served_prediction(rows, served["served_method"])
    measured = served["interval_low"] is not None
    table = forecasting.forecast_table(
        rows,
        prediction,
        served["served_method"],
        served["served_description"],
        (served["interval_low"], served["interval_high"]) if measured else None,
        forecast.horizon_days,
        forecast.active_within_days,
        forecast.new_product_days,
    )
    return dg.Output(
        table,
        metadata={
            "products": table.height,
            "served_by": served["served_description"],
            "new_products": table.filter(
                pl.col("forecast_method") == forecasting.NEW_PRODUCT_METHOD
            ).height,
            "predicted_revenue": round(float(table["predicted_revenue"].sum()), 2),
        },
    )


@dg.asset_check(
    asset=REVENUE_FORECAST,
    blocking=True,
    additional_ins={"products": dg.AssetIn(key=PRODUCT_METRICS)},
)
def forecasts_valid_for_every_active_product(
    revenue_forecast: pl.DataFrame, products: pl.LazyFrame, forecast: ForecastSettings
) -> dg.AssetCheckResult:
    """One finite, non-negative forecast per active product, in its interval, with its source."""
    from ecom_assets.transforms.quality import invalid_forecasts

    offenders = invalid_forecasts(revenue_forecast, products.collect(), forecast.active_within_days)
    untold = revenue_forecast.filter(
        pl.col("model_version").is_null() | (pl.col("model_version").str.strip_chars() == "")
    ).select("product_id", pl.lit("no_model_version").alias("problem"))
    return result_from_offenders(
        pl.concat([offenders, untold]), "products with a missing or invalid forecast"
    )
