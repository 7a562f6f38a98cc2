"""Incremental loads: new exports are appended and merged, re-sent ones change nothing, and the
result equals a full rebuild from every file at once."""

import csv
import shutil
from collections import Counter
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from deltalake import DeltaTable

from ecom_assets.definitions import ASSETS, build_defs
from ecom_assets.generate import generate_orders
from ecom_assets_tests.test_pipeline import TABLES

MEDALLION = dg.AssetSelection.groups("bronze", "silver", "gold")
FULL_REBUILD = {
    "ops": {
        "bronze__orders": {"config": {"full_rebuild": True}},
        "silver_orders": {"config": {"full_rebuild": True}},
    }
}


def _clean_lines(lines: list[str]) -> list[str]:
    """Lines every rule accepts: all fields present, positive price and quantity, total = price
    x quantity, and an order id used once."""
    rows = list(csv.reader(lines))
    order_ids = Counter(row[0] for row in rows)
    return [
        line
        for line, row in zip(lines, rows, strict=True)
        if all(row)
        and order_ids[row[0]] == 1
        and row[6].isdigit()
        and int(row[6]) > 0
        and float(row[5]) > 0
        and abs(float(row[5]) * int(row[6]) - float(row[7])) < 0.005
    ]


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A generated export split in two by line order: the history and the next day's file,
    plus a file re-sending five clean history lines (two unchanged, three paid another way)."""
    folder = tmp_path_factory.mktemp("generated")
    generate_orders(folder / "all.csv", rows=3000, seed=11)
    header, *lines = (folder / "all.csv").read_text().splitlines()
    cut = len(lines) * 9 // 10
    chosen = _clean_lines(lines[:cut])[:5]
    resent = chosen[:2]
    for row in csv.reader(chosen[2:]):
        row[10] = "Gift Card" if row[10] != "Gift Card" else "Cash"
        resent.append(",".join(row))
    return {
        "a_history.csv": "\n".join([header, *lines[:cut]]) + "\n",
        "b_daily.csv": "\n".join([header, *lines[cut:]]) + "\n",
        "c_resent_lines.csv": "\n".join([header, *resent]) + "\n",
    }


def _load(lake: Path, raw: Path, run_config: dict | None = None) -> dg.ExecuteInProcessResult:
    defs = build_defs(lake_root=str(lake), raw_dir=str(raw))
    result = dg.materialize(
        ASSETS,
        selection=MEDALLION,
        resources=defs.resources,
        run_config=run_config or {},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    return result


def _table(lake: Path, layer: str, name: str) -> pl.DataFrame:
    """A table as a set of rows: sorted, without the ingestion time that differs per run."""
    frame = pl.read_delta(str(lake / layer / name)).drop("_ingested_at", strict=False)
    return frame.sort(frame.columns, nulls_last=True)


def _versions(lake: Path) -> dict[tuple[str, str], int]:
    return {t: DeltaTable(str(lake.joinpath(*t))).version() for t in TABLES}


def _bronze_metadata(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    (materialization,) = result.asset_materializations_for_node("bronze__orders")
    return {key: getattr(value, "value", value) for key, value in materialization.metadata.items()}


@pytest.fixture(scope="module")
def incremental_lake(
    exports: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, object]:
    """A lake loaded file by file, with what each load did."""
    raw, lake = tmp_path_factory.mktemp("raw"), tmp_path_factory.mktemp("lake")
    steps: dict[str, object] = {}
    for name in exports:
        (raw / name).write_text(exports[name])
        result = _load(lake, raw)
        steps[name] = {"bronze": _bronze_metadata(result), "versions": _versions(lake)}
    return {"raw": raw, "lake": lake, "steps": steps}


def test_each_load_reads_only_the_new_file_and_appends_to_bronze_and_silver(
    incremental_lake: dict,
) -> None:
    steps = incremental_lake["steps"]
    for number, name in enumerate(["a_history.csv", "b_daily.csv", "c_resent_lines.csv"]):
        bronze = steps[name]["bronze"]
        assert (bronze["files"], bronze["already_ingested_files"]) == (1, number)
        assert bronze["write_mode"] == "append"
        versions = steps[name]["versions"]
        assert versions[("bronze", "orders")] == number
        assert versions[("silver", "rejected_orders")] == number
    every_line_resent = steps["c_resent_lines.csv"]["versions"][("silver", "orders")]
    assert every_line_resent == steps["b_daily.csv"]["versions"][("silver", "orders")] == 1


def test_loading_file_by_file_gives_the_tables_of_a_full_rebuild(
    incremental_lake: dict, tmp_path: Path
) -> None:
    lake = tmp_path / "rebuilt"
    _load(lake, incremental_lake["raw"], FULL_REBUILD)
    for table in TABLES:
        expected = _table(lake, *table)
        actual = _table(incremental_lake["lake"], *table)
        assert actual.columns == expected.columns, table
        assert actual.equals(expected), table


def test_resent_lines_are_rejected_as_duplicates_or_resends(
    incremental_lake: dict, exports: dict[str, str]
) -> None:
    rejected = pl.read_delta(str(incremental_lake["lake"] / "silver" / "rejected_orders"))
    from_resend = rejected.filter(pl.col("_source_file") == "c_resent_lines.csv")
    reasons = from_resend.sort("_source_row")["reason"].to_list()
    resent_rows = exports["c_resent_lines.csv"].splitlines()[1:]
    history_rows = exports["a_history.csv"].splitlines()[1:]
    exact = [row in history_rows for row in resent_rows]
    assert exact == [True, True, False, False, False]
    assert reasons == ["duplicate_row" if same else "resent_line" for same in exact]


def test_a_file_sent_again_under_another_name_changes_nothing(
    incremental_lake: dict, tmp_path: Path
) -> None:
    raw, lake = tmp_path / "raw", tmp_path / "lake"
    shutil.copytree(incremental_lake["raw"], raw)
    shutil.copytree(incremental_lake["lake"], lake)
    shutil.copy(raw / "b_daily.csv", raw / "d_daily_again.csv")
    before = {t: _table(lake, *t) for t in TABLES}
    versions = _versions(lake)
    result = _load(lake, raw)
    assert _bronze_metadata(result)["files"] == 0
    assert _bronze_metadata(result)["already_ingested_files"] == 4
    for table in [("bronze", "orders"), ("silver", "orders"), ("silver", "rejected_orders")]:
        assert _versions(lake)[table] == versions[table], table
    for table in TABLES:
        assert _table(lake, *table).equals(before[table]), table


def test_a_full_rebuild_forgets_a_removed_file(incremental_lake: dict, tmp_path: Path) -> None:
    raw, lake = tmp_path / "raw", tmp_path / "lake"
    shutil.copytree(incremental_lake["raw"], raw)
    shutil.copytree(incremental_lake["lake"], lake)
    (raw / "c_resent_lines.csv").unlink()
    _load(lake, raw)
    kept = pl.read_delta(str(lake / "bronze" / "orders"))["_source_file"].unique().to_list()
    assert "c_resent_lines.csv" in kept
    _load(lake, raw, FULL_REBUILD)
    for layer, name in [("bronze", "orders"), ("silver", "rejected_orders")]:
        files = pl.read_delta(str(lake / layer / name))["_source_file"].unique().sort()
        assert files.to_list() == ["a_history.csv", "b_daily.csv"], (layer, name)


def test_silver_is_rebuilt_when_bronze_was(incremental_lake: dict, tmp_path: Path) -> None:
    raw, lake = tmp_path / "raw", tmp_path / "lake"
    shutil.copytree(incremental_lake["raw"], raw)
    shutil.copytree(incremental_lake["lake"], lake)
    expected = _table(lake, "silver", "orders")
    only_bronze = {"ops": {"bronze__orders": {"config": {"full_rebuild": True}}}}
    _load(lake, raw, only_bronze)
    assert _table(lake, "silver", "orders").equals(expected)
    assert pl.read_delta(str(lake / "silver" / "rejected_orders")).height == (
        pl.read_delta(str(lake / "bronze" / "orders")).height - expected.height
    )


def test_the_full_rebuild_job_runs_the_whole_graph(incremental_lake: dict, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(incremental_lake["lake"], lake)
    defs = build_defs(lake_root=str(lake), raw_dir=str(incremental_lake["raw"]))
    job = defs.resolve_job_def("ecommerce_full_rebuild")
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert result.success
    assert _bronze_metadata(result)["write_mode"] == "overwrite"
    assert DeltaTable(str(lake / "bronze" / "orders")).version() == 3
    assert DeltaTable(str(lake / "business" / "product_decisions")).version() == 0


def test_a_load_that_died_between_silvers_two_commits_is_finished_by_the_next_run(
    exports: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ecom_assets.resources import NativePolarsTypeHandler

    raw, lake = tmp_path / "raw", tmp_path / "lake"
    raw.mkdir()
    (raw / "a_history.csv").write_text(exports["a_history.csv"])
    _load(lake, raw)
    (raw / "b_daily.csv").write_text(exports["b_daily.csv"])
    real_output = NativePolarsTypeHandler.handle_output

    def dies_before_rejected(self, context, table_slice, obj, connection) -> None:
        if connection.table_uri.endswith("silver/rejected_orders"):
            raise SystemError("killed between silver's two commits")
        real_output(self, context, table_slice, obj, connection)

    monkeypatch.setattr(NativePolarsTypeHandler, "handle_output", dies_before_rejected)
    defs = build_defs(lake_root=str(lake), raw_dir=str(raw))
    died = dg.materialize(
        ASSETS,
        selection=MEDALLION,
        resources=defs.resources,
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not died.success
    bronze_rows = pl.read_delta(str(lake / "bronze" / "orders")).height
    half_done = pl.read_delta(str(lake / "silver" / "rejected_orders")).height
    assert pl.read_delta(str(lake / "silver" / "orders")).height + half_done < bronze_rows
    monkeypatch.setattr(NativePolarsTypeHandler, "handle_output", real_output)
    _load(lake, raw)
    rebuilt = tmp_path / "rebuilt"
    _load(rebuilt, raw, FULL_REBUILD)
    for table in TABLES:
        assert _table(lake, *table).equals(_table(rebuilt, *table)), table
