"""A lake the pipeline has not built, or has half written, gives a message and the command to
build it on every page, never a stack trace; a new table version shows on the next rerun."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from ecom_assets_tests.dashboard.conftest import PAGES, OpenPage, read, texts


@pytest.fixture
def lake_copy(lake: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "lake"
    shutil.copytree(lake, copy)
    return copy


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_says_the_pipeline_has_not_run(
    open_page: OpenPage, tmp_path: Path, page: str
) -> None:
    app = open_page(page, lake_root=tmp_path / "empty")
    assert not app.exception
    assert "The pipeline has not run yet" in texts(app)
    assert "make run" in [c.value for c in app.code]
    assert not app.dataframe


def test_a_table_without_a_delta_log_counts_as_not_built(
    open_page: OpenPage, lake_copy: Path
) -> None:
    shutil.rmtree(lake_copy / "gold" / "monthly_sales" / "_delta_log")
    app = open_page("overview", lake_root=lake_copy)
    assert not app.exception
    assert "table `monthly_sales` does not exist" in texts(app)
    assert "make run" in [c.value for c in app.code]


def test_a_corrupt_commit_gives_a_message_not_a_stack_trace(
    open_page: OpenPage, lake_copy: Path
) -> None:
    log = lake_copy / "business" / "product_decisions" / "_delta_log"
    for commit in log.glob("*.json"):
        commit.write_text('{"add": {"path": "part-missing.parquet"')
    for page in ("overview", "products", "ask"):
        app = open_page(page, lake_root=lake_copy)
        assert not app.exception
        assert "table product_decisions could not be read" in texts(app)
        assert "make run" in [c.value for c in app.code]


def test_a_deleted_data_file_gives_a_message_not_a_stack_trace(
    open_page: OpenPage, lake_copy: Path
) -> None:
    for part in (lake_copy / "ml" / "revenue_model").glob("*.parquet"):
        part.unlink()
    app = open_page("model", lake_root=lake_copy)
    assert not app.exception
    assert "table revenue_model could not be read" in texts(app)


def test_files_left_by_a_killed_write_are_ignored(open_page: OpenPage, lake_copy: Path) -> None:
    table = lake_copy / "business" / "product_decisions"
    decisions = read(lake_copy, "business", "product_decisions")
    decisions.head(3).write_parquet(table / "part-00000-uncommitted-c000.snappy.parquet")
    app = open_page("products", lake_root=lake_copy)
    assert not app.exception
    assert f"{decisions.height:,} of {decisions.height:,} products" in texts(app)


def test_a_new_table_version_shows_on_the_next_rerun(open_page: OpenPage, lake_copy: Path) -> None:
    app = open_page("overview", lake_root=lake_copy)
    decisions = read(lake_copy, "business", "product_decisions")
    shown = {m.label: m.value for m in app.metric}
    assert shown["Products forecast"] == f"{decisions.height:,}"
    decisions.head(10).write_delta(
        str(lake_copy / "business" / "product_decisions"), mode="overwrite"
    )
    app.run()
    shown = {m.label: m.value for m in app.metric}
    assert shown["Products forecast"] == "10"
    assert shown["Predicted revenue, next 30 days"] == (
        f"{decisions.head(10)['predicted_revenue'].sum():,.0f}"
    )
    assert "product_decisions version 1" in "\n".join(c.value for c in app.sidebar.caption)


def test_a_table_with_other_columns_gives_a_message(open_page: OpenPage, lake_copy: Path) -> None:
    pl.DataFrame({"something": [1, 2]}).write_delta(
        str(lake_copy / "ml" / "revenue_model"),
        mode="overwrite",
        delta_write_options={"schema_mode": "overwrite"},
    )
    app = open_page("model", lake_root=lake_copy)
    assert not app.exception
    assert "table revenue_model lacks the columns candidate, rmse" in texts(app)
    assert "make run" in [c.value for c in app.code]
