"""MLflow: one run per training, the model registered under one name, and the champion gate.

A new model version becomes the `champion` alias only when it beats the best baseline on the
backtest (lower WAPE, bias within 10%) and the current champion (lower WAPE than the champion's
own backtest). The forecast uses the champion only when it also beats the best baseline on the
current backtest (it is re-scored on the same test rows); otherwise the best baseline serves.
When the history is too short to fit the model, the run holds the baselines' backtest only and
registers nothing; what serves is then `forecasting.serve_without_model`. Every run is tagged
`served_by` with the sentence that says what serves and why, and holds the backtest predictions
(`backtest_predictions.csv`) and scores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from importlib import metadata
from typing import Any

import mlflow
import polars as pl
from matplotlib.figure import Figure
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from ecom_assets import settings
from ecom_assets.forecasting import (
    MAX_BIAS_PCT,
    MODEL_FORMAT,
    SCORE_NAMES,
    Backtest,
    Served,
    beats,
    best_baseline,
    score,
    sentence,
    serve_without_model,
    to_model_input,
)

MODEL_NAME = "ecom_revenue_forecast"
EXPERIMENT_NAME = "ecom-revenue-forecast"
CHAMPION = "champion"
SKOPS_TRUSTED_TYPES = [
    "ecom_assets.forecasting.BaselineRatioRegressor",
    "ecom_assets.forecasting.ModelSettings",
    "functools.partial",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils.validation.check_array",
]


SERVED_BY_TAG = "served_by"
FORMAT_TAG = "model_format"
PREDICTIONS_ARTIFACT = "backtest_predictions.csv"


@dataclass(frozen=True)
class TrainingRecord:
    """The outcome of one training: its run, its version (None when no model was fitted), and
    what the forecast will use."""

    run_id: str
    version: str | None
    promoted: bool
    served: Served


@dataclass(frozen=True)
class FittedModel:
    """This run's model: refitted on every training row, with its permutation importance and
    its prediction-interval offsets on the backtest."""

    final: Any
    importance: pl.DataFrame
    offsets: tuple[float, float]


def client(tracking_uri: str, artifact_location: str) -> MlflowClient:
    """A client on the tracking store, with the experiment created if missing."""
    settings.use_aws_endpoint_for_mlflow()
    mlflow.set_tracking_uri(tracking_uri)
    tracking = MlflowClient()
    if tracking.get_experiment_by_name(EXPERIMENT_NAME) is None:
        tracking.create_experiment(EXPERIMENT_NAME, artifact_location=artifact_location)
    mlflow.set_experiment(EXPERIMENT_NAME)
    return tracking


def _champion(tracking: MlflowClient) -> Any | None:
    """The champion version, unless it was registered in an older MODEL_FORMAT (which the
    current model class cannot load)."""
    try:
        champion = tracking.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    except mlflow.exceptions.MlflowException:
        return None
    return champion if champion.tags.get(FORMAT_TAG) == MODEL_FORMAT else None


def _backtest_plot(predictions: pl.DataFrame) -> Figure:
    figure = Figure(figsize=(6, 6))
    axes = figure.subplots()
    axes.scatter(predictions["actual"], predictions["model"], s=6, alpha=0.4, label="model")
    top = predictions.select(pl.max_horizontal(pl.col("actual", "model").max(), 1.0)).item()
    axes.plot([1, top], [1, top], color="grey", linewidth=1, label="perfect")
    axes.set(xscale="symlog", yscale="symlog", xlabel="actual revenue", ylabel="predicted revenue")
    axes.set_title("Backtest: next-period revenue per product and cutoff")
    axes.legend()
    return figure


def _importance_plot(importance: pl.DataFrame) -> Figure:
    ordered = importance.sort("importance")
    figure = Figure(figsize=(7, 6))
    axes = figure.subplots()
    axes.barh(ordered["feature"], ordered["importance"])
    axes.set(xlabel="permutation importance (drop in R² when shuffled)")
    axes.set_title("Feature importance on the backtest")
    figure.tight_layout()
    return figure


def log_training(
    tracking: MlflowClient,
    backtest: Backtest,
    fitted: FittedModel | None,
    test_rows: pl.DataFrame,
    params: dict[str, Any],
    unfit_reason: str | None,
) -> TrainingRecord:
    """Log one training run, register its model, apply the champion gate, and say what serves.

    `fitted` is None when the model was not fitted, for `unfit_reason`; then the run logs the
    baselines' backtest only and `forecasting.serve_without_model` decides what serves.
    `test_rows` are the backtest's feature rows (to re-score the champion on).
    """
    best = best_baseline(backtest.scores)
    with mlflow.start_run(run_name=f"revenue-model-{params['as_of_date']}") as run:
        mlflow.log_params(
            {
                **params,
                "best_baseline": best["candidate"] if best else None,
                "model_fitted": fitted is not None,
            }
        )
        mlflow.log_metrics(
            {
                f"{row['candidate']}_{metric}": float(value)
                for row in backtest.scores.iter_rows(named=True)
                for metric, value in row.items()
                if metric != "candidate" and value is not None and math.isfinite(value)
            }
        )
        mlflow.log_text(backtest.scores.write_csv(), "backtest_scores.csv")
        mlflow.log_text(backtest.predictions.write_csv(), PREDICTIONS_ARTIFACT)
        version = _log_model(fitted, backtest, test_rows) if fitted else None
    if fitted is None or version is None or best is None:
        record = TrainingRecord(
            run.info.run_id, None, False, serve_without_model(backtest, unfit_reason or "")
        )
    else:
        promoted, served = _gate(tracking, fitted, version, backtest, test_rows, best)
        record = TrainingRecord(run.info.run_id, version, promoted, served)
    tracking.set_tag(record.run_id, SERVED_BY_TAG, record.served.description)
    return record


def _gate(
    tracking: MlflowClient,
    fitted: FittedModel,
    version: str,
    backtest: Backtest,
    test_rows: pl.DataFrame,
    best: dict[str, Any],
) -> tuple[bool, Served]:
    """Promote this run's model version when it beats the best baseline and the champion's own
    backtest; say what serves."""
    champion = _champion(tracking)
    champion_wape = (
        tracking.get_run(champion.run_id).data.metrics.get("model_wape") if champion else None
    )
    candidate = backtest.scores.filter(pl.col("candidate") == "model").row(0, named=True)
    promoted = beats(candidate, best["wape"]) and (
        champion_wape is None or candidate["wape"] < champion_wape
    )
    tracking.set_model_version_tag(MODEL_NAME, version, "promoted", str(promoted).lower())
    tracking.set_model_version_tag(MODEL_NAME, version, FORMAT_TAG, MODEL_FORMAT)
    if not promoted:
        return False, _champion_or_baseline(tracking, champion, backtest, test_rows, best, version)
    tracking.set_registered_model_alias(MODEL_NAME, CHAMPION, version)
    why = (
        f"the model beats the best baseline {best['candidate']} on the backtest "
        f"(WAPE {candidate['wape']:.3f} vs {best['wape']:.3f}, bias {candidate['bias_pct']:+.1f}%)"
    )
    return True, Served(
        "model", "model", version, *fitted.offsets, sentence(f"{MODEL_NAME} v{version}", why)
    )


def _log_model(fitted: FittedModel, backtest: Backtest, test_rows: pl.DataFrame) -> str:
    """Log the fitted model's plots, interval and model into the active run, register it, and
    return its version."""
    mlflow.log_metrics({"interval_low": fitted.offsets[0], "interval_high": fitted.offsets[1]})
    mlflow.log_figure(_backtest_plot(backtest.predictions), "backtest_actual_vs_predicted.png")
    mlflow.log_figure(_importance_plot(fitted.importance), "feature_importance.png")
    example = to_model_input(test_rows.head(5))
    logged = mlflow.sklearn.log_model(
        fitted.final,
        name="model",
        signature=infer_signature(example, fitted.final.predict(example)),
        input_example=example,
        registered_model_name=MODEL_NAME,
        serialization_format="skops",
        skops_trusted_types=SKOPS_TRUSTED_TYPES,
        pip_requirements=_requirements(),
    )
    return str(logged.registered_model_version)


def _champion_or_baseline(
    tracking: MlflowClient,
    champion: Any | None,
    backtest: Backtest,
    test_rows: pl.DataFrame,
    best_baseline: dict[str, Any],
    version: str,
) -> Served:
    """The current champion if it beats the best baseline on this backtest, else that baseline;
    `version` is this run's model, which was not promoted.

    A champion trained only on data before the first test cutoff is re-scored on the test rows;
    one that has seen their targets (same or overlapping data) keeps the scores of its own
    backtest, so that no leaked score decides what serves.
    """
    if champion is not None:
        run = tracking.get_run(champion.run_id)
        trained_until = date.fromisoformat(run.data.params["as_of_date"])
        if trained_until < min(backtest.test_cutoffs):
            model = load_model(str(champion.version))
            predictions = backtest.predictions.with_columns(
                pl.Series("champion", model.predict(to_model_input(test_rows))).clip(0)
            )
            current = score(predictions, "champion")
        else:
            current = {name: run.data.metrics[f"model_{name}"] for name in SCORE_NAMES}
        if beats(current, best_baseline["wape"]):
            why = (
                f"the champion beats the best baseline {best_baseline['candidate']} on the "
                f"backtest (WAPE {current['wape']:.3f} vs {best_baseline['wape']:.3f}) and this "
                f"run's model v{version} was not promoted"
            )
            return Served(
                candidate="champion",
                method="model",
                model_version=str(champion.version),
                interval_low=run.data.metrics["interval_low"],
                interval_high=run.data.metrics["interval_high"],
                description=sentence(f"{MODEL_NAME} v{champion.version}", why),
                scores=current,
            )
    model = backtest.scores.filter(pl.col("candidate") == "model").row(0, named=True)
    return serve_without_model(
        backtest,
        f"no model beats it on the backtest (WAPE {best_baseline['wape']:.3f} vs this run's "
        f"model {model['wape']:.3f} with a bias of {model['bias_pct']:+.1f}%; the gate needs a "
        f"lower WAPE and a bias within {MAX_BIAS_PCT:.0f}%)",
    )


def _requirements() -> list[str]:
    """The model's pip requirements, pinned to what trained it (inferring them takes seconds).

    The model class lives in this project, so loading it also needs `ecom_assets` importable.
    """
    return [
        f"{name}=={metadata.version(name)}"
        for name in ("scikit-learn", "numpy", "pandas", "polars")
    ]


def load_model(version: str) -> Any:
    """A registered model version, ready to predict (on the tracking store set by `client`)."""
    return mlflow.sklearn.load_model(f"models:/{MODEL_NAME}/{version}")
