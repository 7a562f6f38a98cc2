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
    training = features.training_set(daily.lazy(), AS_OF, 30)
    settings = forecasting.ModelSettings(max_iter=20)
    backtest, fitted = forecasting.backtest(training, 30, 60, settings)
    test = training.filter(pl.col("cutoff_date").is_in(backtest.test_cutoffs))
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
    best = forecasting.best_baseline(backtest.scores)
    offsets = {n: (-0.5, 0.5) for n in ("model", best["candidate"])}
    params = {"as_of_date": str(AS_OF), "horizon_days": 30}
    return tracking.log_training(client, backtest, fitted, test, importance, params, best, offsets)


def test_only_a_model_better_than_baselines_and_champion_is_promoted(tmp_path: Path, trained):
    first = _log(tmp_path, trained, model_wape=0.10)
    assert (first.version, first.promoted) == ("1", True)
    assert first.served.model_version == "1" and first.served.method == "model"

    worse_than_champion = _log(tmp_path, trained, model_wape=0.15)
    assert (worse_than_champion.version, worse_than_champion.promoted) == ("2", False)
    served = worse_than_champion.served
    assert (served.candidate, served.model_version) == ("champion", "1")
    assert served.scores is not None
    assert served.scores["wape"] == pytest.approx(0.10), "a champion that saw the test targets"

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


def test_a_registered_version_loads_and_predicts_like_the_logged_model(tmp_path: Path, trained):
    record = _log(tmp_path, trained, model_wape=0.1)
    _, fitted, test, _ = trained
    loaded = tracking.load_model(record.version)
    inputs = forecasting.to_model_input(test)
    assert (loaded.predict(inputs) == fitted.predict(inputs)).all()
