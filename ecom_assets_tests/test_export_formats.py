"""Exports in four real formats (built by ecom_assets_tests.real_formats, with facts counted there
from the written rows) through the whole graph: the built-in Shopify and Online Retail II layouts,
and, for a B2B sales export and a marketplace export that no built-in layout reads, the layout a
user gets from `ecom layout suggest` after the edits its TODOs ask for."""

from collections import Counter
from collections.abc import Callable
from copy import deepcopy
from dataclasses import replace
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from deltalake import DeltaTable

from ecom_assets.definitions import build_defs
from ecom_assets.layouts.suggest import Suggestion, render_layout, suggest_layout
from ecom_assets_tests import real_formats
from ecom_assets_tests.real_formats import ExportFacts

KINDS: dict[str, tuple[Callable[..., ExportFacts], str, str]] = {
    "shopify": (real_formats.write_shopify_orders, "orders_export_1.csv", "shopify"),
    "online_retail_ii": (
        real_formats.write_online_retail_ii,
        "online_retail_II.csv",
        "online_retail_ii",
    ),
    "b2b": (real_formats.write_b2b_sales_sample, "sales_data_sample.csv", "sales_data_sample"),
    "marketplace": (real_formats.write_marketplace_items, "olist_items.csv", "olist_items"),
}


def _edited_as_its_todos_ask(suggestion: Suggestion) -> dict:
    """The draft after a user's edits: every TODO read, and the one that asks a decision of the
    shop answered (an Olist order that is "unavailable" was never delivered, as "canceled")."""
    assert {todo.setting for todo in suggestion.todos} <= {"revenue", "exclude_rows"}
    layout = deepcopy(suggestion.layout)
    for row_filter in layout.get("exclude_rows", []):
        if row_filter["column"] == "order_status":
            row_filter["in"] = [*row_filter["in"], "unavailable"]
    return layout


def _table(lake: Path, layer: str, name: str) -> pl.DataFrame:
    return pl.from_arrow(DeltaTable(str(lake / layer / name)).to_pyarrow_table())  # type: ignore[return-value]


@pytest.fixture(scope="module", params=sorted(KINDS))
def export_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """(facts, expected layout, lake, result) of the whole job on one export alone."""
    write, file_name, layout = KINDS[request.param]
    root = tmp_path_factory.mktemp(request.param)
    raw = root / "raw"
    raw.mkdir()
    facts = write(raw / file_name)
    layouts = root / "layouts"
    layouts.mkdir()
    if request.param in ("b2b", "marketplace"):
        suggestion = suggest_layout(raw / file_name)
        edited = replace(suggestion, layout=_edited_as_its_todos_ask(suggestion))
        (layouts / f"{layout}.yaml").write_text(render_layout(edited))
    lake = root / "lake"
    defs = build_defs(
        lake_root=str(lake),
        raw_dir=str(raw),
        layouts_dir=str(layouts),
        mlflow_uri=f"sqlite:///{root / 'mlflow.db'}",
    )
    job = defs.resolve_job_def("ecommerce_pipeline")
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    return facts, layout, lake, result


def test_the_export_is_read_with_its_layout_and_encoding(export_run) -> None:
    facts, layout, lake, _ = export_run
    bronze = _table(lake, "bronze", "orders")
    assert bronze.height == facts.rows
    assert bronze["_layout"].unique().to_list() == [layout]
    assert bronze["_source_encoding"].unique().to_list() == [facts.encoding]


def test_rows_are_rejected_by_reason_as_the_facts_count_them(export_run) -> None:
    facts, _, lake, _ = export_run
    rejected = Counter(_table(lake, "silver", "rejected_orders")["reason"].to_list())
    silver = _table(lake, "silver", "orders")
    assert silver.height == facts.silver_rows
    assert silver.filter(pl.col("line_type") == "return").height == facts.return_rows
    assert rejected["excluded_status"] == facts.excluded_status_rows
    assert rejected["not_a_product"] == facts.not_a_product_rows
    assert rejected["duplicate_row"] == facts.duplicate_rows
    assert rejected["payment_repeat"] == facts.payment_repeat_rows
    # A stock adjustment (negative quantity, price 0) on a normal invoice is a return by the
    # Online Retail rules, so it fails on its price rather than its quantity: compare the sum.
    invalid = rejected["invalid_quantity"] + rejected["invalid_price"]
    assert invalid == facts.invalid_quantity_rows + facts.invalid_price_rows
    assert sum(rejected.values()) == facts.rejected_rows


def test_silver_revenue_and_dates_match_the_facts_and_gold_matches_silver(export_run) -> None:
    facts, _, lake, _ = export_run
    silver = _table(lake, "silver", "orders")
    silver_cents = int((silver["revenue"] * 100).round().sum())
    assert silver_cents == facts.net_revenue_cents
    assert silver["order_date"].min() == facts.first_date
    assert silver["order_date"].max() == facts.last_date
    assert silver.filter(pl.col("line_type") == "sale")["product_id"].n_unique() == facts.products
    gold_cents = int((_table(lake, "gold", "daily_product_sales")["revenue"] * 100).round().sum())
    assert gold_cents == silver_cents


def test_the_graph_completes_with_a_decision_per_active_product(export_run) -> None:
    _, _, lake, result = export_run
    assert result.success
    decisions = _table(lake, "business", "product_decisions")
    products = _table(lake, "gold", "product_metrics")
    as_of = products["as_of_date"].max()
    active = products.filter(pl.col("last_sale_date") > as_of - pl.duration(days=91))
    assert sorted(decisions["product_id"]) == sorted(active["product_id"])
