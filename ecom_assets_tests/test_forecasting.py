"""Features without leaks, baselines by hand, the cutoffs a history allows, the backtest split,
intervals, what serves without a model and why, and the new-product fallback."""

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


def _training(
    daily: pl.DataFrame, as_of: date = AS_OF, horizon: int = 30, backtest_days: int = 90
) -> pl.DataFrame:
    """The training set at the cutoffs the history allows."""
    first = daily["date"].min()
    assert isinstance(first, date)
    return features.training_set(
        daily.lazy(), features.plan_cutoffs(first, as_of, horizon, backtest_days)
    )


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
    before = _training(daily)
    after = _training(future_changed)
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
    row = lambda frame: _training(frame).filter(pl.col("cutoff_date") == cutoff)  # noqa: E731
    assert row(changed)["revenue_7d"].item() == pytest.approx(row(daily)["revenue_7d"].item() + 20)


def test_baselines_and_windows_by_hand() -> None:
    cutoff = CUTOFF
    daily = _with_step(_daily({"alpha": (START, 10.0)}), "alpha", cutoff - timedelta(days=45), 2.0)
    row = _training(daily).filter(pl.col("cutoff_date") == cutoff).row(0, named=True)
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
    training = _training(_daily({"alpha": (START, 10.0)}))
    cutoffs = training["cutoff_date"].unique().sort().to_list()
    assert cutoffs[-1] == AS_OF - timedelta(days=30) + timedelta(days=1)
    assert {(b - a).days for a, b in itertools.pairwise(cutoffs)} == {7}
    assert cutoffs[0] >= START + timedelta(days=365)
    assert training["target"].null_count() == 0


def test_the_split_never_lets_a_training_target_reach_into_the_test_period() -> None:
    training = _training(_daily({"alpha": (START, 10.0)}), backtest_days=60)
    train, test = forecasting.split_by_time(
        training, features.plan_cutoffs(START, AS_OF, 30, backtest_days=60)
    )
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


def _history(plan: features.CutoffPlan) -> list[int]:
    """Days of history before each cutoff of a plan."""
    return [(c - plan.first_day).days for c in plan.cutoffs]


# Expected plans by hand, horizon 30, weekly cutoffs, a 90-day backtest. A cutoff with h days of
# history before it has its target observed when h + 30 <= history (last = history - 30). A
# training cutoff's target must end by the first test cutoff: c + 30 <= first_test. The first
# cutoff waits for 365 days when that still leaves the full 90-day test window (13 cutoffs,
# last - 84 .. last) and at least 13 training cutoffs, else for 90 days, else for 30; else the
# test window shrinks to the most test cutoffs that leave at least as many, and at least 4,
# training cutoffs.
PLANS = [
    # history, first cutoff's history, last cutoff's history, test days, training cutoffs
    # 1096: last 1066, 1066 - 7 * 100 = 366 >= 365; train up to 1066 - 89 - 30 = 947 (k >= 17)
    (1096, 366, 1066, 90, 84),
    # 600: last 570; a year: 570 - 7 * 29 = 367, train up to 451: k >= 17, 13 of them >= 13
    (600, 367, 570, 90, 13),
    # 590: last 560; a year: k <= 27, train k >= 17: 11 < 13; 90 days: k <= 67 (91), 51 train
    (590, 91, 560, 90, 51),
    # 400: last 370; a year leaves one cutoff; 90 days: k <= 40 (90), train k >= 17: 24
    (400, 90, 370, 90, 24),
    # 200: last 170; 90 days: no training cutoff; 30 days: k <= 20, full window 4 train < 13;
    # t test cutoffs (test days 7t - 6) leave k >= t + 4, 17 - t >= t: t = 8, 50 days, 9 train
    (200, 30, 170, 50, 9),
    # 116: last 86, k <= 8; one test cutoff (1 day) leaves k >= 5: 4 training cutoffs
    (116, 30, 86, 1, 4),
]


@pytest.mark.parametrize(("history", "first", "last", "test_days", "train"), PLANS)
def test_cutoffs_start_as_early_as_the_history_allows(
    history: int, first: int, last: int, test_days: int, train: int
) -> None:
    plan = features.plan_cutoffs(START, START + timedelta(days=history - 1), 30, 90)
    assert plan.history_days == history
    assert _history(plan) == list(range(first, last + 1, 7))
    assert plan.test_days == test_days
    assert plan.train_cutoffs == train
    assert plan.first_test == START + timedelta(days=last - test_days + 1)


@pytest.mark.parametrize("history", [115, 90, 60])
def test_a_history_too_short_for_the_model_still_backtests_the_baselines(history: int) -> None:
    plan = features.plan_cutoffs(START, START + timedelta(days=history - 1), 30, 90)
    last = history - 30
    assert _history(plan) == list(range(last - 7 * ((last - 30) // 7), last + 1, 7))
    assert plan.train_cutoffs == 0
    assert plan.first_test is not None and plan.first_test <= plan.cutoffs[0]


@pytest.mark.parametrize("history", [59, 30, 1])
def test_under_two_horizons_of_history_there_is_no_cutoff(history: int) -> None:
    plan = features.plan_cutoffs(START, START + timedelta(days=history - 1), 30, 90)
    assert plan.cutoffs == () and plan.first_test is None
    assert (plan.test_days, plan.train_cutoffs) == (0, 0)


def test_what_the_model_and_any_backtest_need() -> None:
    plan = features.plan_cutoffs(START, AS_OF, 30, 90)
    assert plan.backtest_needs_days == 30 + 30
    assert plan.model_needs_days == 30 + 30 + 7 * (5 + 4 - 1)
    long_horizon = features.plan_cutoffs(START, AS_OF, 45, 90)
    assert long_horizon.backtest_needs_days == 45 + 45
    assert long_horizon.model_needs_days == 45 + 45 + 7 * (7 + 4 - 1)


@pytest.mark.parametrize(
    ("history", "train_rows", "test_rows", "reason"),
    [
        (
            59,
            0,
            0,
            "59 days of history leave no cutoff with an observed 30-day target to backtest "
            "anything on (needs 60 days)",
        ),
        (115, 0, 40, "115 days of history are too few to backtest the model (needs 116 days)"),
        (
            400,
            80,
            20,
            "80 training rows are too few to fit the model (needs 200)",
        ),
        (
            400,
            500,
            0,
            "no product sold in the 180 days before a test cutoff, so there is nothing to "
            "backtest on",
        ),
        (400, 200, 1, None),
    ],
)
def test_why_the_model_is_not_fitted(
    history: int, train_rows: int, test_rows: int, reason: str | None
) -> None:
    plan = features.plan_cutoffs(START, START + timedelta(days=history - 1), 30, 90)
    settings = forecasting.ModelSettings(min_samples_leaf=40)
    assert forecasting.model_unfit_reason(plan, train_rows, test_rows, settings) == reason


def _backtest(actual: list[float], **candidates: list[float]) -> forecasting.Backtest:
    predictions = pl.DataFrame(
        {
            "product_id": [f"p{i}" for i in range(len(actual))],
            "cutoff_date": [date(2025, 6, 1)] * len(actual),
            "actual": actual,
            **candidates,
        }
    )
    scores = pl.DataFrame(
        [{"candidate": c, **forecasting.score(predictions, c)} for c in candidates]
    )
    return forecasting.Backtest(predictions, scores, train_rows=0, test_cutoffs=[date(2025, 6, 1)])


def test_without_a_model_the_least_wrong_unbiased_baseline_serves() -> None:
    actual = [100.0, 50.0, 10.0, 40.0]
    backtest = _backtest(
        actual,
        naive=[90.0, 60.0, 12.0, 38.0],  # errors 10+10+2+2 = 24 of 200, bias 0
        ma90=[80.0, 40.0, 8.0, 32.0],  # errors 20+10+2+8 = 40, bias -20%: too biased
        mean365=[130.0, 50.0, 10.0, 40.0],  # errors 30, bias +15%: too biased
    )
    served = forecasting.serve_without_model(backtest, "a reason")
    assert (served.candidate, served.method, served.model_version) == (
        "naive",
        "baseline:naive",
        None,
    )
    assert served.description == "baseline naive: a reason."
    residuals = np.log1p(actual) - np.log1p([90.0, 60.0, 12.0, 38.0])
    low, high = np.quantile(residuals, [0.1, 0.9], method="nearest")
    assert (served.interval_low, served.interval_high) == (min(low, 0.0), max(high, 0.0))


def test_when_every_baseline_is_biased_the_lowest_wape_serves_and_ties_keep_their_order() -> None:
    backtest = _backtest([10.0, 10.0], naive=[20.0, 20.0], ma90=[20.0, 20.0], mean365=[40.0, 0.0])
    assert forecasting.serve_without_model(backtest, "why").candidate == "naive"


def test_with_nothing_backtested_the_run_rate_serves_with_no_measured_interval() -> None:
    empty = forecasting.Backtest(
        pl.DataFrame({"actual": []}, schema={"actual": pl.Float64}),
        pl.DataFrame(schema={"candidate": pl.String, "wape": pl.Float64, "bias_pct": pl.Float64}),
        train_rows=0,
    )
    served = forecasting.serve_without_model(empty, "45 days of history are too few")
    assert (served.candidate, served.method) == ("run_rate", "run_rate")
    assert (served.interval_low, served.interval_high) == (None, None)
    assert served.description == "run rate: 45 days of history are too few."


def test_a_test_period_without_revenue_rewards_forecasting_zero() -> None:
    backtest = _backtest([0.0, 0.0], naive=[0.0, 0.0], ma90=[5.0, 0.0])
    scores = {row["candidate"]: row for row in backtest.scores.iter_rows(named=True)}
    assert (scores["naive"]["wape"], scores["naive"]["bias_pct"]) == (0.0, 0.0)
    assert scores["ma90"]["wape"] == float("inf")
    assert forecasting.serve_without_model(backtest, "why").candidate == "naive"


def test_windows_longer_than_the_history_are_null_and_the_run_rate_uses_what_there_is() -> None:
    as_of = START + timedelta(days=199)
    daily = _daily({"alpha": (START, 10.0)}, end=as_of)
    grid = features.feature_grid(daily.lazy(), as_of, 30).collect()
    by_history = {row["history_days"]: row for row in grid.iter_rows(named=True)}
    early, late = by_history[45], by_history[200]
    assert early["revenue_30d"] == pytest.approx(300.0) and early["baseline_naive"] == 300.0
    assert early["revenue_90d"] is None and early["baseline_ma90"] is None
    assert early["revenue_trend"] is None
    assert early["run_rate"] == pytest.approx(45 * 10.0 / 45 * 30)
    assert late["revenue_90d"] == pytest.approx(900.0)
    assert late["run_rate"] == pytest.approx(900.0 / 90 * 30)
    for row in (early, late):
        assert row["revenue_365d"] is None and row["revenue_same_period_last_year"] is None
        assert row["baseline_mean365"] is None and row["baseline_seasonal_naive"] is None
    assert by_history[20]["baseline_naive"] is None
    assert by_history[20]["revenue_last_period"] == pytest.approx(200.0)


def test_a_short_history_has_no_leak_either() -> None:
    as_of = START + timedelta(days=199)
    daily = _daily({"alpha": (START, 10.0), "beta": (START, 50.0)}, end=as_of)
    plan = features.plan_cutoffs(START, as_of, 30, 90)
    cutoff = plan.cutoffs[len(plan.cutoffs) // 2]
    changed = _with_step(_with_step(daily, "alpha", cutoff, 100.0), "beta", cutoff, 0.0)
    at_cutoff = pl.col("cutoff_date") == cutoff
    before = features.training_set(daily.lazy(), plan).filter(at_cutoff)
    after = features.training_set(changed.lazy(), plan).filter(at_cutoff)
    assert before.height == 2
    stable = [*features.FEATURES, *features.BASELINE_COLUMNS, *features.HISTORY_COLUMNS]
    assert before.select(stable).equals(after.select(stable))
    assert not before["target"].equals(after["target"])


def _sparse_shop(as_of: date, products: int, categories: int) -> pl.DataFrame:
    """Products selling one unit every 3 to 40 days, with no ratings or reviews."""
    rows = []
    for i in range(products):
        every = 3 + i % 38
        day = START + timedelta(days=i % every)
        while day <= as_of:
            rows.append(
                {
                    "date": day,
                    "product_id": f"p{i:04d}",
                    "product_name": f"P{i}",
                    "category": f"c{i % categories}",
                    "revenue": 5.0 + i % 7,
                    "quantity": 1,
                    "orders": 1,
                    "avg_price": 5.0 + i % 7,
                    "avg_rating": None,
                    "reviews": None,
                    "as_of_date": as_of,
                }
            )
            day += timedelta(days=every)
    return pl.DataFrame(rows, schema_overrides={"avg_rating": pl.Float64, "reviews": pl.Int64})


@pytest.mark.parametrize("categories", [1, 300])
def test_the_model_fits_without_ratings_or_a_year_and_with_any_number_of_categories(
    categories: int,
) -> None:
    as_of = START + timedelta(days=219)
    daily = _sparse_shop(as_of, products=300, categories=categories)
    plan = features.plan_cutoffs(START, as_of, 30, 90)
    train, test = forecasting.split_by_time(features.training_set(daily.lazy(), plan), plan)
    settings = forecasting.ModelSettings(max_iter=10)
    assert forecasting.model_unfit_reason(plan, train.height, test.height, settings) is None
    backtest, fitted = forecasting.backtest(train, test, settings, fit_model=True)
    assert fitted is not None
    unsupported = {"rating", "reviews", "revenue_365d", "revenue_same_period_last_year"}
    assert unsupported.isdisjoint(fitted.features_)
    assert set(features.NUMERIC_FEATURES) - unsupported == set(fitted.features_)
    assert set(backtest.scores["candidate"]) == {"model", "linear_regression", "naive", "ma90"}
    assert backtest.predictions["model"].is_finite().all()


def test_the_run_rate_fallback_gets_an_interval_of_zero_to_twice_the_forecast() -> None:
    rows = features.forecast_features(_daily({"alpha": (START, 10.0)}).lazy(), AS_OF, 30)
    prediction = forecasting.served_prediction(rows, "run_rate")
    table = forecasting.forecast_table(
        rows, prediction, "run_rate", "run rate: why.", None, 30, 90, 60
    )
    row = table.row(0, named=True)
    assert row["predicted_revenue"] == pytest.approx(90 * 10.0 / 90 * 30)
    assert (row["predicted_lower"], row["predicted_upper"]) == (0.0, pytest.approx(600.0))
    assert row["model_version"] == "run rate: why."


def test_an_interval_offset_of_zero_keeps_the_prediction_inside_its_bounds() -> None:
    from ecom_assets.forecasting import apply_interval

    predictions = [15.355007, 7.359493, 0.0, 1234.5678]
    lower, upper = apply_interval(pl.col("p"), (0.0, 0.0))
    bounds = pl.DataFrame({"p": predictions}).select(lower.alias("low"), upper.alias("high"))
    assert (bounds["low"] <= pl.Series(predictions)).all()
    assert (bounds["high"] >= pl.Series(predictions)).all()


def test_the_level_is_the_mean_of_last_period_and_run_rate_and_never_below_one() -> None:
    frame = pl.DataFrame(
        {"revenue_last_period": [300.0, -50.0, None], "run_rate": [100.0, -10.0, 8.0]}
    ).to_pandas()
    level = forecasting.BaselineRatioRegressor._level(frame)
    assert level.tolist() == [0.5 * 300 + 0.5 * 100 + 1, 1.0, 0.5 * 8 + 1]


def test_the_model_never_predicts_more_than_the_largest_ratio_it_was_trained_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    training = _training(_daily({"a": (date(2023, 1, 1), 5.0), "b": (date(2023, 6, 1), 40.0)}))
    frame = forecasting.to_model_input(training)
    model = forecasting.gradient_boosting(forecasting.ModelSettings(max_iter=5)).fit(
        frame, training["target"].to_numpy()
    )
    level = model._level(frame)
    trained_max = float((training["target"].clip(0).to_numpy() / level).max())
    assert model.max_ratio_ == pytest.approx(trained_max)
    monkeypatch.setattr(model.model_, "predict", lambda matrix: np.full(len(matrix), 1e80))
    assert np.allclose(model.predict(frame), trained_max * level)
