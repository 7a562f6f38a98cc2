"""The dashboard's view of the lake: each table read once per Delta version and cached.

Tables are read only through `ecom_assets.tables`. A page asks for a table by name; the latest
version is looked up on every rerun (cheap: it reads the Delta log) and the rows come from
`st.cache_data`, keyed on the lake root, the table, its version and its commit time, so a new
pipeline run is picked up on the next click and nothing is re-read in between. A table that is
missing or cannot be read raises `TableUnavailable`, which the pages turn into a message.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl
import streamlit as st

from ecom_assets import settings, tables
from ecom_assets.dashboard import data
from ecom_assets.transforms.decisions import DECISION_COLUMNS

BUILD_COMMAND = "make run"
REJECTED_SAMPLES_PER_REASON = 20
REQUIRED_COLUMNS = {
    "product_decisions": tuple(DECISION_COLUMNS),
    "product_metrics": ("product_id", "total_revenue"),
    "category_metrics": ("category", "products", "total_revenue", "revenue_share_pct"),
    "monthly_sales": ("month", "product_id", "revenue", "quantity", "orders"),
    "revenue_model": (
        "candidate",
        *data.METRIC_COLUMNS,
        "run_id",
        "model_version",
        "promoted",
        "served",
        "served_description",
        "best_baseline",
    ),
    "rejected_orders": ("reason", *data.SAMPLE_COLUMNS),
}


class TableUnavailable(LookupError):
    """A table the page needs is missing or cannot be read; `missing` tells the two apart, and
    `rebuild` whether running the pipeline again is the fix."""

    def __init__(self, name: str, missing: bool, detail: str, rebuild: bool = True) -> None:
        super().__init__(detail)
        self.name = name
        self.missing = missing
        self.detail = detail
        self.rebuild = rebuild


def lake_root() -> str:
    """The lake the dashboard shows: `ECOM_LAKE_ROOT` (default `data/lake`), read per rerun."""
    return settings.lake_root()


def info(name: str, root: str | None = None) -> tables.TableInfo:
    """The latest Delta version of a table, or `TableUnavailable`."""
    try:
        return tables.info(name, root or lake_root())
    except tables.TableMissingError as error:
        raise TableUnavailable(name, True, str(error)) from error
    except tables.LakeStorageError as error:
        raise TableUnavailable(name, False, str(error), rebuild=False) from error
    except Exception as error:
        raise TableUnavailable(name, False, _unreadable(name, error)) from error


def table(name: str) -> pl.DataFrame:
    """The latest version of a table, from the cache when that version was read before."""
    root = lake_root()
    latest = info(name, root)
    try:
        frame = _read(name, root, latest.version, latest.written_at)
    except Exception as error:
        raise TableUnavailable(name, False, _unreadable(name, error)) from error
    _check_columns(name, frame.columns)
    return frame


def rejected_summary() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rejected rows per reason and a sample of each reason, computed once per table version."""
    name = "rejected_orders"
    root = lake_root()
    latest = info(name, root)
    try:
        _check_columns(name, tables.scan(name, root).collect_schema().names())
        return _rejected_summary(root, latest.version, latest.written_at)
    except TableUnavailable:
        raise
    except Exception as error:
        raise TableUnavailable(name, False, _unreadable(name, error)) from error


def _check_columns(name: str, columns: list[str]) -> None:
    missing = [c for c in REQUIRED_COLUMNS.get(name, ()) if c not in columns]
    if missing:
        raise TableUnavailable(
            name,
            False,
            f"table {name} lacks the columns {', '.join(missing)}; it may come from an older "
            f"version of the pipeline: run `{BUILD_COMMAND}`",
        )


def _unreadable(name: str, error: Exception) -> str:
    return (
        f"table {name} could not be read ({type(error).__name__}: {error}); it may be half-written "
        f"or from an older version of the pipeline: run `{BUILD_COMMAND}`"
    )


@st.cache_data(show_spinner=False, max_entries=64)
def _read(name: str, root: str, version: int, written_at: datetime) -> pl.DataFrame:
    """The table's rows; `version` and `written_at` only key the cache."""
    return tables.read(name, root)


@st.cache_data(show_spinner=False, max_entries=8)
def _rejected_summary(
    root: str, version: int, written_at: datetime
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Counts and samples of the rejected rows; `version` and `written_at` only key the cache."""
    rejected = tables.scan("rejected_orders", root)
    counts = data.rejected_counts(rejected)
    return counts, data.rejected_samples(rejected, REJECTED_SAMPLES_PER_REASON)
