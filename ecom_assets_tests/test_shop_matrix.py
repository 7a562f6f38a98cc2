"""Any shop gets a forecast and a decision table: a pairwise cover of history lengths, catalogue
sizes, demand densities, ratings and categories, each generated and run through the whole graph.

For every shop, what serves the forecast is recomputed here from the backtest predictions the run
stored in MLflow, with numpy and the serving rule as the README states it, and the forecasts of a
serving baseline (or the run rate) from gold's daily sales; nothing is taken from the code's own
choice.
"""

import datetime as dt
import math
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest
from deltalake import DeltaTable
from mlflow.tracking import MlflowClient
from threadpoolctl import threadpool_limits

from ecom_assets import settings, tracking
from ecom_assets.definitions import build_defs
from ecom_assets.generate import ShopShape, generate_orders
from ecom_assets.transforms.decisions import DECISION_COLUMNS

END = dt.date(2026, 6, 30)
DENSE = 10.0
SPARSE = 0.1
HORIZON = 30
ACTIVE_WITHIN_DAYS = 90
NEW_PRODUCT_DAYS = 60
DORMANT_DAYS = 180
MAX_BIAS_PCT = 10.0
BASELINES = ("naive", "seasonal_naive", "ma90", "mean365")
# The README's thresholds: a cutoff needs 30 days of history and an observed 30-day target; the
# model needs 4 weekly training cutoffs whose targets end before the last cutoff, and 5 leaves of
# 40 rows (200 training rows).
BACKTEST_NEEDS_DAYS = 30 + HORIZON
MODEL_NEEDS_DAYS = BACKTEST_NEEDS_DAYS + 7 * (-(-HORIZON // 7) + 4 - 1)
MIN_TRAIN_ROWS = 5 * 40
NEW_PRODUCT = "new_product_run_rate (new product)"
BLOCKING_AND_DECISION_CHECKS = {
    ("ml/revenue_model", "served_forecast_beats_best_baseline"),
    ("ml/revenue_forecast", "forecasts_valid_for_every_active_product"),
    ("business/product_decisions", "one_decision_per_forecast_product"),
    ("business/product_decisions", "actions_in_vocabulary"),
}


@dataclass(frozen=True)
class Shop:
    days: int
    products: int
    density: float
    ratings: bool
    categories: int

    def __str__(self) -> str:
        demand = "dense" if self.density == DENSE else "sparse"
        ratings = "ratings" if self.ratings else "no-ratings"
        return f"{self.days}d-{self.products}p-{demand}-{ratings}-{self.categories}cat"


# Every pair of values of any two of the five settings appears in at least one shop; a large
# catalogue over 200 days or more is sparse (its dense grid and model fits are the slow part),
# and a single product is sparse only over a long history (so that it sells at all).
SHOPS = [
    Shop(30, 1, DENSE, True, 12),
    Shop(30, 20, DENSE, True, 1),
    Shop(30, 2000, SPARSE, False, 0),
    Shop(90, 1, DENSE, True, 1),
    Shop(90, 20, SPARSE, True, 0),
    Shop(90, 2000, DENSE, False, 12),
    Shop(200, 1, DENSE, True, 0),
    Shop(200, 20, DENSE, True, 12),
    Shop(200, 2000, SPARSE, False, 1),
    Shop(400, 1, DENSE, True, 12),
    Shop(400, 20, DENSE, True, 1),
    Shop(400, 2000, SPARSE, False, 0),
    Shop(1100, 1, SPARSE, False, 1),
    Shop(1100, 20, DENSE, False, 0),
    Shop(1100, 2000, SPARSE, True, 12),
]


@pytest.fixture(scope="module", autouse=True)
def one_openmp_thread() -> Iterator[None]:
    """The model fits run on one OpenMP thread: on a busy two-core machine two spinning threads
    made them 5 to 20 times slower; what they compute does not depend on it."""
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow store with its tables and the experiment made once; each shop runs on a copy,
    so that no shop sees another's champion."""
    store = tmp_path_factory.mktemp("mlflow_template") / "mlflow.db"
    tracking.client(f"sqlite:///{store}", settings.mlflow_artifact_location())
    return store


@dataclass(frozen=True)
class Run:
    shop: Shop
    result: dg.ExecuteInProcessResult
    lake: Path
    mlflow_uri: str

    def table(self, layer: str, name: str) -> pl.DataFrame:
        frame = pl.from_arrow(DeltaTable(str(self.lake / layer / name)).to_pyarrow_table())
        assert isinstance(frame, pl.DataFrame)
        return frame

    def metadata(self, step: str, key: str) -> object:
        (materialization,) = self.result.asset_materializations_for_node(step)
        return materialization.metadata[key].value


def _run(shop: Shop, seed: int, root: Path, store: Path) -> Run:
    shape = ShopShape(
        start=END - dt.timedelta(days=shop.days - 1),
        end=END,
        products=shop.products,
        categories=shop.categories,
        ratings=shop.ratings,
    )
    generate_orders(root / "raw" / "orders.csv", seed=seed, shape=shape, density=shop.density)
    shutil.copy(store, root / "mlflow.db")
    mlflow_uri = f"sqlite:///{root / 'mlflow.db'}"
    defs = build_defs(
        lake_root=str(root / "lake"), raw_dir=str(root / "raw"), mlflow_uri=mlflow_uri
    )
    job = defs.resolve_job_def("ecommerce_pipeline")
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    return Run(shop, result, root / "lake", mlflow_uri)


def _wape_and_bias(actual: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """WAPE and bias in percent; both 0 when there is no error (a period without revenue
    forecast as zero)."""
    error = predicted - actual
    absolute, total = float(np.abs(error).sum()), float(error.sum())
    revenue = float(actual.sum())
    wape = 0.0 if absolute == 0 else absolute / revenue if revenue else math.inf
    bias = (
        0.0 if total == 0 else 100 * total / revenue if revenue else math.copysign(math.inf, total)
    )
    return wape, bias


def _expected_server(predictions: pl.DataFrame) -> str:
    """The README's rule on a fresh store: the model serves when its WAPE is lower than the best
    baseline's and its bias within 10%; the best baseline is the lowest WAPE among the baselines
    with a bias within 10% (among all baselines when none is), ties in the order naive, seasonal
    naive, ma90, mean365; the run rate serves when nothing was backtested."""
    candidates = [
        c for c in predictions.columns if c not in ("product_id", "cutoff_date", "actual")
    ]
    if not candidates:
        return "run_rate"
    actual = predictions["actual"].to_numpy().astype(float)
    scores = {
        c: _wape_and_bias(actual, predictions[c].to_numpy().astype(float)) for c in candidates
    }
    baselines = [b for b in BASELINES if b in scores]
    pool = [b for b in baselines if abs(scores[b][1]) <= MAX_BIAS_PCT] or baselines
    best = min(pool, key=lambda b: (scores[b][0], pool.index(b)))
    if "model" in scores:
        model_wape, model_bias = scores["model"]
        if model_wape < scores[best][0] and abs(model_bias) <= MAX_BIAS_PCT:
            return "model"
    return best


def _baseline_by_hand(daily: pl.DataFrame, name: str, as_of: dt.date) -> pl.DataFrame:
    """Each product's forecast by a baseline (or the run rate), summed from daily revenue."""
    history = (as_of - daily["date"].min()).days + 1  # type: ignore[operator]
    run_rate_days = min(history, 90)
    windows = {
        "naive": (HORIZON, 0, 1.0),
        "ma90": (90, 0, HORIZON / 90),
        "mean365": (365, 0, HORIZON / 365),
        "seasonal_naive": (HORIZON, 365 - HORIZON, 1.0),
        "run_rate": (run_rate_days, 0, HORIZON / run_rate_days),
    }
    days, lag, scale = windows[name]
    last = as_of - dt.timedelta(days=lag)
    inside = pl.col("date").is_between(last - dt.timedelta(days=days - 1), last)
    return daily.group_by("product_id").agg(
        (pl.col("revenue").filter(inside).sum() * scale).alias("expected")
    )


@pytest.mark.parametrize(("seed", "shop"), list(enumerate(SHOPS, start=1)), ids=str)
def test_any_shop_gets_a_decision_per_active_product_from_what_its_backtest_says(
    seed: int, shop: Shop, tmp_path: Path, empty_store: Path
) -> None:
    run = _run(shop, seed, tmp_path, empty_store)
    assert run.result.success
    checks = {
        (e.asset_key.to_user_string(), e.check_name): e.passed
        for e in (
            event.asset_check_evaluation_data
            for event in run.result.all_events
            if event.event_type_value == "ASSET_CHECK_EVALUATION"
        )
    }
    assert {key: checks[key] for key in BLOCKING_AND_DECISION_CHECKS} == dict.fromkeys(
        BLOCKING_AND_DECISION_CHECKS, True
    )

    products = run.table("gold", "product_metrics")
    daily = run.table("gold", "daily_product_sales")
    as_of = products["as_of_date"].max()
    assert isinstance(as_of, dt.date)
    history = (as_of - daily["date"].min()).days + 1  # type: ignore[operator]
    active = products.filter(
        pl.col("last_sale_date") > as_of - dt.timedelta(days=ACTIVE_WITHIN_DAYS + 1)
    )
    decisions = run.table("business", "product_decisions")
    assert decisions.columns == DECISION_COLUMNS
    assert sorted(decisions["product_id"]) == sorted(active["product_id"])

    card = run.table("ml", "revenue_model")
    served = card.filter(pl.col("served")).row(0, named=True)
    client = MlflowClient(tracking_uri=run.mlflow_uri)
    mlflow_run = client.get_run(served["run_id"])
    stored = client.download_artifacts(served["run_id"], tracking.PREDICTIONS_ARTIFACT, tmp_path)
    predictions = pl.read_csv(stored, try_parse_dates=True)
    assert served["candidate"] == _expected_server(predictions)

    sentence = served["served_description"]
    assert sentence.endswith(".") and ". " not in sentence
    assert run.metadata("ml__revenue_model", "served_by") == sentence
    assert run.metadata("ml__revenue_forecast", "served_by") == sentence
    assert mlflow_run.data.tags[tracking.SERVED_BY_TAG] == sentence
    assert set(decisions["model_version"]) <= {sentence, NEW_PRODUCT}
    what = {"run_rate": "run rate", "model": "ecom_revenue_forecast v1"}.get(
        served["candidate"], f"baseline {served['candidate']}"
    )
    assert sentence.startswith(f"{what}: ")

    if predictions.height == 0 and history < BACKTEST_NEEDS_DAYS:
        assert sentence == (
            f"run rate: {history} days of history leave no cutoff with an observed "
            f"{HORIZON}-day target to backtest anything on (needs {BACKTEST_NEEDS_DAYS} days)."
        )
    elif predictions.height == 0:
        last_test_day = as_of - dt.timedelta(days=HORIZON)
        sold = pl.col("date").is_between(
            last_test_day - dt.timedelta(days=DORMANT_DAYS), last_test_day
        )
        assert daily.filter(sold & (pl.col("quantity") > 0)).height == 0
        assert sentence == (
            f"run rate: no product sold in the {DORMANT_DAYS} days before a test cutoff, so "
            "there is nothing to backtest on."
        )
    else:
        first_test = predictions["cutoff_date"].min()
        assert (predictions["cutoff_date"].max() - first_test).days < 90  # type: ignore[operator]
        training = run.table("ml", "product_training_set")
        train_rows = training.filter(
            pl.col("cutoff_date") + dt.timedelta(days=HORIZON) <= first_test
        ).height
        fitted = history >= MODEL_NEEDS_DAYS and train_rows >= MIN_TRAIN_ROWS
        assert ("model" in predictions.columns) == fitted
        if history < MODEL_NEEDS_DAYS:
            assert sentence.endswith(
                f": {history} days of history are too few to backtest the model "
                f"(needs {MODEL_NEEDS_DAYS} days)."
            )
        elif not fitted:
            assert sentence.endswith(
                f": {train_rows} training rows are too few to fit the model "
                f"(needs {MIN_TRAIN_ROWS})."
            )

    forecast = decisions.join(
        products.select("product_id", "first_sale_date"), on="product_id"
    ).with_columns((pl.lit(as_of) - pl.col("first_sale_date")).dt.total_days().alias("age"))
    new = forecast.filter(pl.col("age") < NEW_PRODUCT_DAYS)
    assert (new["model_version"] == NEW_PRODUCT).all()
    established = forecast.filter(pl.col("age") >= NEW_PRODUCT_DAYS)
    assert (established["model_version"] == sentence).all()
    assert established["predicted_revenue"].is_finite().all()
    if served["candidate"] != "model":
        by_hand = established.join(
            _baseline_by_hand(daily, served["candidate"], as_of), on="product_id"
        )
        assert by_hand.height == established.height
        for predicted, expected in by_hand.select("predicted_revenue", "expected").iter_rows():
            assert predicted == pytest.approx(expected, rel=1e-9, abs=0.01)


def _card(served: str, rows: dict[str, tuple[float, float]]) -> pl.DataFrame:
    """A model table: `rows` maps each scored candidate to its (WAPE, bias); a served candidate
    without scores (the run rate) gets an unscored row."""
    scored = {**rows, **({} if served in rows else {served: (None, None)})}
    method = (
        "model" if served == "model" else served if served == "run_rate" else f"baseline:{served}"
    )
    return pl.DataFrame(
        {
            "candidate": list(scored),
            "wape": [w for w, _ in scored.values()],
            "bias_pct": [b for _, b in scored.values()],
            "served": [c == served for c in scored],
            "served_method": [method] * len(scored),
            "served_description": [f"{served}: why."] * len(scored),
        },
        schema_overrides={"wape": pl.Float64, "bias_pct": pl.Float64},
    )


@pytest.mark.parametrize(
    ("card", "passes"),
    [
        (_card("run_rate", {}), True),
        (_card("run_rate", {"naive": (0.3, 1.0)}), False),
        (_card("naive", {"naive": (0.3, 1.0), "ma90": (0.25, -2.0)}), False),
        (_card("ma90", {"naive": (0.3, 1.0), "ma90": (0.25, -2.0)}), True),
        (_card("naive", {"naive": (0.3, 1.0), "ma90": (0.25, -12.0)}), True),
        (_card("model", {"model": (0.2, 3.0), "naive": (0.3, 1.0)}), True),
        (_card("model", {"model": (0.2, 14.0), "naive": (0.3, 1.0)}), False),
        (_card("model", {"model": (0.35, 3.0), "naive": (0.3, 1.0)}), False),
    ],
)
def test_the_serving_check_fails_on_anything_worse_than_the_rule(
    card: pl.DataFrame, passes: bool
) -> None:
    from ecom_assets.assets.ml import served_forecast_beats_best_baseline

    assert served_forecast_beats_best_baseline(card).passed is passes


def test_the_forecast_check_fails_on_a_forecast_that_does_not_say_what_made_it() -> None:
    from ecom_assets.assets.ml import forecasts_valid_for_every_active_product
    from ecom_assets.resources import ForecastSettings

    products = pl.DataFrame(
        {
            "product_id": ["a", "b"],
            "last_sale_date": [END, END],
            "as_of_date": [END, END],
        }
    )
    forecast = pl.DataFrame(
        {
            "product_id": ["a", "b"],
            "predicted_revenue": [10.0, 20.0],
            "predicted_lower": [0.0, 0.0],
            "predicted_upper": [20.0, 40.0],
            "model_version": ["run rate: why.", "run rate: why."],
        }
    )
    check = forecasts_valid_for_every_active_product
    assert check(forecast, products.lazy(), ForecastSettings()).passed
    untold = forecast.with_columns(pl.Series("model_version", ["run rate: why.", " "]))
    assert not check(untold, products.lazy(), ForecastSettings()).passed
