"""The public exports of real shops in ../shared/data/real/, each alone through the whole graph.

Expected figures come from SOURCES.md beside the files (checked there with an independent
reader) and from reading the bytes here with Python's csv module, never from the pipeline.
"""

import csv
import shutil
from collections import Counter
from decimal import Decimal
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from deltalake import DeltaTable

from ecom_assets.definitions import build_defs

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
ONLINE_RETAIL_NON_PRODUCTS = {"POST", "DOT", "M", "C2", "D", "S", "BANK CHARGES"}


def _table(lake: Path, layer: str, name: str) -> pl.DataFrame:
    return pl.from_arrow(DeltaTable(str(lake / layer / name)).to_pyarrow_table())  # type: ignore[return-value]


def _run_alone(name: str, tmp_path_factory: pytest.TempPathFactory):
    """The whole job run on one real export alone; (file name, lake, result)."""
    source = REAL / name
    assert source.is_file(), f"{source} is missing: the tests need ../shared/data/real/"
    root = tmp_path_factory.mktemp(name.split(".")[0])
    raw = root / "raw"
    raw.mkdir()
    shutil.copyfile(source, raw / name)
    lake = root / "lake"
    defs = build_defs(
        lake_root=str(lake), raw_dir=str(raw), mlflow_uri=f"sqlite:///{root / 'mlflow.db'}"
    )
    job = defs.resolve_job_def("ecommerce_pipeline")
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    return name, lake, result


@pytest.fixture(scope="module")
def superstore(tmp_path_factory: pytest.TempPathFactory):
    return _run_alone("superstore.csv", tmp_path_factory)


@pytest.fixture(scope="module")
def online_retail(tmp_path_factory: pytest.TempPathFactory):
    return _run_alone("online_retail_sample.csv", tmp_path_factory)


@pytest.fixture(params=["superstore", "online_retail"])
def real_run(request: pytest.FixtureRequest):
    return request.getfixturevalue(request.param)


def _csv_rows(name: str, encoding: str) -> list[dict[str, str]]:
    with (REAL / name).open(encoding=encoding, newline="") as file:
        return list(csv.DictReader(file))


def test_the_graph_completes_with_a_decision_per_active_product(real_run) -> None:
    name, lake, result = real_run
    assert result.success, name
    decisions = _table(lake, "business", "product_decisions")
    products = _table(lake, "gold", "product_metrics")
    as_of = products["as_of_date"].max()
    active = products.filter(pl.col("last_sale_date") > as_of - pl.duration(days=91))
    assert active.height > 0
    assert sorted(decisions["product_id"]) == sorted(active["product_id"])
    assert decisions["predicted_revenue"].is_finite().all()
    assert decisions["model_version"].null_count() == 0


def test_every_bronze_row_lands_once_in_silver_or_rejected(real_run) -> None:
    name, lake, _ = real_run
    key = ["_source_file", "_source_row"]
    bronze = _table(lake, "bronze", "orders").select(key)
    placed = pl.concat(
        [
            _table(lake, "silver", "orders").select(key),
            _table(lake, "silver", "rejected_orders").select(key),
        ]
    )
    assert placed.sort(key).equals(bronze.sort(key)), name


def test_gold_revenue_equals_silver_revenue_to_the_cent(real_run) -> None:
    _, lake, _ = real_run
    silver_cents = (_table(lake, "silver", "orders")["revenue"] * 100).round().sum()
    for table in ("daily_product_sales", "monthly_sales"):
        gold_cents = (_table(lake, "gold", table)["revenue"] * 100).round().sum()
        assert gold_cents == silver_cents, table
    metric_cents = (_table(lake, "gold", "product_metrics")["total_revenue"] * 100).round().sum()
    assert metric_cents == silver_cents


def test_superstore_as_published_loads_every_row_with_its_sales_total(superstore) -> None:
    name, lake, _ = superstore
    bronze = _table(lake, "bronze", "orders")
    silver = _table(lake, "silver", "orders")
    # SOURCES.md: Windows-1252, 9,994 rows, none invalid, Sales total 2,297,200.86, 1,862 ids.
    assert bronze["_source_encoding"].unique().to_list() == ["cp1252"]
    assert bronze.height == 9994
    assert _table(lake, "silver", "rejected_orders").height == 0
    assert round(silver["revenue"].sum(), 2) == 2297200.86
    assert silver["product_id"].n_unique() == 1862
    names = {row["Product Name"].strip() for row in _csv_rows(name, "cp1252")}
    assert set(silver["product_name"]) == names
    assert any("\u00a0" in product for product in names)


def test_online_retail_rejects_by_reason_as_the_sources_count_them(online_retail) -> None:
    name, lake, _ = online_retail
    silver = _table(lake, "silver", "orders")
    reasons = Counter(_table(lake, "silver", "rejected_orders")["reason"].to_list())
    rows = _csv_rows(name, "utf-8")
    cancellations = [r for r in rows if r["InvoiceNo"].startswith("C")]
    cancelled_non_products = [
        r for r in cancellations if r["StockCode"].upper() in ONLINE_RETAIL_NON_PRODUCTS
    ]
    # SOURCES.md: 20,000 rows, 7 exact duplicates, 350 cancellation rows, 90 rows with quantity
    # or price <= 0 (outside cancellations), 86 non-product lines (outside those two groups).
    assert len(rows) == 20000 and len(cancellations) == 350
    assert reasons["duplicate_row"] == 7
    assert reasons["invalid_price"] + reasons["invalid_quantity"] == 90
    assert reasons["not_a_product"] == 86 + len(cancelled_non_products)
    assert silver.filter(pl.col("line_type") == "return").height == 350 - len(
        cancelled_non_products
    )
    assert set(reasons) == {"duplicate_row", "invalid_price", "not_a_product"}
    missing_customers = sum(r["CustomerID"] == "NA" for r in rows)
    assert missing_customers > 0
    assert silver["customer_id"].null_count() <= missing_customers
    assert "NA" not in set(silver["customer_id"].drop_nulls())


def test_online_retail_net_revenue_matches_an_independent_sum(online_retail) -> None:
    name, lake, _ = online_retail
    seen: set[tuple[str, ...]] = set()
    expected = Decimal(0)
    for row in _csv_rows(name, "utf-8"):
        values = tuple(row.values())
        quantity, price = Decimal(row["Quantity"]), Decimal(row["UnitPrice"])
        copy = values in seen
        seen.add(values)
        broken = price <= 0 or quantity == 0
        not_product = row["StockCode"].upper() in ONLINE_RETAIL_NON_PRODUCTS or row[
            "StockCode"
        ].lower().startswith("gift_")
        if copy or broken or not_product:
            continue
        expected += quantity * price
    silver_cents = (_table(lake, "silver", "orders")["revenue"] * 100).round().sum()
    assert silver_cents == int(expected * 100)
