"""The Data quality page's asset-check results, read from a Dagster instance in DAGSTER_HOME."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from ecom_assets_tests.dashboard.conftest import OpenPage, frame, texts


@dg.asset
def numbers() -> list[int]:
    return [1, 2, 3]


@dg.asset_check(asset=numbers)
def all_positive(numbers: list[int]) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=all(n > 0 for n in numbers))


@dg.asset_check(asset=numbers)
def all_even(numbers: list[int]) -> dg.AssetCheckResult:
    odd = [n for n in numbers if n % 2]
    return dg.AssetCheckResult(passed=not odd, description=f"{len(odd)} odd numbers")


def test_latest_check_results_are_shown_failures_first(
    open_page: OpenPage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        result = dg.materialize([numbers, all_positive, all_even], instance=instance)
        run_id = result.run_id
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    app = open_page("quality")
    assert not app.exception
    assert {m.label: m.value for m in app.metric}["Checks failing"] == "1 of 2"
    checks = frame(app.dataframe[-1])
    assert checks.select("asset", "check", "passed", "description").rows() == [
        ("numbers", "all_even", False, "2 odd numbers"),
        ("numbers", "all_positive", True, None),
    ]
    assert set(checks["run_id"]) == {run_id}


def test_an_instance_without_runs_says_so(
    open_page: OpenPage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    app = open_page("quality")
    assert "No asset check has run in the Dagster instance" in texts(app)
