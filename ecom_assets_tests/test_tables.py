"""Reading the lake without Dagster: latest versions, and a clear error before the first run."""

from pathlib import Path

import polars as pl
import pytest

from ecom_assets import tables


def test_reads_the_latest_version_of_a_table(tmp_path: Path) -> None:
    uri = tables.table_uri("category_metrics", str(tmp_path))
    assert uri == f"{tmp_path}/gold/category_metrics"
    pl.DataFrame({"category": ["Books"], "total_revenue": [1.0]}).write_delta(uri)
    pl.DataFrame({"category": ["Toys", "Books"], "total_revenue": [2.0, 3.0]}).write_delta(
        uri, mode="overwrite"
    )
    assert tables.read("category_metrics", str(tmp_path))["category"].to_list() == ["Toys", "Books"]
    assert tables.info("category_metrics", str(tmp_path)).version == 1


def test_a_table_not_built_yet_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(tables.TableMissingError, match=r"has not been built yet.*make run"):
        tables.read("product_decisions", str(tmp_path))


def test_unknown_tables_are_refused() -> None:
    with pytest.raises(KeyError, match="unknown table 'orders'"):
        tables.table_uri("orders")
