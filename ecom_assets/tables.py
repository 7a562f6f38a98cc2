"""Reading the latest version of the lake's Delta tables, for the assistant and the dashboard.

Nothing here imports Dagster: the locations come from `settings`, the same ones the pipeline's
IO manager writes to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from ecom_assets import settings

TABLES = {
    "product_decisions": ("business", "product_decisions"),
    "product_metrics": ("gold", "product_metrics"),
    "category_metrics": ("gold", "category_metrics"),
    "monthly_sales": ("gold", "monthly_sales"),
    "daily_product_sales": ("gold", "daily_product_sales"),
    "revenue_model": ("ml", "revenue_model"),
    "revenue_forecast": ("ml", "revenue_forecast"),
    "rejected_orders": ("silver", "rejected_orders"),
}


class TableMissingError(LookupError):
    """A table that has not been written yet; the message says how to build it."""


@dataclass(frozen=True)
class TableInfo:
    """Where a table is, its latest Delta version and when that version was written."""

    name: str
    uri: str
    version: int
    written_at: datetime


def table_uri(name: str, lake_root: str | None = None) -> str:
    """The location of a known table, e.g. `table_uri("product_decisions")`."""
    if name not in TABLES:
        raise KeyError(f"unknown table {name!r}; known tables: {sorted(TABLES)}")
    layer, table = TABLES[name]
    return f"{lake_root or settings.lake_root()}/{layer}/{table}"


def _open(name: str, lake_root: str | None) -> DeltaTable:
    uri = table_uri(name, lake_root)
    try:
        return DeltaTable(uri)
    except TableNotFoundError as error:
        raise TableMissingError(
            f"table {name} has not been built yet (no Delta table at {uri}); run `make run`"
        ) from error


def scan(name: str, lake_root: str | None = None) -> pl.LazyFrame:
    """The latest version of a table, lazily."""
    _open(name, lake_root)
    return pl.scan_delta(table_uri(name, lake_root))


def read(name: str, lake_root: str | None = None) -> pl.DataFrame:
    """The latest version of a table, in memory."""
    return scan(name, lake_root).collect()


def info(name: str, lake_root: str | None = None) -> TableInfo:
    """The latest version of a table and when it was committed."""
    table = _open(name, lake_root)
    timestamp = table.history(1)[0]["timestamp"]
    return TableInfo(
        name=name,
        uri=table_uri(name, lake_root),
        version=table.version(),
        written_at=datetime.fromtimestamp(timestamp / 1000),
    )
