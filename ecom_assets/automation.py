"""The pipeline job, its daily schedule and the sensor that starts it when exports land."""

import hashlib
import json

import dagster as dg

from ecom_assets.resources import LandingZone
from ecom_assets.transforms.bronze import export_files

ecommerce_pipeline = dg.define_asset_job(
    "ecommerce_pipeline",
    selection=dg.AssetSelection.all(),
    executor_def=dg.in_process_executor,
    description="Materialise the whole graph, bronze to business, with every asset check; "
    "bronze and silver load only export files not ingested yet.",
)

_FULL_REBUILD = {"config": {"full_rebuild": True}}
ecommerce_full_rebuild = dg.define_asset_job(
    "ecommerce_full_rebuild",
    selection=dg.AssetSelection.all(),
    executor_def=dg.in_process_executor,
    config={"ops": {"bronze__orders": _FULL_REBUILD, "silver_orders": _FULL_REBUILD}},
    description="The whole graph with bronze and silver rebuilt from every export in the "
    "landing zone (after changing a layout or a cleaning rule, or removing a file).",
)

ecommerce_pipeline_schedule = dg.ScheduleDefinition(
    name="ecommerce_pipeline_schedule",
    job=ecommerce_pipeline,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Load new exports and refresh every table each day at 06:00 UTC.",
)


def landing_zone_fingerprint(landing_zone: LandingZone) -> dict[str, str]:
    """File name -> size and modification time of every export in the landing zone."""
    raw_dir = landing_zone.path()
    fingerprint = {}
    for path in export_files(raw_dir):
        stat = path.stat()
        fingerprint[path.relative_to(raw_dir).as_posix()] = f"{stat.st_size}:{stat.st_mtime_ns}"
    return fingerprint


@dg.sensor(
    name="new_export_sensor",
    job=ecommerce_pipeline,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Start the pipeline when an export file is added to or changed in data/raw.",
)
def new_export_sensor(
    context: dg.SensorEvaluationContext, landing_zone: LandingZone
) -> dg.SensorResult:
    """Request a run when a file is new or changed since the last evaluation."""
    current = landing_zone_fingerprint(landing_zone)
    previous: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    changed = sorted(name for name, mark in current.items() if previous.get(name) != mark)
    cursor = json.dumps(current, sort_keys=True)
    if not changed:
        return dg.SensorResult(skip_reason="no new or changed export files", cursor=cursor)
    run_key = hashlib.sha256(cursor.encode()).hexdigest()[:16]
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(run_key=run_key, tags={"ecom/changed_files": ", ".join(changed)[:200]})
        ],
        cursor=cursor,
    )
