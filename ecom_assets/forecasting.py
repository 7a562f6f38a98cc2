"""The revenue model, its baselines and the backtest that judges them; no Dagster, no MLflow.

A time-based backtest: the test set is the latest `test_days` of cutoffs, the model learns only
from cutoffs whose whole target window ends before the first test cutoff, and every candidate
(the model, the linear comparison and four baselines) is scored on the same test rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
import polars as pl
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from ecom_assets.transforms.decisions import NEW_PRODUCT_METHOD
from ecom_assets.transforms.features import (
    BASELINE_COLUMNS,
    CATEGORICAL_FEATURES,
    FEATURES,
    NUMERIC_FEATURES,
)

BUCKET_QUANTILES = (0.4, 0.8)
INTERVAL_QUANTILES = (0.1, 0.9)
MAX_BIAS_PCT = 10.0
SCORE_NAMES = ("rmse", "mae", "wape", "bias_pct", "rank_corr", "bucket_agreement")


@dataclass(frozen=True)
class ModelSettings:
    """How the gradient-boosted model is trained and judged."""

    loss: str = "poisson"
    learning_rate: float = 0.05
    max_iter: int = 200
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 40
    l2_regularization: float = 1.0
    random_state: int = 0

    def params(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Backtest:
    """Test rows with every candidate's prediction, and the scores of each candidate."""

    predictions: pl.DataFrame
    scores: pl.DataFrame
    train_rows: int
    test_cutoffs: list[Any] = field(default_factory=list)


RELATIVE_FEATURES = [
    "revenue_7d",
    "revenue_30d",
    "revenue_90d",
    "revenue_365d",
    "revenue_same_period_last_year",
]
MODEL_INPUTS = [*FEATURES, "baseline_naive", "baseline_ma90"]


def _bin_edges(column: np.ndarray, bins: int = 255) -> np.ndarray:
    """Edges splitting a column's non-missing values into `bins` equally populated bins."""
    present = column[~np.isnan(column)]
    if present.size == 0:
        return np.array([])
    return np.unique(np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1]))


def _to_bins(column: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Each value's bin number (missing values stay missing)."""
    return np.where(np.isnan(column), np.nan, np.searchsorted(edges, column, side="left"))


class BaselineRatioRegressor(BaseEstimator, RegressorMixin):
    """Gradient boosting that learns how next period's revenue differs from a recent level.

    The level is the mean of the last-period and 90-day-average baselines (plus 1, so it is never
    zero); the trees fit revenue / level with the level as sample weight under a Poisson loss,
    which is a Poisson model of revenue with the level as offset. Revenue windows enter relative
    to the level, so the same tree serves small and large products. Numbers are binned by
    unweighted quantiles before the trees see them: scikit-learn's own binning computes weighted
    quantiles when there are sample weights, which took 2 of the 2.6 s of each fit.
    """

    def __init__(self, settings: ModelSettings | None = None) -> None:
        self.settings = settings

    @staticmethod
    def _level(frame: Any) -> np.ndarray:
        naive = frame["baseline_naive"].fillna(0).to_numpy(dtype=float)
        ma90 = frame["baseline_ma90"].fillna(0).to_numpy(dtype=float)
        return np.asarray(0.5 * naive + 0.5 * ma90 + 1.0)

    def _numbers(self, frame: Any) -> np.ndarray:
        level = self._level(frame)
        numbers = frame[NUMERIC_FEATURES].astype(float).copy()
        for column in RELATIVE_FEATURES:
            numbers[column] = numbers[column] / level
        numbers["level"] = level
        return np.asarray(numbers.to_numpy())

    def _matrix(self, frame: Any) -> np.ndarray:
        numbers = self._numbers(frame)
        binned = np.column_stack(
            [_to_bins(numbers[:, i], edges) for i, edges in enumerate(self.bin_edges_)]
        )
        codes = self.encoder_.transform(frame[CATEGORICAL_FEATURES]).astype(float)
        return np.column_stack([binned, codes])

    def fit(self, frame: Any, target: np.ndarray) -> BaselineRatioRegressor:
        settings = self.settings or ModelSettings()
        self.encoder_ = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1).fit(
            frame[CATEGORICAL_FEATURES]
        )
        self.bin_edges_ = [_bin_edges(column) for column in self._numbers(frame).T]
        matrix = self._matrix(frame)
        level = self._level(frame)
        self.model_ = HistGradientBoostingRegressor(
            loss=settings.loss,
            learning_rate=settings.learning_rate,
            max_iter=settings.max_iter,
            max_leaf_nodes=settings.max_leaf_nodes,
            min_samples_leaf=settings.min_samples_leaf,
            l2_regularization=settings.l2_regularization,
            categorical_features=[matrix.shape[1] - 1],
            random_state=settings.random_state,
        ).fit(matrix, np.clip(target, 0, None) / level, sample_weight=level)
        return self

    def predict(self, frame: Any) -> np.ndarray:
        return np.asarray(self.model_.predict(self._matrix(frame)) * self._level(frame))


def gradient_boosting(settings: ModelSettings) -> BaselineRatioRegressor:
    """The revenue model (see BaselineRatioRegressor)."""
    return BaselineRatioRegressor(settings)


def linear_regression() -> Pipeline:
    """The original solution's model, kept as a comparison: scaled linear regression."""
    encode = ColumnTransformer(
        [
            ("category", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL_FEATURES),
            (
                "numbers",
                Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())]),
                NUMERIC_FEATURES,
            ),
        ]
    )
    return Pipeline([("encode", encode), ("model", LinearRegression())])


def to_model_input(frame: pl.DataFrame) -> Any:
    """The feature columns as the pandas frame scikit-learn and MLflow signatures expect."""
    numbers = [c for c in MODEL_INPUTS if c not in CATEGORICAL_FEATURES]
    return frame.select(MODEL_INPUTS).with_columns(pl.col(numbers).cast(pl.Float64)).to_pandas()


def split_by_time(
    training: pl.DataFrame, test_days: int, horizon_days: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(train, test): test = cutoffs in the last `test_days`; train = cutoffs whose target window
    ends before the first test cutoff."""
    last_cutoff = training.select(pl.col("cutoff_date").max()).item()
    first_test = last_cutoff - timedelta(days=test_days - 1)
    test = training.filter(pl.col("cutoff_date") >= first_test)
    train = training.filter(pl.col("cutoff_date") + timedelta(days=horizon_days) <= first_test)
    return train, test


def _buckets(values: pl.Expr, quantiles: tuple[float, float]) -> pl.Expr:
    low, high = quantiles
    return (
        pl.when(values >= values.quantile(high))
        .then(pl.lit("High"))
        .when(values < values.quantile(low))
        .then(pl.lit("Low"))
        .otherwise(pl.lit("Medium"))
    )


def score(
    predictions: pl.DataFrame,
    candidate: str,
    bucket_quantiles: tuple[float, float] = BUCKET_QUANTILES,
) -> dict[str, float]:
    """RMSE, MAE, WAPE, bias, rank correlation and bucket agreement of one candidate column
    against `actual`, over all test rows (rank and buckets within each cutoff)."""
    error = pl.col(candidate) - pl.col("actual")
    totals = predictions.select(
        (error.pow(2).mean().sqrt()).alias("rmse"),
        error.abs().mean().alias("mae"),
        (error.abs().sum() / pl.col("actual").abs().sum()).alias("wape"),
        (100 * error.sum() / pl.col("actual").sum()).alias("bias_pct"),
    ).row(0, named=True)
    per_cutoff = predictions.group_by("cutoff_date").agg(
        pl.corr(pl.col(candidate), pl.col("actual"), method="spearman").alias("rank_corr"),
        (
            _buckets(pl.col(candidate), bucket_quantiles)
            == _buckets(pl.col("actual"), bucket_quantiles)
        )
        .mean()
        .alias("bucket_agreement"),
    )
    means = per_cutoff.select(
        pl.col("rank_corr").fill_nan(None).mean().fill_null(0.0),
        pl.col("bucket_agreement").mean().fill_null(0.0),
    ).row(0, named=True)
    return {**totals, **means}


def interval_offsets(predictions: pl.DataFrame, candidate: str) -> tuple[float, float]:
    """Quantiles of log1p(actual) - log1p(predicted) on the backtest: an 80% interval around a
    new prediction is expm1(log1p(prediction) + offset), and always contains the prediction."""
    residual = (
        predictions.select(
            (pl.col("actual").clip(0).log1p() - pl.col(candidate).clip(0).log1p()).alias("r")
        )
        .get_column("r")
        .drop_nulls()
    )
    low, high = (float(residual.quantile(q) or 0.0) for q in INTERVAL_QUANTILES)
    return min(low, 0.0), max(high, 0.0)


def apply_interval(predicted: pl.Expr, offsets: tuple[float, float]) -> tuple[pl.Expr, pl.Expr]:
    """(lower, upper) bounds for a prediction column from interval offsets."""
    base = predicted.clip(0).log1p()
    return (base + offsets[0]).exp() - 1, (base + offsets[1]).exp() - 1


def backtest(
    training: pl.DataFrame, horizon_days: int, test_days: int, settings: ModelSettings
) -> tuple[Backtest, BaselineRatioRegressor]:
    """Fit the model and the linear comparison on the past, score them and the baselines on the
    latest cutoffs. Returns the backtest and the gradient-boosting model fitted on train rows."""
    train, test = split_by_time(training, test_days, horizon_days)
    if train.height == 0 or test.height == 0:
        raise ValueError(
            f"not enough history to backtest: {train.height} train and {test.height} test rows "
            f"(need cutoffs more than {test_days + horizon_days} days apart)"
        )
    target = train["target"].clip(0).to_numpy()
    model = gradient_boosting(settings).fit(to_model_input(train), target)
    linear = linear_regression().fit(to_model_input(train), target)
    predictions = test.select(
        "product_id",
        "cutoff_date",
        pl.col("target").alias("actual"),
        pl.Series("model", model.predict(to_model_input(test))).clip(0),
        pl.Series("linear_regression", linear.predict(to_model_input(test))).clip(0),
        *(pl.col(c).fill_null(0.0).alias(c.removeprefix("baseline_")) for c in BASELINE_COLUMNS),
    )
    candidates = [
        "model",
        "linear_regression",
        *(c.removeprefix("baseline_") for c in BASELINE_COLUMNS),
    ]
    scores = pl.DataFrame([{"candidate": c, **score(predictions, c)} for c in candidates])
    return (
        Backtest(
            predictions=predictions,
            scores=scores,
            train_rows=train.height,
            test_cutoffs=sorted(test["cutoff_date"].unique().to_list()),
        ),
        model,
    )


def best_baseline(scores: pl.DataFrame) -> dict[str, Any]:
    """The baseline with the lowest WAPE among those whose bias is within MAX_BIAS_PCT, or the
    lowest WAPE overall when none is."""
    baselines = scores.filter(
        pl.col("candidate").is_in([c.removeprefix("baseline_") for c in BASELINE_COLUMNS])
    )
    unbiased = baselines.filter(pl.col("bias_pct").abs() <= MAX_BIAS_PCT)
    pool = unbiased if unbiased.height else baselines
    return pool.sort("wape").row(0, named=True)


def beats(candidate: dict[str, Any], reference_wape: float) -> bool:
    """The champion gate: lower WAPE than the reference and bias within MAX_BIAS_PCT."""
    return candidate["wape"] < reference_wape and abs(candidate["bias_pct"]) <= MAX_BIAS_PCT


def fit_final(training: pl.DataFrame, settings: ModelSettings) -> BaselineRatioRegressor:
    """The model refitted on every training row, for the forecast."""
    return gradient_boosting(settings).fit(
        to_model_input(training), training["target"].clip(0).to_numpy()
    )


def feature_importance(
    model: BaselineRatioRegressor, test: pl.DataFrame, actual: np.ndarray, seed: int = 0
) -> pl.DataFrame:
    """Permutation importance of each feature on the test rows (drop in R^2 when shuffled)."""
    from sklearn.inspection import permutation_importance

    result = permutation_importance(
        model, to_model_input(test), actual, n_repeats=1, random_state=seed, scoring="r2"
    )
    return pl.DataFrame({"feature": MODEL_INPUTS, "importance": result.importances_mean}).sort(
        "importance", descending=True
    )


def forecast_table(
    features: pl.DataFrame,
    served_prediction: np.ndarray,
    served_method: str,
    served_description: str,
    offsets: tuple[float, float],
    horizon_days: int,
    active_within_days: int,
    new_product_days: int,
) -> pl.DataFrame:
    """Per active product: predicted revenue for the next horizon with an 80% interval.

    Products younger than `new_product_days` get their run rate since launch instead (revenue
    per day since the first sale times the horizon, interval 0 to twice that), because the model
    has too little of their history to learn from.
    """
    new = pl.col("product_age_days") < new_product_days
    run_rate = pl.col("revenue_90d") / (pl.col("product_age_days") + 1) * horizon_days
    served = pl.col("served_prediction").clip(0)
    lower, upper = apply_interval(served, offsets)
    return (
        features.with_columns(pl.Series("served_prediction", served_prediction, pl.Float64))
        .filter(pl.col("days_since_last_sale") <= active_within_days)
        .select(
            "product_id",
            pl.when(new).then(run_rate.clip(0)).otherwise(served).alias("predicted_revenue"),
            pl.when(new).then(0.0).otherwise(lower.clip(0)).alias("predicted_lower"),
            pl.when(new).then(2 * run_rate.clip(0)).otherwise(upper).alias("predicted_upper"),
            pl.col("baseline_naive").fill_null(0.0).alias("revenue_last_period"),
            pl.when(new)
            .then(pl.lit(NEW_PRODUCT_METHOD))
            .otherwise(pl.lit(served_method))
            .alias("forecast_method"),
            pl.when(new)
            .then(pl.lit(f"{NEW_PRODUCT_METHOD} (new product)"))
            .otherwise(pl.lit(served_description))
            .alias("model_version"),
            "product_age_days",
            (pl.col("cutoff_date") - pl.duration(days=1)).alias("as_of_date"),
            pl.lit(horizon_days, dtype=pl.Int64).alias("horizon_days"),
        )
    )
