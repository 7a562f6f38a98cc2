"""MLflow: one run per training, the model registered under one name, and the champion gate.

A new model version becomes the `champion` alias only when it beats the best baseline on the
backtest (lower WAPE, bias within 10%) and the current champion (lower WAPE than the champion's
own backtest). The forecast uses the champion only when it also beats the best baseline on the
current backtest (it is re-scored on the same test rows); otherwise the best baseline serves.
"""

from __future__ import annotations

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
from ecom_assets.forecasting import SCORE_NAMES, Backtest, beats, score, to_model_input

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


@dataclass(frozen=True)
class Served:
    """What the forecast uses: a registered model version, or a baseline.

    `candidate` names its row in the backtest scores ("model", "champion" or a baseline);
    `scores` holds the champion's scores on the current backtest when the champion serves.
    """

    candidate: str
    method: str
    model_version: str | None
    interval_low: float
    interval_high: float
    description: str
    scores: dict[str, float] | None = None


@dataclass(frozen=True)
class TrainingRecord:
    """The outcome of one training: its run, its version, and what the forecast will use."""

    run_id: str
    version: str
    promoted: bool
    served: Served


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
    try:
        return tracking.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    except mlflow.exceptions.MlflowException:
        return None


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
    final_model: Any,
    test_rows: pl.DataFrame,
    importance: pl.DataFrame,
    params: dict[str, Any],
    best_baseline: dict[str, Any],
    offsets: dict[str, tuple[float, float]],
) -> TrainingRecord:
    """Log one training run, register its model, apply the champion gate, and say what serves.

    `test_rows` are the backtest's feature rows (to re-score the champion on); `offsets` holds
    the prediction-interval offsets of "model" and of the best baseline.
    """
    scores = {row["candidate"]: row for row in backtest.scores.iter_rows(named=True)}
    candidate = scores["model"]
    champion = _champion(tracking)
    champion_wape = (
        tracking.get_run(champion.run_id).data.metrics.get("model_wape") if champion else None
    )
    with mlflow.start_run(run_name=f"revenue-model-{params['as_of_date']}") as run:
        mlflow.log_params({**params, "best_baseline": best_baseline["candidate"]})
        mlflow.log_metrics(
            {
                f"{name}_{metric}": float(value)
                for name, row in scores.items()
                for metric, value in row.items()
                if metric != "candidate" and value is not None
            }
        )
        mlflow.log_metrics(
            {"interval_low": offsets["model"][0], "interval_high": offsets["model"][1]}
        )
        mlflow.log_figure(_backtest_plot(backtest.predictions), "backtest_actual_vs_predicted.png")
        mlflow.log_figure(_importance_plot(importance), "feature_importance.png")
        mlflow.log_text(backtest.scores.write_csv(), "backtest_scores.csv")
        example = to_model_input(test_rows.head(5))
        logged = mlflow.sklearn.log_model(
            final_model,
            name="model",
            signature=infer_signature(example, final_model.predict(example)),
            input_example=example,
            registered_model_name=MODEL_NAME,
            serialization_format="skops",
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
            pip_requirements=_requirements(),
        )
    version = str(logged.registered_model_version)
    promoted = beats(candidate, best_baseline["wape"]) and (
        champion_wape is None or candidate["wape"] < champion_wape
    )
    tracking.set_model_version_tag(MODEL_NAME, version, "promoted", str(promoted).lower())
    if promoted:
        tracking.set_registered_model_alias(MODEL_NAME, CHAMPION, version)
        served = Served("model", "model", version, *offsets["model"], f"{MODEL_NAME} v{version}")
    else:
        served = _champion_or_baseline(
            tracking, champion, backtest, test_rows, best_baseline, offsets
        )
    return TrainingRecord(run.info.run_id, version, promoted, served)


def _champion_or_baseline(
    tracking: MlflowClient,
    champion: Any | None,
    backtest: Backtest,
    test_rows: pl.DataFrame,
    best_baseline: dict[str, Any],
    offsets: dict[str, tuple[float, float]],
) -> Served:
    """The current champion if it beats the best baseline on this backtest, else that baseline.

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
            return Served(
                candidate="champion",
                method="model",
                model_version=str(champion.version),
                interval_low=run.data.metrics["interval_low"],
                interval_high=run.data.metrics["interval_high"],
                description=f"{MODEL_NAME} v{champion.version}",
                scores=current,
            )
    name = best_baseline["candidate"]
    return Served(
        candidate=name,
        method=f"baseline:{name}",
        model_version=None,
        interval_low=offsets[name][0],
        interval_high=offsets[name][1],
        description=f"baseline:{name} (no model beats it on the backtest)",
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
