"""Definitions load; the schedule and the sensor ask for the right runs on a test instance."""

import subprocess
import sys
from pathlib import Path

import dagster as dg

from ecom_assets import defs
from ecom_assets.definitions import build_defs
from ecom_assets.resources import LandingZone


def test_definitions_load_with_the_job_schedule_and_sensor() -> None:
    repository = defs.get_repository_def()
    assert repository.has_job("ecommerce_pipeline")
    assert [s.name for s in repository.schedule_defs] == ["ecommerce_pipeline_schedule"]
    assert [s.name for s in repository.sensor_defs] == ["new_export_sensor"]
    keys = {key.to_user_string() for key in repository.asset_graph.get_all_asset_keys()}
    assert keys == {
        "bronze/orders",
        "silver/orders",
        "silver/rejected_orders",
        "gold/daily_product_sales",
        "gold/monthly_sales",
        "gold/product_metrics",
        "gold/category_metrics",
        "ml/product_training_set",
        "ml/revenue_model",
        "ml/revenue_forecast",
        "business/product_decisions",
    }


def test_the_job_covers_the_whole_graph_and_every_check() -> None:
    job = defs.resolve_job_def("ecommerce_pipeline")
    graph = defs.resolve_asset_graph()
    assert job.asset_layer.selected_asset_keys == graph.get_all_asset_keys()
    assert job.asset_layer.asset_graph.asset_check_keys == graph.asset_check_keys
    blocking = {key.name for key in graph.asset_check_keys if graph.get_check_spec(key).blocking}
    assert blocking == {
        "has_clean_lines",
        "line_id_unique",
        "key_columns_not_null",
        "bronze_reconciles_with_silver",
        "served_forecast_beats_best_baseline",
        "forecasts_valid_for_every_active_product",
    }


def test_groups_mirror_the_layers() -> None:
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        assert graph.get(key).group_name == key.path[0]


def test_the_daily_schedule_requests_a_run_of_the_pipeline() -> None:
    schedule = defs.resolve_schedule_def("ecommerce_pipeline_schedule")
    assert schedule.cron_schedule == "0 6 * * *"
    assert schedule.execution_timezone == "UTC"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(instance=instance)
        requests = schedule.evaluate_tick(context).run_requests
    assert requests is not None and len(requests) == 1
    assert schedule.job_name == "ecommerce_pipeline"


def _tick(sensor: dg.SensorDefinition, instance, cursor: str | None, raw: Path):
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"landing_zone": LandingZone(raw_dir=str(raw))}
    )
    return sensor.evaluate_tick(context)


def test_the_sensor_runs_the_pipeline_for_new_and_changed_files_only(tmp_path: Path) -> None:
    sensor = build_defs(raw_dir=str(tmp_path)).resolve_sensor_def("new_export_sensor")
    with dg.instance_for_test() as instance:
        empty = _tick(sensor, instance, None, tmp_path)
        assert empty.run_requests == []

        (tmp_path / "orders.csv").write_text("a\n")
        first = _tick(sensor, instance, empty.cursor, tmp_path)
        assert len(first.run_requests) == 1
        assert first.run_requests[0].tags["ecom/changed_files"] == "orders.csv"

        unchanged = _tick(sensor, instance, first.cursor, tmp_path)
        assert unchanged.run_requests == []

        (tmp_path / ".hidden").write_text("ignored")
        assert _tick(sensor, instance, first.cursor, tmp_path).run_requests == []

        (tmp_path / "orders.csv").write_text("a\nb\n")
        (tmp_path / "more.csv").write_text("c\n")
        changed = _tick(sensor, instance, first.cursor, tmp_path)
        assert len(changed.run_requests) == 1
        assert changed.run_requests[0].tags["ecom/changed_files"] == "more.csv, orders.csv"
        assert changed.run_requests[0].run_key != first.run_requests[0].run_key


def test_the_instance_queues_runs_one_at_a_time(tmp_path: Path) -> None:
    settings = Path(__file__).resolve().parents[1] / "dagster.yaml"
    (tmp_path / "dagster.yaml").write_text(settings.read_text())
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1


def test_the_package_exports_defs_without_importing_dagster_up_front() -> None:
    probe = (
        "import sys, ecom_assets; print('dagster' in sys.modules); "
        "print(type(ecom_assets.defs).__name__)"
    )
    output = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert output == ["False", "Definitions"]


def test_the_steps_that_write_for_every_run_share_the_writers_pool() -> None:
    from ecom_assets.runs import WRITERS_POOL

    job = defs.resolve_job_def("ecommerce_pipeline")
    pooled = {node.name for node in job.graph.node_defs if node.pool == WRITERS_POOL}
    assert pooled == {"bronze__orders", "silver_orders", "ml__revenue_model"}
