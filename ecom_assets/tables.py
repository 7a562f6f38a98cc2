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


class LakeStorageError(OSError):
    """The lake's object store refused or could not be reached; the message says what to fix."""


_STORAGE_PROBLEMS = (
    (("NoSuchBucket",), "the bucket {bucket} does not exist: create it or fix ECOM_LAKE_ROOT"),
    (
        (
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "AccessDenied",
            "ExpiredToken",
            "403 Forbidden",
        ),
        "the credentials were refused for the bucket {bucket}: check AWS_ACCESS_KEY_ID, "
        "AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN)",
    ),
    (
        ("error sending request", "Connection refused", "dns error", "tcp connect error"),
        "the endpoint {endpoint} cannot be reached: check AWS_ENDPOINT_URL",
    ),
)


def raise_for_storage(error: Exception, uri: str) -> None:
    """Raise a missing bucket, refused credentials or unreachable endpoint as LakeStorageError."""
    if not settings.is_s3(uri):
        return
    text = str(error)
    bucket = uri.split("://", 1)[1].split("/", 1)[0]
    endpoint = settings.lake_storage_options(uri).get("AWS_ENDPOINT_URL", "of AWS S3")
    for markers, problem in _STORAGE_PROBLEMS:
        if any(marker in text for marker in markers):
            detail = problem.format(bucket=bucket, endpoint=endpoint)
            raise LakeStorageError(f"cannot use the lake at {uri}: {detail}") from error


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
        return DeltaTable(uri, storage_options=settings.lake_storage_options(uri) or None)
    except TableNotFoundError as error:
        raise TableMissingError(
            f"table {name} has not been built yet (no Delta table at {uri}); run `make run`"
        ) from error
    except OSError as error:
        raise_for_storage(error, uri)
        raise


def scan(name: str, lake_root: str | None = None) -> pl.LazyFrame:
    """The latest version of a table, lazily."""
    _open(name, lake_root)
    uri = table_uri(name, lake_root)
    return pl.scan_delta(uri, storage_options=settings.lake_storage_options(uri) or None)


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
