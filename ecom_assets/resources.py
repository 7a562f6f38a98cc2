"""Resources: the lake IO manager and the landing zone, with local defaults from `settings`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
from dagster._core.storage.db_io_manager import DbIOManager, DbTypeHandler, TableSlice
from dagster_deltalake import DeltaLakePyArrowTypeHandler, LocalConfig, S3Config
from dagster_deltalake.io_manager import DeltaLakeDbClient, TableConnection
from dagster_deltalake_polars import DeltaLakePolarsIOManager, DeltaLakePolarsTypeHandler
from deltalake import DeltaTable

from ecom_assets import settings, tables
from ecom_assets.layouts import Layout, load_layouts

WRITE_MODE = "write_mode"
MERGE_KEY = "merge_key"


def write_metadata(mode: str, merge_key: str = "") -> dict[str, str]:
    """Output metadata telling the lake IO manager to `append` or `merge` (on `merge_key`)
    instead of replacing the table; without it an output overwrites its table."""
    return {WRITE_MODE: mode, **({MERGE_KEY: merge_key} if merge_key else {})}


def _metadata_text(context: dg.OutputContext, key: str) -> str:
    value = context.output_metadata.get(key)
    return str(getattr(value, "value", value) or "")


def _row_count(uri: str, options: dict[str, str] | None) -> int:
    return int(pl.scan_delta(uri, storage_options=options).select(pl.len()).collect().item())


def _write_frame(
    frame: pl.DataFrame, uri: str, options: dict[str, str] | None, mode: str, merge_key: str
) -> None:
    """One commit: replace the table, append the rows, or insert the rows whose key is new."""
    if mode in ("overwrite", "append") and (frame.height or mode == "overwrite"):
        frame.write_delta(
            uri,
            mode="overwrite" if mode == "overwrite" else "append",
            storage_options=options,
            delta_write_options={"schema_mode": "overwrite" if mode == "overwrite" else "merge"},
        )
    elif frame.height and mode == "merge":
        frame.write_delta(
            uri,
            mode="merge",
            storage_options=options,
            delta_merge_options={
                "predicate": f"source.{merge_key} = target.{merge_key}",
                "source_alias": "source",
                "target_alias": "target",
            },
        ).when_not_matched_insert_all().execute()


class NativePolarsTypeHandler(DeltaLakePolarsTypeHandler):
    """Reads and writes tables with Polars' own Delta reader and writer.

    The upstream handler reads through `pl.scan_pyarrow_dataset`, single-threaded and about ten
    times slower on our tables, and after each write logs a warning because its table statistics
    do not work with deltalake 1.x. Each write is one commit, so a killed run leaves the previous
    version readable. An output overwrites its table (schema included) unless its metadata asks
    (see `write_metadata`) to append new rows or to merge them on a key, inserting only rows whose
    key the table does not hold yet. A LazyFrame output is streamed into the table (`sink_delta`),
    never held in memory whole, unless it is merged.
    """

    def handle_output(
        self,
        context: dg.OutputContext,
        table_slice: TableSlice,
        obj: pl.DataFrame | pl.LazyFrame,
        connection: TableConnection,
    ) -> None:
        uri, options = connection.table_uri, connection.storage_options or None
        mode = _metadata_text(context, WRITE_MODE) or "overwrite"
        exists = mode != "overwrite" and DeltaTable.is_deltatable(uri, storage_options=options)
        schema = obj.collect_schema() if isinstance(obj, pl.LazyFrame) else obj.schema
        before = _row_count(uri, options) if exists else 0
        if isinstance(obj, pl.LazyFrame) and mode != "merge":
            obj.sink_delta(
                uri,
                mode="append" if exists else "overwrite",
                storage_options=options,
                delta_write_options={"schema_mode": "merge" if exists else "overwrite"},
            )
        else:
            _write_frame(
                obj.collect() if isinstance(obj, pl.LazyFrame) else obj,
                uri,
                options,
                mode if exists else "overwrite",
                _metadata_text(context, MERGE_KEY),
            )
        total = _row_count(uri, options)
        columns = [dg.TableColumn(name, str(dtype)) for name, dtype in schema.items()]
        context.add_output_metadata(
            {
                "table_uri": uri,
                "rows_written": total - before,
                "dagster/row_count": total,
                "dagster/column_schema": dg.TableSchema(columns=columns),
            }
        )

    def load_input(
        self, context: dg.InputContext, table_slice: TableSlice, connection: TableConnection
    ) -> pl.DataFrame | pl.LazyFrame:
        frame = pl.scan_delta(
            connection.table_uri, storage_options=connection.storage_options or None
        )
        if table_slice.columns:
            frame = frame.select(table_slice.columns)
        return frame.collect() if context.dagster_type.typing_type == pl.DataFrame else frame


class LakeDbClient(DeltaLakeDbClient):
    """Table connections with the lake's storage options from the environment at run time (no
    credential in Dagster config), and object-store failures reported as `LakeStorageError`."""

    @staticmethod
    @contextmanager
    def connect(context: Any, table_slice: TableSlice) -> Iterator[TableConnection]:
        with DeltaLakeDbClient.connect(context, table_slice) as upstream:
            configured = {k: v for k, v in upstream.storage_options.items() if k != "provider"}
            options = {**settings.lake_storage_options(upstream.table_uri), **configured}
            try:
                yield TableConnection(upstream.table_uri, options, upstream.table_config)
            except OSError as error:
                tables.raise_for_storage(error, upstream.table_uri)
                raise


class LakeIOManager(DeltaLakePolarsIOManager):
    """The dagster-deltalake-polars IO manager with Polars-native reads."""

    @staticmethod
    def type_handlers() -> list[DbTypeHandler]:
        return [NativePolarsTypeHandler(), DeltaLakePyArrowTypeHandler()]

    def create_io_manager(self, context: Any) -> DbIOManager:
        """The upstream IO manager, connecting through `LakeDbClient`."""
        return DbIOManager(
            db_client=LakeDbClient(),
            database="deltalake",
            schema=self.schema_,
            type_handlers=self.type_handlers(),
            default_load_type=self.default_load_type(),
            io_manager_name="DeltaLakeIOManager",
        )


def lake_io_manager(root_uri: str | None = None) -> LakeIOManager:
    """Delta tables under `root_uri` (default: the lake root from settings), one per asset key."""
    root = root_uri or settings.lake_root()
    return LakeIOManager(
        root_uri=root,
        storage_options=S3Config() if settings.is_s3(root) else LocalConfig(),
        overwrite_schema=True,
    )


class Lake(dg.ConfigurableResource):
    """Direct access to the lake's tables, for assets that read their own previous version.

    An empty root falls back to `ECOM_LAKE_ROOT` (default `data/lake`), as the IO manager does.
    When a run starts, before its load steps wait for the lake's pool, it tags itself with its
    host and process and fails the runs of this host whose process died (see `ecom_assets.runs`).
    """

    root_uri: str = ""

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        from ecom_assets import runs

        self.check_root()
        if context.instance is None or context.run_id is None:
            return
        runs.tag_current_run(context.instance, context.run_id)
        for run_id in runs.fail_dead_runs(context.instance, context.run_id):
            dg.get_dagster_logger().warning(
                f"Run {run_id} had died without ending (its process is gone): marked failed "
                "and its place in the ecom_writers pool freed"
            )

    def table_uri(self, key: dg.AssetKey) -> str:
        return "/".join([self.root_uri or settings.lake_root(), *key.path])

    def check_root(self) -> None:
        """Raise LakeStorageError when a local lake root cannot hold tables (it, or a folder on
        its path, is a file), so a run stops before it reads any export."""
        root = self.root_uri or settings.lake_root()
        if "://" in root:
            return
        path = Path(root)
        blocking = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
        if blocking is not None:
            raise tables.LakeStorageError(
                f"cannot use the lake at {root}: {blocking} is a file, not a folder; fix "
                f"ECOM_LAKE_ROOT (or the lake resource's root_uri)"
            )

    def read(self, key: dg.AssetKey) -> pl.LazyFrame | None:
        """The latest version of an asset's table, or None when it has not been written yet."""
        uri = self.table_uri(key)
        options = settings.lake_storage_options(uri) or None
        if not DeltaTable.is_deltatable(uri, storage_options=options):
            return None
        return pl.scan_delta(uri, storage_options=options)


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


class ForecastSettings(dg.ConfigurableResource):
    """What is forecast and how: the horizon, which products count as active or new, the
    backtest window, and the decision rules file (empty: `ECOM_DECISION_RULES` or the packaged
    `decision_rules.yaml`)."""

    horizon_days: int = 30
    active_within_days: int = 90
    new_product_days: int = 60
    backtest_days: int = 90
    decision_rules: str = ""

    def rules_path(self) -> Path | None:
        return (
            Path(self.decision_rules).resolve()
            if self.decision_rules
            else (settings.decision_rules_path())
        )


class MlflowTracking(dg.ConfigurableResource):
    """The MLflow tracking store and artifact location; empty values fall back to
    `MLFLOW_TRACKING_URI` / `ECOM_MLFLOW_ARTIFACTS` (defaults under `data/mlflow`)."""

    tracking_uri: str = ""
    artifact_location: str = ""

    def client(self) -> Any:
        """An MLflow client on this store, with the project's experiment set."""
        from ecom_assets import tracking

        return tracking.client(
            self.tracking_uri or settings.mlflow_tracking_uri(),
            self.artifact_location or settings.mlflow_artifact_location(),
        )
