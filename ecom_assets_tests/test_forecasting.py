"""Features without leaks, baselines by hand, the backtest split, intervals and the new-product
fallback."""

import itertools
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from ecom_assets import forecasting
from ecom_assets.transforms import features

START = date(2024, 1, 1)
AS_OF = date(2025, 12, 31)
CUTOFF = AS_OF - timedelta(days=30 - 1 + 7 * 13)  # a training cutoff: 13 weekly steps back


def _daily(products: dict[str, tuple[date, float]], end: date = AS_OF) -> pl.DataFrame:
    """Daily sales: each product sells `per_day` revenue (one unit at that price) every day from
    its launch date to `end`."""
    rows = []
    for product_id, (launch, per_day) in products.items():
        day = launch
        while day <= end:
            rows.append(
                {
                    "date": day,
                    "product_id": product_id,
                    "product_name": product_id.title(),
                    "category": "Toys" if product_id < "m" else "Books",
                    "revenue": per_day,
                    "quantity": 1,
                    "orders": 1,
                    "avg_price": per_day,
                    "avg_rating": 4.0,
                    "reviews": (day - launch).days,
                    "as_of_date": end,
                }
            )
            day += timedelta(days=1)
    return pl.DataFrame(rows)


def _with_step(frame: pl.DataFrame, product_id: str, from_day: date, factor: float) -> pl.DataFrame:
    changed = (pl.col("product_id") == product_id) & (pl.col("date") >= from_day)
    return frame.with_columns(
        pl.when(changed)
        .then(pl.col("revenue") * factor)
        .otherwise(pl.col("revenue"))
        .alias("revenue")
    )


def test_no_feature_uses_data_on_or_after_the_cutoff() -> None:
    daily = _daily({"alpha": (START, 10.0), "beta": (START, 50.0), "nova": (date(2025, 6, 1), 5.0)})
    cutoff = CUTOFF
    future_changed = _with_step(_with_step(daily, "alpha", cutoff, 100.0), "beta", cutoff, 0.0)
    future_changed = future_changed.with_columns(
        pl.when(pl.col("date") >= cutoff)
        .then(99.0)
        .otherwise(pl.col("avg_rating"))
        .alias("avg_rating")
    )
    before = features.training_set(daily.lazy(), AS_OF, 30)
    after = features.training_set(future_changed.lazy(), AS_OF, 30)
    at_cutoff = pl.col("cutoff_date") == cutoff
    assert before.filter(at_cutoff).height == 3
    assert (
        before.filter(at_cutoff)
        .select(features.FEATURES)
        .equals(after.filter(at_cutoff).select(features.FEATURES))
    )
    targets = dict(after.filter(at_cutoff).select("product_id", "target").iter_rows())
    assert targets == {"alpha": pytest.approx(30_000.0), "beta": 0.0, "nova": pytest.approx(150.0)}


def test_a_change_the_day_before_the_cutoff_is_seen() -> None:
    daily = _daily({"alpha": (START, 10.0)})
    cutoff = CUTOFF
    changed = _with_step(daily, "alpha", cutoff - timedelta(days=1), 3.0)
    row = lambda frame: features.training_set(frame.lazy(), AS_OF, 30).filter(  # noqa: E731
        pl.col("cutoff_date") == cutoff
    )
    assert row(changed)["revenue_7d"].item() == pytest.approx(row(daily)["revenue_7d"].item() + 20)


def test_baselines_and_windows_by_hand() -> None:
    cutoff = CUTOFF
    daily = _with_step(_daily({"alpha": (START, 10.0)}), "alpha", cutoff - timedelta(days=45), 2.0)
    row = (
        features.training_set(daily.lazy(), AS_OF, 30)
        .filter(pl.col("cutoff_date") == cutoff)
        .row(0, named=True)
    )
    assert row["revenue_7d"] == pytest.approx(7 * 20)
    assert row["revenue_30d"] == pytest.approx(30 * 20)
    assert row["revenue_90d"] == pytest.approx(45 * 20 + 45 * 10)
    assert row["revenue_365d"] == pytest.approx(45 * 20 + 320 * 10)
    assert row["baseline_naive"] == pytest.approx(30 * 20)
    assert row["baseline_ma90"] == pytest.approx((45 * 20 + 45 * 10) / 90 * 30)
    assert row["baseline_mean365"] == pytest.approx((45 * 20 + 320 * 10) / 365 * 30)
    assert row["baseline_seasonal_naive"] == pytest.approx(30 * 10)
    assert row["target"] == pytest.approx(30 * 20)
    assert row["product_age_days"] == (cutoff - timedelta(days=1) - START).days
    assert row["days_since_last_sale"] == 0
    assert row["target_month"] == 9


def test_training_cutoffs_step_back_from_the_last_observed_target() -> None:
    training = features.training_set(_daily({"alpha": (START, 10.0)}).lazy(), AS_OF, 30)
    cutoffs = training["cutoff_date"].unique().sort().to_list()
    assert cutoffs[-1] == AS_OF - timedelta(days=30) + timedelta(days=1)
    assert {(b - a).days for a, b in itertools.pairwise(cutoffs)} == {7}
    assert cutoffs[0] >= START + timedelta(days=365)
    assert training["target"].null_count() == 0


def test_the_split_never_lets_a_training_target_reach_into_the_test_period() -> None:
    training = features.training_set(_daily({"alpha": (START, 10.0)}).lazy(), AS_OF, 30)
    train, test = forecasting.split_by_time(training, test_days=60, horizon_days=30)
    first_test = test["cutoff_date"].min()
    assert (test["cutoff_date"].max() - first_test).days < 60
    assert all(c + timedelta(days=30) <= first_test for c in train["cutoff_date"])
    assert train.height + test.height < training.height


def test_scores_by_hand() -> None:
    predictions = pl.DataFrame(
        {
            "cutoff_date": [date(2025, 1, 1)] * 5,
            "product_id": list("abcde"),
            "actual": [100.0, 50.0, 10.0, 0.0, 40.0],
            "guess": [90.0, 60.0, 10.0, 5.0, 35.0],
        }
    )
    scores = forecasting.score(predictions, "guess")
    errors = np.array([-10, 10, 0, 5, -5])
    assert scores["mae"] == pytest.approx(np.abs(errors).mean())
    assert scores["rmse"] == pytest.approx(np.sqrt((errors**2).mean()))
    assert scores["wape"] == pytest.approx(30 / 200)
    assert scores["bias_pct"] == pytest.approx(0.0)
    assert scores["rank_corr"] == pytest.approx(1.0)
    assert scores["bucket_agreement"] == pytest.approx(1.0)


def test_the_gate_needs_lower_wape_and_small_bias() -> None:
    assert forecasting.beats({"wape": 0.2, "bias_pct": 5.0}, 0.25)
    assert not forecasting.beats({"wape": 0.25, "bias_pct": 0.0}, 0.25)
    assert not forecasting.beats({"wape": 0.1, "bias_pct": -12.0}, 0.25)


def test_the_best_baseline_prefers_unbiased_ones() -> None:
    scores = pl.DataFrame(
        {
            "candidate": ["model", "naive", "ma90", "mean365", "seasonal_naive"],
            "wape": [0.1, 0.2, 0.18, 0.3, 0.4],
            "bias_pct": [0.0, 1.0, -15.0, 2.0, 0.0],
        }
    )
    assert forecasting.best_baseline(scores)["candidate"] == "naive"


def test_intervals_contain_the_prediction() -> None:
    predictions = pl.DataFrame({"actual": [0.0, 10.0, 100.0, 5.0], "m": [5.0, 12.0, 80.0, 5.0]})
    low, high = forecasting.interval_offsets(predictions, "m")
    assert low <= 0 <= high
    lower, upper = forecasting.apply_interval(pl.col("p"), (low, high))
    bounds = pl.DataFrame({"p": [0.0, 3.0, 400.0]}).select(lower.alias("l"), upper.alias("u"), "p")
    assert (bounds["l"] <= bounds["p"]).all() and (bounds["p"] <= bounds["u"]).all()


def test_new_products_get_their_run_rate_and_dormant_ones_no_forecast() -> None:
    daily = _daily(
        {"alpha": (START, 10.0), "nova": (AS_OF - timedelta(days=19), 6.0), "zed": (START, 4.0)}
    ).filter(~((pl.col("product_id") == "zed") & (pl.col("date") > date(2025, 6, 1))))
    rows = features.forecast_features(daily.lazy(), AS_OF, 30)
    table = forecasting.forecast_table(
        rows,
        np.full(rows.height, 123.0),
        "model",
        "ecom_revenue_forecast v1",
        (-0.5, 0.5),
        horizon_days=30,
        active_within_days=90,
        new_product_days=60,
    )
    by_product = {row["product_id"]: row for row in table.iter_rows(named=True)}
    assert set(by_product) == {"alpha", "nova"}
    nova = by_product["nova"]
    assert nova["forecast_method"] == "new_product_run_rate"
    assert nova["predicted_revenue"] == pytest.approx(20 * 6.0 / 20 * 30)
    assert (nova["predicted_lower"], nova["predicted_upper"]) == (0.0, pytest.approx(360.0))
    alpha = by_product["alpha"]
    assert alpha["predicted_revenue"] == 123.0
    assert alpha["model_version"] == "ecom_revenue_forecast v1"
    assert alpha["predicted_lower"] < 123.0 < alpha["predicted_upper"]
    assert alpha["revenue_last_period"] == pytest.approx(300.0)
    assert alpha["as_of_date"] == AS_OF
