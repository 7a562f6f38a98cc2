"""MLflow: runs, registered versions and the champion gate, on a temporary tracking store."""

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from ecom_assets import forecasting, tracking
from ecom_assets.transforms import features
from ecom_assets_tests.test_forecasting import _daily

AS_OF = date(2025, 12, 31)


@pytest.fixture(scope="module")
def trained():
    products = {f"p{i:02d}": (date(2024, 1, 1), 5.0 + 3 * i) for i in range(12)}
    daily = _daily(products, AS_OF).with_columns(
        (pl.col("revenue") * (1 + (pl.col("date").dt.ordinal_day() % 7) / 10)).alias("revenue")
    )
    plan = features.plan_cutoffs(date(2024, 1, 1), AS_OF, 30, backtest_days=60)
    training = features.training_set(daily.lazy(), plan)
    settings = forecasting.ModelSettings(max_iter=20)
    train, test = forecasting.split_by_time(training, plan)
    backtest, fitted = forecasting.backtest(train, test, settings, fit_model=True)
    assert fitted is not None
    importance = forecasting.feature_importance(fitted, test, test["target"].to_numpy())
    return backtest, fitted, test, importance


def _with_scores(backtest: forecasting.Backtest, model_wape: float, bias: float = 0.0):
    scores = backtest.scores.with_columns(
        pl.when(pl.col("candidate") == "model")
        .then(pl.lit(model_wape))
        .otherwise(pl.lit(0.3))
        .alias("wape"),
        pl.when(pl.col("candidate") == "model")
        .then(pl.lit(bias))
        .otherwise(pl.lit(0.0))
        .alias("bias_pct"),
    )
    return forecasting.Backtest(
        backtest.predictions, scores, backtest.train_rows, backtest.test_cutoffs
    )


def _log(store: Path, trained, model_wape: float, bias: float = 0.0) -> tracking.TrainingRecord:
    backtest, fitted, test, importance = trained
    backtest = _with_scores(backtest, model_wape, bias)
    client = tracking.client(f"sqlite:///{store / 'mlflow.db'}", (store / "artifacts").as_uri())
    model = tracking.FittedModel(final=fitted, importance=importance, offsets=(-0.5, 0.5))
    params = {"as_of_date": str(AS_OF), "horizon_days": 30}
    return tracking.log_training(client, backtest, model, test, params, unfit_reason=None)


def test_only_a_model_better_than_baselines_and_champion_is_promoted(tmp_path: Path, trained):
    first = _log(tmp_path, trained, model_wape=0.10)
    assert (first.version, first.promoted) == ("1", True)
    assert first.served.model_version == "1" and first.served.method == "model"
    best = forecasting.best_baseline(_with_scores(trained[0], 0.10).scores)
    assert best is not None
    assert first.served.description == (
        f"ecom_revenue_forecast v1: the model beats the best baseline {best['candidate']} on the "
        "backtest (WAPE 0.100 vs 0.300, bias +0.0%)."
    )

    worse_than_champion = _log(tmp_path, trained, model_wape=0.15)
    assert (worse_than_champion.version, worse_than_champion.promoted) == ("2", False)
    served = worse_than_champion.served
    assert (served.candidate, served.model_version) == ("champion", "1")
    assert served.scores is not None
    assert served.scores["wape"] == pytest.approx(0.10), "a champion that saw the test targets"
    assert served.description.startswith(
        "ecom_revenue_forecast v1: the champion beats the best baseline"
    )
    assert served.description.endswith("and this run's model v2 was not promoted.")

    too_biased = _log(tmp_path, trained, model_wape=0.05, bias=-25.0)
    assert too_biased.promoted is False

    worse_than_baselines = _log(tmp_path, trained, model_wape=0.35)
    assert worse_than_baselines.promoted is False

    better = _log(tmp_path, trained, model_wape=0.08)
    assert (better.version, better.promoted) == ("5", True)

    client = tracking.client(f"sqlite:///{tmp_path / 'mlflow.db'}", (tmp_path / "a").as_uri())
    assert (
        str(client.get_model_version_by_alias(tracking.MODEL_NAME, tracking.CHAMPION).version)
        == "5"
    )
    run = client.get_run(better.run_id)
    assert run.data.metrics["model_wape"] == pytest.approx(0.08)
    assert "naive_wape" in run.data.metrics and "ma90_bias_pct" in run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(better.run_id)}
    assert {"backtest_actual_vs_predicted.png", "feature_importance.png"} <= artifacts


def test_without_any_model_that_beats_the_baselines_a_baseline_serves(tmp_path: Path, trained):
    record = _log(tmp_path, trained, model_wape=0.9)
    assert record.promoted is False
    assert record.served.method.startswith("baseline:")
    assert record.served.model_version is None
    assert "no model beats it" in record.served.description
    assert record.served.description.endswith(
        "vs this run's model 0.900 with a bias of +0.0%; the gate needs a lower WAPE and a bias "
        "within 10%)."
    )


def test_a_registered_version_loads_and_predicts_like_the_logged_model(tmp_path: Path, trained):
    record = _log(tmp_path, trained, model_wape=0.1)
    _, fitted, test, _ = trained
    loaded = tracking.load_model(record.version)
    inputs = forecasting.to_model_input(test)
    assert (loaded.predict(inputs) == fitted.predict(inputs)).all()


def test_a_run_without_a_model_registers_nothing_and_says_what_serves(tmp_path: Path, trained):
    backtest, _, test, _ = trained
    baselines_only = forecasting.Backtest(
        backtest.predictions.drop("model", "linear_regression"),
        backtest.scores.filter(~pl.col("candidate").is_in(["model", "linear_regression"])),
        backtest.train_rows,
        backtest.test_cutoffs,
    )
    client = tracking.client(f"sqlite:///{tmp_path / 'mlflow.db'}", (tmp_path / "a").as_uri())
    params = {"as_of_date": str(AS_OF), "horizon_days": 30}
    why = "80 training rows are too few to fit the model (needs 200)"
    record = tracking.log_training(client, baselines_only, None, test, params, why)
    best = forecasting.best_baseline(baselines_only.scores)
    assert best is not None
    assert (record.version, record.promoted, record.served.candidate) == (
        None,
        False,
        best["candidate"],
    )
    assert record.served.description == f"baseline {best['candidate']}: {why}."
    run = client.get_run(record.run_id)
    assert run.data.tags[tracking.SERVED_BY_TAG] == record.served.description
    assert run.data.params["model_fitted"] == "False"
    assert "model_wape" not in run.data.metrics and "naive_wape" in run.data.metrics
    assert client.search_registered_models() == []
    stored = Path(client.download_artifacts(record.run_id, tracking.PREDICTIONS_ARTIFACT, tmp_path))
    assert pl.read_csv(stored).height == baselines_only.predictions.height


def test_a_run_with_nothing_to_backtest_serves_the_run_rate(tmp_path: Path) -> None:
    nothing = forecasting.Backtest(
        pl.DataFrame(schema={"product_id": pl.String, "actual": pl.Float64}),
        pl.DataFrame(schema={"candidate": pl.String, "wape": pl.Float64, "bias_pct": pl.Float64}),
        train_rows=0,
    )
    client = tracking.client(f"sqlite:///{tmp_path / 'mlflow.db'}", (tmp_path / "a").as_uri())
    why = "40 days of history leave no cutoff with an observed 30-day target"
    record = tracking.log_training(
        client, nothing, None, pl.DataFrame(), {"as_of_date": str(AS_OF)}, why
    )
    assert record.served.candidate == "run_rate"
    assert client.get_run(record.run_id).data.tags[tracking.SERVED_BY_TAG] == f"run rate: {why}."
