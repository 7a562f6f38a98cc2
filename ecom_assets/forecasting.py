"""The revenue model, its baselines and the backtest that judges them; no Dagster, no MLflow.

A time-based backtest: the test set is the latest cutoffs of the plan (`features.plan_cutoffs`),
the model learns only from cutoffs whose whole target window ends before the first test cutoff,
and every candidate (the model, the linear comparison and each baseline that the history
supports on every test row) is scored on the same test rows.

What serves when no model is fitted (`serve_without_model`): the best baseline by the gate's
rule, or, when the backtest could score nothing, the run rate. `model_unfit_reason` says why
the model is not fitted: too little history to backtest it, or too few training rows. Every
choice is told in one sentence, "<what serves>: <why>." (`sentence`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    DORMANT_AFTER_DAYS,
    FEATURES,
    MIN_TRAIN_CUTOFFS,
    NUMERIC_FEATURES,
    CutoffPlan,
)

BUCKET_QUANTILES = (0.4, 0.8)
INTERVAL_QUANTILES = (0.1, 0.9)
MAX_BIAS_PCT = 10.0
SCORE_NAMES = ("rmse", "mae", "wape", "bias_pct", "rank_corr", "bucket_agreement")
BASELINES = [c.removeprefix("baseline_") for c in BASELINE_COLUMNS]
RUN_RATE = "run_rate"
MAX_CATEGORIES = 255
IMPORTANCE_ROWS = 5_000


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

    @property
    def min_train_rows(self) -> int:
        """Fewer training rows than five of the smallest leaves make too few trees to fit."""
        return 5 * self.min_samples_leaf

    def params(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Served:
    """What the forecast uses: a registered model version, a baseline, or the run rate.

    `candidate` names its row in the backtest scores ("model", "champion", a baseline or
    "run_rate"); `scores` holds the champion's scores on the current backtest when the champion
    serves; the interval offsets are None when no backtest could measure the errors (the run
    rate: its interval is 0 to twice the forecast). `description` is the sentence saying what
    serves and why.
    """

    candidate: str
    method: str
    model_version: str | None
    interval_low: float | None
    interval_high: float | None
    description: str
    scores: dict[str, float] | None = None


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
MODEL_INPUTS = [*FEATURES, "revenue_last_period", "run_rate"]
MODEL_FORMAT = "3"


def _bin_edges(column: np.ndarray, bins: int = 255) -> np.ndarray:
    """Edges splitting a column's non-missing values into `bins` equally populated bins."""
    present = column[~np.isnan(column)]
    if present.size == 0:
        return np.array([])
    return np.unique(np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1]))


def _to_bins(column: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Each value's bin number (missing values stay missing)."""
    return np.where(np.isnan(column), np.nan, np.searchsorted(edges, column, side="left"))


def observed_features(frame: Any) -> list[str]:
    """The numeric features with at least one value in `frame` (a pandas frame of model
    inputs): a feature the export never fills (no ratings) or the history cannot support (365-day
    windows under a year) carries nothing to learn from, and scikit-learn cannot bin a column
    without any value."""
    present = frame[NUMERIC_FEATURES].notna().any()
    return [c for c in NUMERIC_FEATURES if present[c]]


class BaselineRatioRegressor(BaseEstimator, RegressorMixin):
    """Gradient boosting that learns how next period's revenue differs from a recent level.

    The level is the mean of the last period's revenue and the run rate over the last 90 days
    (or the whole history when it is shorter; with 90 days, the 90-day-average baseline), plus 1
    so it is never zero, and means the same on every row whatever the history; the trees fit
    revenue / level with the level as sample weight under a Poisson loss,
    which is a Poisson model of revenue with the level as offset. Revenue windows enter relative
    to the level, so the same tree serves small and large products. Numbers are binned by
    unweighted quantiles before the trees see them: scikit-learn's own binning computes weighted
    quantiles when there are sample weights, which took 2 of the 2.6 s of each fit. Only the
    features observed in the training rows are used (`observed_features`). A change to what a
    fitted model holds or reads bumps MODEL_FORMAT, so that an older registered champion is not
    loaded into this class.
    """

    def __init__(self, settings: ModelSettings | None = None) -> None:
        self.settings = settings

    @staticmethod
    def _level(frame: Any) -> np.ndarray:
        last_period = frame["revenue_last_period"].fillna(0).to_numpy(dtype=float)
        run_rate = frame["run_rate"].fillna(0).to_numpy(dtype=float)
        return np.asarray(np.clip(0.5 * last_period + 0.5 * run_rate, 0.0, None) + 1.0)

    def _numbers(self, frame: Any) -> np.ndarray:
        level = self._level(frame)
        numbers = frame[self.features_].astype(float).copy()
        for column in RELATIVE_FEATURES:
            if column in self.features_:
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
        self.features_ = observed_features(frame)
        self.encoder_ = OrdinalEncoder(
            handle_unknown="use_encoded_value", unknown_value=-1, max_categories=MAX_CATEGORIES
        ).fit(frame[CATEGORICAL_FEATURES])
        self.bin_edges_ = [_bin_edges(column) for column in self._numbers(frame).T]
        matrix = self._matrix(frame)
        level = self._level(frame)
        ratio = np.clip(target, 0, None) / level
        self.model_ = HistGradientBoostingRegressor(
            loss=settings.loss,
            learning_rate=settings.learning_rate,
            max_iter=settings.max_iter,
            max_leaf_nodes=settings.max_leaf_nodes,
            min_samples_leaf=settings.min_samples_leaf,
            l2_regularization=settings.l2_regularization,
            categorical_features=[matrix.shape[1] - 1],
            random_state=settings.random_state,
        ).fit(matrix, ratio, sample_weight=level)
        self.max_ratio_ = float(ratio.max()) if ratio.size else 0.0
        return self

    def predict(self, frame: Any) -> np.ndarray:
        """Revenue over the horizon: the trees' ratio to the level, never above the largest
        ratio seen in training (a leaf fitted on a few rows whose level is 1 and whose target is
        a big first sale could otherwise grow without bound: 4e79 on the Superstore sample)."""
        ratio = np.clip(self.model_.predict(self._matrix(frame)), 0.0, self.max_ratio_)
        return np.asarray(ratio * self._level(frame))


def gradient_boosting(settings: ModelSettings) -> BaselineRatioRegressor:
    """The revenue model (see BaselineRatioRegressor)."""
    return BaselineRatioRegressor(settings)


def linear_regression(numbers: list[str]) -> Pipeline:
    """The original solution's model, kept as a comparison: scaled linear regression on the
    category and the numeric features `numbers`."""
    encode = ColumnTransformer(
        [
            ("category", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL_FEATURES),
            (
                "numbers",
                Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())]),
                numbers,
            ),
        ]
    )
    return Pipeline([("encode", encode), ("model", LinearRegression())])


def to_model_input(frame: pl.DataFrame) -> Any:
    """The feature columns as the pandas frame scikit-learn and MLflow signatures expect."""
    numbers = [c for c in MODEL_INPUTS if c not in CATEGORICAL_FEATURES]
    return frame.select(MODEL_INPUTS).with_columns(pl.col(numbers).cast(pl.Float64)).to_pandas()


def split_by_time(training: pl.DataFrame, plan: CutoffPlan) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(train, test): test = cutoffs from the plan's first test cutoff on; train = cutoffs whose
    target window ends before it. Both are empty when the plan has no cutoff."""
    if plan.first_test is None:
        return training.clear(), training.clear()
    test = training.filter(pl.col("cutoff_date") >= plan.first_test)
    train = training.filter(
        pl.col("cutoff_date") + pl.duration(days=plan.horizon_days) <= plan.first_test
    )
    return train, test


def model_unfit_reason(
    plan: CutoffPlan, train_rows: int, test_rows: int, settings: ModelSettings
) -> str | None:
    """Why the model cannot be fitted and backtested on this history, or None when it can."""
    history = f"{plan.history_days:,} days of history"
    if not plan.cutoffs:
        return (
            f"{history} leave no cutoff with an observed {plan.horizon_days}-day target to "
            f"backtest anything on (needs {plan.backtest_needs_days} days)"
        )
    if test_rows == 0:
        return (
            f"no product sold in the {DORMANT_AFTER_DAYS} days before a test cutoff, so there "
            "is nothing to backtest on"
        )
    if plan.train_cutoffs < MIN_TRAIN_CUTOFFS:
        return f"{history} are too few to backtest the model (needs {plan.model_needs_days} days)"
    if train_rows < settings.min_train_rows:
        return (
            f"{train_rows:,} training rows are too few to fit the model "
            f"(needs {settings.min_train_rows})"
        )
    return None


def sentence(what: str, why: str) -> str:
    """The one sentence that says what serves the forecast and why: "<what>: <why>."."""
    return f"{what}: {why}."


def serve_without_model(backtest: Backtest, why: str) -> Served:
    """The best baseline the backtest scored (see `best_baseline`), or the run rate when it
    scored none; `why` says why no model serves."""
    best = best_baseline(backtest.scores)
    if best is None:
        return Served(RUN_RATE, RUN_RATE, None, None, None, sentence("run rate", why))
    name = best["candidate"]
    low, high = interval_offsets(backtest.predictions, name)
    return Served(name, f"baseline:{name}", None, low, high, sentence(f"baseline {name}", why))


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
        _ratio(error.abs().sum(), pl.col("actual").abs().sum()).alias("wape"),
        (100 * _ratio(error.sum(), pl.col("actual").sum())).alias("bias_pct"),
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


def _ratio(error: pl.Expr, actual: pl.Expr) -> pl.Expr:
    """error / actual, and 0 when there is no error (a test period without revenue that the
    candidate forecasts as zero is forecast perfectly, not undefined)."""
    return pl.when(error == 0).then(0.0).otherwise(error / actual)


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
    """(lower, upper) bounds for a prediction column from interval offsets, never either side of
    the prediction (an offset of 0 would otherwise round a bound past it)."""
    base = predicted.clip(0).log1p()
    lower = pl.min_horizontal((base + offsets[0]).exp() - 1, predicted.clip(0))
    upper = pl.max_horizontal((base + offsets[1]).exp() - 1, predicted.clip(0))
    return lower, upper


def backtest(
    train: pl.DataFrame, test: pl.DataFrame, settings: ModelSettings, fit_model: bool
) -> tuple[Backtest, BaselineRatioRegressor | None]:
    """Score on the test rows every baseline that has a value on all of them and, when
    `fit_model`, the model and the linear comparison fitted on the train rows. Returns the
    backtest and the gradient-boosting model fitted on train rows (None when not fitted)."""
    supported = [
        c for c in BASELINE_COLUMNS if test.height and test.get_column(c).null_count() == 0
    ]
    columns: list[pl.Series | pl.Expr] = [
        pl.col(c).alias(c.removeprefix("baseline_")) for c in supported
    ]
    model = None
    if fit_model:
        target = train["target"].clip(0).to_numpy()
        inputs = to_model_input(train)
        model = gradient_boosting(settings).fit(inputs, target)
        linear = linear_regression(observed_features(inputs)).fit(inputs, target)
        columns = [
            pl.Series("model", model.predict(to_model_input(test))).clip(0),
            pl.Series("linear_regression", linear.predict(to_model_input(test))).clip(0),
            *columns,
        ]
    predictions = test.select(
        "product_id", "cutoff_date", pl.col("target").alias("actual"), *columns
    )
    candidates = predictions.columns[3:]
    scores = pl.DataFrame(
        [{"candidate": c, **score(predictions, c)} for c in candidates],
        schema={"candidate": pl.String, **dict.fromkeys(SCORE_NAMES, pl.Float64)},
    )
    return (
        Backtest(
            predictions=predictions,
            scores=scores,
            train_rows=train.height,
            test_cutoffs=sorted(test["cutoff_date"].unique().to_list()),
        ),
        model,
    )


def best_baseline(scores: pl.DataFrame) -> dict[str, Any] | None:
    """The scored baseline with the lowest WAPE among those whose bias is within MAX_BIAS_PCT,
    or the lowest WAPE overall when none is (ties go to the first in BASELINES order); None when
    no baseline was scored."""
    baselines = scores.filter(pl.col("candidate").is_in(BASELINES)).sort(
        pl.col("candidate").replace_strict(BASELINES, list(range(len(BASELINES))))
    )
    unbiased = baselines.filter(pl.col("bias_pct").abs() <= MAX_BIAS_PCT)
    pool = unbiased if unbiased.height else baselines
    if pool.height == 0:
        return None
    return pool.sort("wape", maintain_order=True).row(0, named=True)


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
    """Permutation importance of each feature on the test rows (drop in R^2 when shuffled), on
    a random IMPORTANCE_ROWS of them when there are more (it predicts once per feature)."""
    from sklearn.inspection import permutation_importance

    if test.height > IMPORTANCE_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(test.height, IMPORTANCE_ROWS, False))
        test, actual = test[rows], actual[rows]
    result = permutation_importance(
        model, to_model_input(test), actual, n_repeats=1, random_state=seed, scoring="r2"
    )
    return pl.DataFrame({"feature": MODEL_INPUTS, "importance": result.importances_mean}).sort(
        "importance", descending=True
    )


def served_prediction(features: pl.DataFrame, method: str) -> np.ndarray:
    """The forecast of a baseline ("baseline:<name>") or of the run rate, per feature row."""
    column = RUN_RATE if method == RUN_RATE else f"baseline_{method.removeprefix('baseline:')}"
    return np.asarray(features[column].fill_null(0.0).to_numpy())


def forecast_table(
    features: pl.DataFrame,
    served_prediction: np.ndarray,
    served_method: str,
    served_description: str,
    offsets: tuple[float, float] | None,
    horizon_days: int,
    active_within_days: int,
    new_product_days: int,
) -> pl.DataFrame:
    """Per active product: predicted revenue for the next horizon with an 80% interval (from
    the backtest's errors; 0 to twice the prediction when `offsets` is None: no backtest).

    Products younger than `new_product_days` get their run rate since launch instead (revenue
    per day since the first sale times the horizon, interval 0 to twice that), because the model
    has too little of their history to learn from.
    """
    new = pl.col("product_age_days") < new_product_days
    run_rate = pl.col("revenue_recent") / (pl.col("product_age_days") + 1) * horizon_days
    served = pl.col("served_prediction").clip(0)
    lower, upper = apply_interval(served, offsets) if offsets else (pl.lit(0.0), 2 * served)
    return (
        features.with_columns(pl.Series("served_prediction", served_prediction, pl.Float64))
        .filter(pl.col("days_since_last_sale") <= active_within_days)
        .select(
            "product_id",
            pl.when(new).then(run_rate.clip(0)).otherwise(served).alias("predicted_revenue"),
            pl.when(new).then(0.0).otherwise(lower.clip(0)).alias("predicted_lower"),
            pl.when(new).then(2 * run_rate.clip(0)).otherwise(upper).alias("predicted_upper"),
            pl.col("revenue_last_period").fill_null(0.0).alias("revenue_last_period"),
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
