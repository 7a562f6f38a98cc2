"""Resources: the lake IO manager and the landing zone, with local defaults from `settings`."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import dagster as dg
from dagster_deltalake import LocalConfig
from dagster_deltalake_polars import DeltaLakePolarsIOManager

from ecom_assets import settings
from ecom_assets.layouts import Layout, load_layouts


def lake_io_manager(root_uri: str | None = None) -> DeltaLakePolarsIOManager:
    """Delta tables under `root_uri` (default: the lake root from settings), one per asset key."""
    return DeltaLakePolarsIOManager(
        root_uri=root_uri or settings.lake_root(),
        storage_options=LocalConfig(),
        overwrite_schema=True,
    )


class LandingZone(dg.ConfigurableResource):
    """Where order exports land and the layouts that read them.

    Empty values fall back to `ECOM_RAW_DIR` / `ECOM_LAYOUTS_DIR` (defaults `data/raw`,
    `data/layouts`), read when the run starts.
    """

    raw_dir: str = ""
    layouts_dir: str = ""

    def path(self) -> Path:
        return Path(self.raw_dir).resolve() if self.raw_dir else settings.raw_dir()

    def layouts(self) -> dict[str, Layout]:
        extra = Path(self.layouts_dir) if self.layouts_dir else settings.user_layouts_dir()
        return load_layouts(extra)


class AnalysisSettings(dg.ConfigurableResource):
    """The date every metric is computed as of: empty means the last order date in silver.

    Falls back to `ECOM_AS_OF_DATE` (YYYY-MM-DD) when set.
    """

    as_of_date: str = ""

    def as_of_override(self) -> date | None:
        value = self.as_of_date or os.environ.get(settings.AS_OF_DATE_ENV, "")
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError as error:
            raise ValueError(f"as_of_date {value!r} is not a date in YYYY-MM-DD form") from error
