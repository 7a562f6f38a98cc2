"""The real command lines: `dagster job execute`, and the webserver GraphQL API the UI uses."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from deltalake import DeltaTable

from ecom_assets.generate import generate_orders

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TABLES = ["bronze/orders", "silver/orders", "silver/rejected_orders", "gold/product_metrics"]


@pytest.fixture
def project_env(tmp_path: Path) -> dict[str, str]:
    raw = tmp_path / "raw"
    generate_orders(raw / "orders.csv", rows=3000, seed=5)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    return {
        **os.environ,
        "ECOM_RAW_DIR": str(raw),
        "ECOM_LAKE_ROOT": str(tmp_path / "lake"),
        "DAGSTER_HOME": str(home),
    }


def _assert_tables_written(env: dict[str, str]) -> None:
    for table in TABLES:
        assert DeltaTable(f"{env['ECOM_LAKE_ROOT']}/{table}").to_pyarrow_table().num_rows > 0


def test_dagster_job_execute_materialises_the_graph_into_the_instance(project_env) -> None:
    completed = subprocess.run(
        [str(BIN / "dagster"), "job", "execute", "-m", "ecom_assets", "-j", "ecommerce_pipeline"],
        cwd=REPO,
        env=project_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    _assert_tables_written(project_env)
    with dg.DagsterInstance.from_config(project_env["DAGSTER_HOME"]) as instance:
        runs = instance.get_runs()
        assert [(r.job_name, r.status) for r in runs] == [
            ("ecommerce_pipeline", dg.DagsterRunStatus.SUCCESS)
        ]


def _job_execute(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / "dagster"), "job", "execute", "-m", "ecom_assets", "-j", "ecommerce_pipeline"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def test_a_run_killed_mid_way_leaves_readable_tables_and_the_next_run_succeeds(
    project_env,
) -> None:
    generate_orders(Path(project_env["ECOM_RAW_DIR"]) / "orders.csv", rows=300_000, seed=5)
    lake = Path(project_env["ECOM_LAKE_ROOT"])
    process = _job_execute(project_env)
    deadline = time.monotonic() + 120
    while not (lake / "bronze" / "orders" / "_delta_log").exists():
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    assert not (lake / "gold").exists(), "the run was not killed mid-way"
    for table_log in lake.glob("*/*/_delta_log"):
        DeltaTable(str(table_log.parent)).to_pyarrow_table()
    assert _job_execute(project_env).wait(timeout=300) == 0
    _assert_tables_written(project_env)
    with dg.DagsterInstance.from_config(project_env["DAGSTER_HOME"]) as instance:
        statuses = [r.status for r in reversed(instance.get_runs())]
    assert statuses == [dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.SUCCESS]


def test_two_runs_at_once_load_every_export_once(project_env) -> None:
    subprocess.run(
        [str(BIN / "dagster"), "instance", "migrate"], env=project_env, check=True, timeout=120
    )
    first, second = _job_execute(project_env), _job_execute(project_env)
    assert (first.wait(timeout=600), second.wait(timeout=600)) == (0, 0)
    lake = project_env["ECOM_LAKE_ROOT"]
    bronze = pl.read_delta(f"{lake}/bronze/orders")
    exported = len((Path(project_env["ECOM_RAW_DIR"]) / "orders.csv").read_text().splitlines()) - 1
    assert bronze.height == exported
    assert bronze["_ingested_at"].n_unique() == 1
    key = ["_source_file", "_source_row"]
    placed = pl.concat(
        [
            pl.read_delta(f"{lake}/silver/{name}").select(key)
            for name in ("orders", "rejected_orders")
        ]
    )
    assert placed.sort(key).equals(bronze.select(key).sort(key))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _graphql(port: int, query: str, variables: dict) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.loads(response.read())
    assert "errors" not in body, body
    return body["data"]


def _wait_for_server(port: int, process: subprocess.Popen, deadline: float) -> None:
    while time.monotonic() < deadline:
        assert process.poll() is None, "dagster dev exited early"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError("the Dagster webserver did not come up")


LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchPipelineExecution(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""
STATUS = """
query Status($runId: ID!) {
  runOrError(runId: $runId) { ... on Run { status } }
}
"""


def _launch(port: int, params: dict) -> str:
    outcome = _graphql(port, LAUNCH, params)["launchPipelineExecution"]
    assert outcome["__typename"] == "LaunchRunSuccess", outcome
    return outcome["run"]["runId"]


def _wait_for_run(port: int, run_id: str) -> str:
    status, deadline = "QUEUED", time.monotonic() + 180
    while status not in ("SUCCESS", "FAILURE", "CANCELED") and time.monotonic() < deadline:
        time.sleep(1)
        status = _graphql(port, STATUS, {"runId": run_id})["runOrError"]["status"]
    return status


def test_the_webserver_launches_the_job_like_the_materialize_button(project_env) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [str(BIN / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO,
        env=project_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_for_server(port, process, time.monotonic() + 120)
        selector = {
            "repositoryLocationName": "ecom_assets",
            "repositoryName": "__repository__",
            "pipelineName": "ecommerce_pipeline",
            "assetSelection": [{"path": table.split("/")} for table in TABLES],
        }
        run_id = _launch(port, {"params": {"selector": selector, "mode": "default"}})
        assert _wait_for_run(port, run_id) == "SUCCESS"
        _assert_tables_written(project_env)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
