"""ML layer: the training set, the revenue model tracked in MLflow, and the revenue forecast."""

from typing import Any

import dagster as dg
import polars as pl

from ecom_assets.assets.checks import markdown_table, result_from_offenders
from ecom_assets.assets.gold import DAILY_PRODUCT_SALES, PRODUCT_METRICS
from ecom_assets.resources import ForecastSettings, MlflowTracking
from ecom_assets.transforms import features

TRAINING_SET = dg.AssetKey(["ml", "product_training_set"])
REVENUE_MODEL = dg.AssetKey(["ml", "revenue_model"])
REVENUE_FORECAST = dg.AssetKey(["ml", "revenue_forecast"])


def _as_of(daily: pl.LazyFrame) -> Any:
    return daily.select(pl.col("as_of_date").max()).collect().item()


@dg.asset(key=TRAINING_SET, group_name="ml", ins={"daily": dg.AssetIn(key=DAILY_PRODUCT_SALES)})
def product_training_set(
    daily: pl.LazyFrame, forecast: ForecastSettings
) -> dg.Output[pl.DataFrame]:
    """(product, cutoff) rows: features from before each cutoff, next-horizon revenue as target."""
    table = features.training_set(daily, _as_of(daily), forecast.horizon_days)
    return dg.Output(
        table,
        metadata={
            "cutoffs": table["cutoff_date"].n_unique(),
            "first_cutoff": str(table["cutoff_date"].min()),
            "last_cutoff": str(table["cutoff_date"].max()),
            "products": table["product_id"].n_unique(),
        },
    )


@dg.asset(key=REVENUE_MODEL, group_name="ml", ins={"training": dg.AssetIn(key=TRAINING_SET)})
def revenue_model(
    context: dg.AssetExecutionContext,
    training: pl.DataFrame,
    forecast: ForecastSettings,
    mlflow: MlflowTracking,
) -> dg.Output[pl.DataFrame]:
    """Backtest the model against the baselines; log, register and gate it in MLflow."""
    from ecom_assets import forecasting, tracking

    model_settings = forecasting.ModelSettings()
    backtest, fitted = forecasting.backtest(
        training, forecast.horizon_days, forecast.backtest_days, model_settings
    )
    best = forecasting.best_baseline(backtest.scores)
    test = training.filter(pl.col("cutoff_date").is_in(backtest.test_cutoffs))
    importance = forecasting.feature_importance(fitted, test, test["target"].to_numpy())
    final = forecasting.fit_final(training, model_settings)
    offsets = {
        name: forecasting.interval_offsets(backtest.predictions, name)
        for name in ("model", best["candidate"])
    }
    as_of = training["cutoff_date"].max() + pl.duration(days=forecast.horizon_days - 1)
    params = {
        **model_settings.params(),
        "as_of_date": str(pl.select(as_of).item()),
        "horizon_days": forecast.horizon_days,
        "backtest_days": forecast.backtest_days,
        "train_rows": backtest.train_rows,
        "test_rows": backtest.predictions.height,
        "test_cutoffs": len(backtest.test_cutoffs),
    }
    record = tracking.log_training(
        mlflow.client(), backtest, final, test, importance, params, best, offsets
    )
    served = record.served
    context.log.info(f"MLflow run {record.run_id}: version {record.version}, serving {served}")
    scores = backtest.scores
    if served.scores is not None:
        scores = pl.concat([scores, pl.DataFrame([{"candidate": "champion", **served.scores}])])
    table = scores.with_columns(
        pl.lit(record.run_id).alias("run_id"),
        pl.lit(record.version).alias("model_version"),
        pl.lit(record.promoted).alias("promoted"),
        (pl.col("candidate") == served.candidate).alias("served"),
        pl.lit(served.method).alias("served_method"),
        pl.lit(served.model_version).cast(pl.String).alias("served_model_version"),
        pl.lit(served.description).alias("served_description"),
        pl.lit(served.interval_low).alias("interval_low"),
        pl.lit(served.interval_high).alias("interval_high"),
        pl.lit(best["candidate"]).alias("best_baseline"),
    )
    model_scores = backtest.scores.filter(pl.col("candidate") == "model").row(0, named=True)
    return dg.Output(
        table,
        metadata={
            "mlflow_run_id": record.run_id,
            "model_version": record.version,
            "promoted_to_champion": record.promoted,
            "served_by": served.description,
            "best_baseline": best["candidate"],
            **{f"model_{k}": round(v, 4) for k, v in model_scores.items() if k != "candidate"},
            "best_baseline_wape": round(best["wape"], 4),
            "backtest": dg.MetadataValue.md(_scores_markdown(backtest.scores)),
        },
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
    """What serves the forecast is at least as good as the best baseline on the backtest."""
    from ecom_assets.forecasting import MAX_BIAS_PCT

    baselines = revenue_model.filter(pl.col("candidate") == pl.col("best_baseline"))
    served = revenue_model.filter(pl.col("served"))
    best_wape = baselines["wape"].item()
    offenders = served.filter(
        (pl.col("wape") > best_wape)
        | ((pl.col("candidate") == "model") & (pl.col("bias_pct").abs() > MAX_BIAS_PCT))
    )
    if served.height != 1:
        offenders = revenue_model.head(1)
    return result_from_offenders(
        offenders.select("candidate", "wape", "bias_pct", "served_description"),
        "served forecasts worse than the best baseline",
        metadata={"best_baseline_wape": best_wape},
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
        baseline = served["served_method"].removeprefix("baseline:")
        prediction = rows[f"baseline_{baseline}"].fill_null(0.0).to_numpy()
    table = forecasting.forecast_table(
        rows,
        prediction,
        served["served_method"],
        served["served_description"],
        (served["interval_low"], served["interval_high"]),
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
    """One finite, non-negative forecast per active product, inside its interval."""
    from ecom_assets.transforms.quality import invalid_forecasts

    offenders = invalid_forecasts(revenue_forecast, products.collect(), forecast.active_within_days)
    return result_from_offenders(offenders, "products with a missing or invalid forecast")
