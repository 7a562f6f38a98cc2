"""The whole graph materialised in-process on a small landing zone in a temporary folder."""

from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from deltalake import DeltaTable

import ecom_assets.assets.silver as silver_assets
from ecom_assets.definitions import build_defs
from ecom_assets.generate import generate_orders

TABLES = [
    ("bronze", "orders"),
    ("silver", "orders"),
    ("silver", "rejected_orders"),
    ("gold", "daily_product_sales"),
    ("gold", "monthly_sales"),
    ("gold", "product_metrics"),
    ("gold", "category_metrics"),
]
GOLD = [t for t in TABLES if t[0] == "gold"]


@pytest.fixture(scope="module")
def landing_zone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    raw = tmp_path_factory.mktemp("raw")
    generate_orders(raw / "orders.csv", rows=4000, seed=3)
    (raw / "retail.csv").write_bytes(
        (
            "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\r\n"
            "536365,85123A,WHITE HANGING HEART,6,12/1/2025 8:26,2.55,17850,United Kingdom\r\n"
            "C536379,85123A,WHITE HANGING HEART,-2,12/1/2025 9:41,2.55,17850,United Kingdom\r\n"
        ).encode("cp1252")
    )
    (raw / "broken.csv").write_bytes(b"")
    return raw


def _run(lake: Path, raw: Path) -> dg.ExecuteInProcessResult:
    mlflow_uri = f"sqlite:///{lake.parent / 'mlflow.db'}"
    defs = build_defs(lake_root=str(lake), raw_dir=str(raw), mlflow_uri=mlflow_uri)
    job = defs.resolve_job_def("ecommerce_pipeline")
    return job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)


def _table(lake: Path, layer: str, name: str) -> pl.DataFrame:
    return pl.from_arrow(DeltaTable(str(lake / layer / name)).to_pyarrow_table())  # type: ignore[return-value]


def _check_results(result: dg.ExecuteInProcessResult) -> dict[tuple[str, str], bool]:
    return {
        (e.asset_key.to_user_string(), e.check_name): e.passed
        for e in (
            event.asset_check_evaluation_data
            for event in result.all_events
            if event.event_type_value == "ASSET_CHECK_EVALUATION"
        )
    }


@pytest.fixture(scope="module")
def two_runs(landing_zone: Path, tmp_path_factory: pytest.TempPathFactory):
    lake = tmp_path_factory.mktemp("lake")
    first = _run(lake, landing_zone)
    first_tables = {t: _table(lake, *t) for t in TABLES}
    second = _run(lake, landing_zone)
    return lake, first, first_tables, second


def test_every_table_is_written_and_every_check_passes_but_the_bad_file(two_runs) -> None:
    lake, first, _, second = two_runs
    assert first.success and second.success
    for layer, name in TABLES:
        unchanged_files_write_nothing = layer in ("bronze", "silver")
        expected_version = 0 if unchanged_files_write_nothing else 1
        assert DeltaTable(str(lake / layer / name)).version() == expected_version, (layer, name)
    checks = _check_results(second)
    failed = [key for key, passed in checks.items() if not passed]
    assert failed == [("bronze/orders", "no_unreadable_files")]
    assert len(checks) == 18


def test_rerun_gives_the_same_silver_and_gold(two_runs) -> None:
    lake, _, first_tables, _ = two_runs
    for table in TABLES[1:]:
        before = _sorted(first_tables[table].drop("_ingested_at", strict=False))
        after = _sorted(_table(lake, *table).drop("_ingested_at", strict=False))
        for column in before.columns:
            assert after[column].equals(before[column]), (table, column)


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    """Delta tables have no row order: compare them as sets of rows."""
    return frame.sort(frame.columns, nulls_last=True)


def test_bronze_holds_every_row_of_the_readable_files(two_runs, landing_zone: Path) -> None:
    lake = two_runs[0]
    bronze = _table(lake, "bronze", "orders")
    csv_lines = len((landing_zone / "orders.csv").read_text().splitlines()) - 1
    assert bronze.group_by("_source_file").len().sort("_source_file").rows() == [
        ("orders.csv", csv_lines),
        ("retail.csv", 2),
    ]


def test_silver_and_rejected_partition_bronze(two_runs) -> None:
    lake = two_runs[0]
    key = ["_source_file", "_source_row"]
    bronze = _table(lake, "bronze", "orders").select(key)
    silver = _table(lake, "silver", "orders").select(key)
    rejected = _table(lake, "silver", "rejected_orders").select(key)
    assert silver.height + rejected.height == bronze.height
    assert pl.concat([silver, rejected]).sort(key).equals(bronze.sort(key))
    assert rejected.height > 0


def test_gold_revenue_equals_silver_revenue(two_runs) -> None:
    lake = two_runs[0]
    silver_revenue = sum(_table(lake, "silver", "orders")["revenue"].to_list())
    for layer, name in GOLD:
        table = _table(lake, layer, name)
        column = "revenue" if "revenue" in table.columns else "total_revenue"
        assert sum(table[column].to_list()) == pytest.approx(silver_revenue, abs=0.005), name


def _break_silver(monkeypatch: pytest.MonkeyPatch, breaker) -> None:
    real_split = silver_assets.split_orders

    def broken_split(annotated):
        clean, rejected = real_split(annotated)
        return breaker(clean), rejected

    monkeypatch.setattr(silver_assets, "split_orders", broken_split)


@pytest.mark.parametrize(
    ("breaker", "check"),
    [
        (lambda clean: pl.concat([clean, clean.head(1)]), "line_id_unique"),
        (lambda clean: clean.slice(1), "bronze_reconciles_with_silver"),
        (
            lambda clean: clean.with_columns(
                pl.when(pl.int_range(pl.len()) == 0)
                .then(None)
                .otherwise(pl.col("category"))
                .alias("category")
            ),
            "key_columns_not_null",
        ),
    ],
)
def test_a_broken_silver_table_fails_its_blocking_check_and_stops_gold(
    monkeypatch: pytest.MonkeyPatch, landing_zone: Path, tmp_path: Path, breaker, check: str
) -> None:
    _break_silver(monkeypatch, breaker)
    result = _run(tmp_path / "lake", landing_zone)
    assert _check_results(result)[("silver/orders", check)] is False
    assert not result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "silver/orders" in materialized
    assert not any(key.startswith("gold/") for key in materialized)
    assert not (tmp_path / "lake" / "gold").exists()


def test_a_landing_zone_without_one_clean_line_stops_at_silver_with_one_message(
    tmp_path: Path,
) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    header = "OrderID,OrderDate,Product,Category,Price,Quantity"
    (raw / "orders.csv").write_text(
        f"{header}\nORD-1,not a date,Lamp,Home,10.00,1\nORD-2,2024-01-05,Lamp,Home,10.00,0\n"
        "ORD-3,2024-01-05,Lamp,Home,,1\n"
    )
    (raw / "empty.csv").write_bytes(b"")
    result = _run(tmp_path / "lake", raw)
    assert not result.success
    checks = _check_results(result)
    assert checks[("silver/orders", "has_clean_lines")] is False
    evaluation = next(
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.asset_check_evaluation_data.check_name == "has_clean_lines"
    )
    message = evaluation.description or ""
    assert "no clean order lines" in message
    for reason in ("invalid_date 1", "invalid_quantity 1", "invalid_price 1"):
        assert reason in message
    assert "empty.csv: the file is empty" in message
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"silver/orders", "silver/rejected_orders"} <= materialized
    assert not any(key.split("/")[0] in ("gold", "ml", "business") for key in materialized)
    failed_steps = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failed_steps == ["silver_orders"]


def test_a_run_killed_before_commit_leaves_tables_readable(two_runs, landing_zone: Path) -> None:
    lake = two_runs[0]
    committed = _sorted(_table(lake, "silver", "orders").drop("_ingested_at"))
    orphan = lake / "silver" / "orders" / "part-00000-killed-mid-write.parquet"
    orphan.write_bytes(b"PAR1 half a file")
    assert _sorted(_table(lake, "silver", "orders").drop("_ingested_at")).equals(committed)
    assert _run(lake, landing_zone).success
    assert _sorted(_table(lake, "silver", "orders").drop("_ingested_at")).equals(committed)


def test_a_broken_model_fails_its_gate_check_and_never_reaches_the_decision_table(
    monkeypatch: pytest.MonkeyPatch, landing_zone: Path, tmp_path: Path
) -> None:
    from sklearn.dummy import DummyRegressor

    from ecom_assets import forecasting, tracking

    monkeypatch.setattr(
        forecasting,
        "gradient_boosting",
        lambda settings: DummyRegressor(strategy="constant", constant=1e6),
    )
    monkeypatch.setattr(tracking, "beats", lambda candidate, reference_wape: True)
    result = _run(tmp_path / "lake", landing_zone)
    checks = _check_results(result)
    assert checks[("ml/revenue_model", "served_forecast_beats_best_baseline")] is False
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "ml/revenue_model" in materialized
    assert "ml/revenue_forecast" not in materialized
    assert "business/product_decisions" not in materialized


def test_decisions_cover_every_active_product_with_the_contract_columns(two_runs) -> None:
    from ecom_assets.transforms.decisions import ACTIONS, DECISION_COLUMNS

    lake = two_runs[0]
    decisions = _table(lake, "business", "product_decisions")
    products = _table(lake, "gold", "product_metrics")
    as_of = products["as_of_date"].max()
    active = products.filter(pl.col("last_sale_date") > as_of - pl.duration(days=91))
    assert decisions.columns == DECISION_COLUMNS
    assert sorted(decisions["product_id"]) == sorted(active["product_id"])
    assert set(decisions["recommended_action"]) <= set(ACTIONS)
    assert decisions["performance_bucket"].is_in(["High", "Medium", "Low"]).all()
    assert (decisions["predicted_lower"] <= decisions["predicted_revenue"]).all()
    assert (decisions["predicted_revenue"] <= decisions["predicted_upper"]).all()
    assert decisions["as_of_date"].unique().to_list() == [as_of]
    model_card = _table(lake, "ml", "revenue_model")
    served = model_card.filter(pl.col("served")).row(0, named=True)
    assert set(decisions["model_version"]) <= {
        served["served_description"],
        "new_product_run_rate (new product)",
    }


def test_a_lake_root_under_a_file_stops_the_run_before_any_export_is_read(
    landing_zone: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ecom_assets.assets.bronze as bronze_assets

    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the lake should go")
    read: list[Path] = []
    real_stage = bronze_assets.stage_export
    monkeypatch.setattr(
        bronze_assets,
        "stage_export",
        lambda path, *args: read.append(path) or real_stage(path, *args),
    )
    result = _run(blocker / "lake", landing_zone)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "RESOURCE_INIT_FAILURE"]
    assert f"{blocker} is a file, not a folder; fix ECOM_LAKE_ROOT" in str(
        failure.event_specific_data
    )
    assert read == []
