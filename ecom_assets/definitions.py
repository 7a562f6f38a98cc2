"""The code location: every asset, check, job, schedule, sensor and resource."""

import dagster as dg

from ecom_assets.assets.bronze import bronze_orders
from ecom_assets.assets.business import (
    actions_in_vocabulary,
    ask_benchmark_answered_correctly,
    one_decision_per_forecast_product,
    product_decisions,
)
from ecom_assets.assets.gold import GOLD_ASSETS, GOLD_CHECKS
from ecom_assets.assets.ml import (
    forecasts_valid_for_every_active_product,
    product_training_set,
    revenue_forecast,
    revenue_model,
    served_forecast_beats_best_baseline,
)
from ecom_assets.assets.silver import (
    bronze_reconciles_with_silver,
    key_columns_not_null,
    line_id_unique,
    silver_orders,
    values_in_range,
)
from ecom_assets.automation import (
    ecommerce_full_rebuild,
    ecommerce_pipeline,
    ecommerce_pipeline_schedule,
    new_export_sensor,
)
from ecom_assets.resources import (
    AnalysisSettings,
    ForecastSettings,
    Lake,
    LandingZone,
    MlflowTracking,
    lake_io_manager,
)

ASSETS = [
    bronze_orders,
    silver_orders,
    *GOLD_ASSETS,
    product_training_set,
    revenue_model,
    revenue_forecast,
    product_decisions,
]
CHECKS = [
    line_id_unique,
    key_columns_not_null,
    values_in_range,
    bronze_reconciles_with_silver,
    *GOLD_CHECKS,
    served_forecast_beats_best_baseline,
    forecasts_valid_for_every_active_product,
    one_decision_per_forecast_product,
    actions_in_vocabulary,
    ask_benchmark_answered_correctly,
]


def build_defs(
    lake_root: str | None = None, raw_dir: str = "", mlflow_uri: str = "", layouts_dir: str = ""
) -> dg.Definitions:
    """The code location; the arguments override the environment's locations (tests use them)."""
    return dg.Definitions(
        assets=ASSETS,
        asset_checks=CHECKS,
        jobs=[ecommerce_pipeline, ecommerce_full_rebuild],
        schedules=[ecommerce_pipeline_schedule],
        sensors=[new_export_sensor],
        resources={
            "io_manager": lake_io_manager(lake_root),
            "lake": Lake(root_uri=lake_root or ""),
            "landing_zone": LandingZone(raw_dir=raw_dir, layouts_dir=layouts_dir),
            "analysis": AnalysisSettings(),
            "forecast": ForecastSettings(),
            "mlflow": MlflowTracking(tracking_uri=mlflow_uri),
        },
    )


defs = build_defs()
