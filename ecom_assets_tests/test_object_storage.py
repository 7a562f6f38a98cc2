"""The lake and the MLflow artifacts in an S3-compatible bucket: moto's server on 127.0.0.1."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import boto3
import dagster as dg
import polars as pl
import pytest
from botocore.exceptions import ClientError
from deltalake import DeltaTable, write_deltalake
from mlflow.tracking import MlflowClient
from polars.testing import assert_frame_equal
from streamlit.testing.v1 import AppTest

from ecom_assets import settings, tables
from ecom_assets.ask import cli as ask_cli
from ecom_assets.dashboard import APP_PATH
from ecom_assets.dashboard import lake as dashboard_lake
from ecom_assets.definitions import ASSETS, build_defs
from ecom_assets.generate import generate_orders
from ecom_assets.resources import lake_io_manager
from ecom_assets.tracking import EXPERIMENT_NAME
from ecom_assets_tests.dashboard.conftest import texts

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BUCKET = "ecom-lake"
LAKE = f"s3://{BUCKET}/lake"
ARTIFACTS = f"s3://{BUCKET}/mlflow"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "us-east-1",
}
COMPARED_TABLES = [
    "silver/orders",
    "silver/rejected_orders",
    "gold/daily_product_sales",
    "gold/monthly_sales",
    "gold/product_metrics",
    "gold/category_metrics",
    "ml/revenue_forecast",
    "business/product_decisions",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def _moto_server(workdir: Path, **env: str) -> Iterator[str]:
    """moto S3 on a free 127.0.0.1 port, run in `workdir`: yields its URL, then stops it."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log = workdir / "moto.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            cwd=workdir,
            env={**os.environ, "MOTO_RECORDER_FILEPATH": str(workdir / "recording"), **env},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"moto_server exited: {log.read_text()[-2000:]}"
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "moto_server did not answer within 30 s"
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with _moto_server(tmp_path_factory.mktemp("moto")) as url:
        boto3.client("s3", endpoint_url=url, **_boto_credentials()).create_bucket(Bucket=BUCKET)
        yield url


def _boto_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "region_name": CREDENTIALS["AWS_REGION"],
    }


@pytest.fixture(scope="module")
def s3(endpoint: str):
    return boto3.client("s3", endpoint_url=endpoint, **_boto_credentials())


def _keys(s3, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def _bucket_env(endpoint: str) -> dict[str, str]:
    return {
        **CREDENTIALS,
        "AWS_ENDPOINT_URL": endpoint,
        "ECOM_LAKE_ROOT": LAKE,
        "ECOM_MLFLOW_ARTIFACTS": ARTIFACTS,
    }


@pytest.fixture
def in_bucket(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The environment of a deployment whose lake and artifacts are in the moto bucket."""
    for name, value in _bucket_env(endpoint).items():
        monkeypatch.setenv(name, value)
    return endpoint


def _independent_options(endpoint: str) -> dict[str, str]:
    """Storage options written out by hand, not by `settings`, to read the bucket with."""
    return {
        "aws_endpoint_url": endpoint,
        "aws_allow_http": "true",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "aws_region": "us-east-1",
    }


def _canonical(frame: pl.DataFrame) -> pl.DataFrame:
    """The rows without the wall-clock ingestion time, in one order."""
    frame = frame.drop("_ingested_at", strict=False)
    return frame.sort(frame.columns, nulls_last=True)


def _run(lake_root: str | None, raw: Path, mlflow_db: Path) -> dg.ExecuteInProcessResult:
    defs = build_defs(lake_root=lake_root, raw_dir=str(raw), mlflow_uri=f"sqlite:///{mlflow_db}")
    job = defs.resolve_job_def("ecommerce_pipeline")
    return job.execute_in_process(instance=dg.DagsterInstance.ephemeral())


@pytest.fixture(scope="module")
def runs(endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same small landing zone run once into a local lake and once into the bucket."""
    work = tmp_path_factory.mktemp("object_storage")
    raw = work / "raw"
    generate_orders(raw / "orders.csv", rows=3000, seed=5)
    local = _run(str(work / "lake"), raw, work / "local.db")
    assert local.success
    with mock.patch.dict(os.environ, _bucket_env(endpoint)):
        os.environ.pop("MLFLOW_S3_ENDPOINT_URL", None)
        in_bucket = _run(None, raw, work / "bucket.db")
    assert in_bucket.success
    return {"local_lake": work / "lake", "bucket_db": work / "bucket.db"}


def test_every_table_is_written_to_the_bucket_and_none_to_local_disk(runs, s3) -> None:
    keys = _keys(s3, "lake/")
    for table in COMPARED_TABLES:
        assert f"lake/{table}/_delta_log/00000000000000000000.json" in keys
        assert any(k.startswith(f"lake/{table}/") and k.endswith(".parquet") for k in keys)
    assert not (REPO / "s3:").exists()


@pytest.mark.parametrize("table", COMPARED_TABLES)
def test_bucket_tables_equal_the_local_run(runs, endpoint: str, table: str) -> None:
    bucket = DeltaTable(f"{LAKE}/{table}", storage_options=_independent_options(endpoint))
    local = DeltaTable(str(runs["local_lake"] / table))
    expected = _canonical(pl.DataFrame(pl.from_arrow(local.to_pyarrow_table())))
    assert expected.height > 0
    assert_frame_equal(_canonical(pl.DataFrame(pl.from_arrow(bucket.to_pyarrow_table()))), expected)


def test_model_artifacts_are_in_the_bucket(runs, s3) -> None:
    client = MlflowClient(tracking_uri=f"sqlite:///{runs['bucket_db']}")
    experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
    assert experiment.artifact_location == ARTIFACTS
    [run] = client.search_runs([experiment.experiment_id])
    assert run.info.artifact_uri.startswith(f"{ARTIFACTS}/")
    models = [k for k in _keys(s3, "mlflow/") if k.endswith("/MLmodel")]
    assert len(models) == 1
    prefix = models[0].removesuffix("MLmodel")
    model_files = [k for k in _keys(s3, prefix) if k != models[0]]
    assert model_files, "the model's files are missing next to its MLmodel"


def test_the_table_reader_and_the_dashboard_read_the_bucket_lake(runs, in_bucket: str) -> None:
    local = pl.read_delta(str(runs["local_lake"] / "business/product_decisions"))
    assert tables.table_uri("product_decisions") == f"{LAKE}/business/product_decisions"
    assert tables.info("product_decisions").version == 0
    assert_frame_equal(_canonical(tables.read("product_decisions")), _canonical(local))
    assert_frame_equal(_canonical(dashboard_lake.table("product_decisions")), _canonical(local))


def _products_page(monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    app = AppTest.from_file(str(APP_PATH), default_timeout=30).run()
    return app.switch_page("views/products.py").run()


def test_the_dashboard_shows_the_bucket_lake(
    runs, in_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    decisions = pl.read_delta(str(runs["local_lake"] / "business/product_decisions"))
    app = _products_page(monkeypatch)
    assert not app.exception
    assert not app.error
    assert LAKE in texts(app)
    assert sum(len(table.value) for table in app.dataframe) >= decisions.height


def test_the_assistant_answers_from_the_bucket_lake(
    runs, in_bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    decisions = pl.read_delta(str(runs["local_lake"] / "business/product_decisions"))
    high = decisions.filter(pl.col("performance_bucket") == "High").height
    assert high > 0
    code = ask_cli.main(["--json", "How many products are in the High bucket?"])
    answer = json.loads(capsys.readouterr().out)
    assert code == 0
    assert answer["rows"] == [["High", high]]


def test_concurrent_appends_all_land_as_distinct_versions(in_bucket: str, s3) -> None:
    uri = f"{LAKE}/concurrency/appends"
    options = settings.lake_storage_options(uri)
    write_deltalake(
        uri, pl.DataFrame({"writer": [0], "row": [0]}).to_arrow(), storage_options=options
    )
    writers, commits = 3, 4
    start, errors = threading.Barrier(writers), []

    def append(writer: int) -> None:
        start.wait()
        try:
            for row in range(commits):
                frame = pl.DataFrame({"writer": [writer], "row": [row]})
                write_deltalake(uri, frame.to_arrow(), mode="append", storage_options=options)
        except Exception as error:
            errors.append(error)
            raise

    _post(in_bucket, "/moto-api/recorder/start-recording")
    threads = [threading.Thread(target=append, args=(w,)) for w in range(1, writers + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _post(in_bucket, "/moto-api/recorder/stop-recording")

    assert errors == []
    table = DeltaTable(uri, storage_options=_independent_options(in_bucket))
    assert table.version() == writers * commits
    assert sorted(entry["version"] for entry in table.history()) == list(
        range(writers * commits + 1)
    )
    rows = pl.DataFrame(pl.from_arrow(table.to_pyarrow_table())).sort("writer", "row")
    expected = [(0, 0)] + [(w, r) for w in range(1, writers + 1) for r in range(commits)]
    assert list(rows.iter_rows()) == expected
    commit_puts = [
        request
        for request in _recording(in_bucket)
        if request["method"] == "PUT" and "/_delta_log/" in request["url"]
    ]
    # More commit attempts than commits: writers raced for the same version, the server refused
    # every loser's conditional put, and the loser committed again at the next version.
    assert len(commit_puts) > writers * commits
    assert all(request["headers"].get("If-None-Match") == "*" for request in commit_puts)


def _load_medallion(lake_root: str, raw: Path) -> None:
    """Bronze and silver loaded from `raw` into `lake_root`, incrementally when it holds them."""
    defs = build_defs(lake_root=lake_root, raw_dir=str(raw))
    result = dg.materialize(
        ASSETS,
        selection=dg.AssetSelection.groups("bronze", "silver"),
        resources=defs.resources,
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success


def test_incremental_loads_append_and_merge_in_the_bucket(in_bucket: str, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    generate_orders(tmp_path / "all.csv", rows=2000, seed=8)
    header, *lines = (tmp_path / "all.csv").read_text().splitlines()
    raw.mkdir()
    (raw / "a.csv").write_text("\n".join([header, *lines[:1500]]) + "\n")
    root = f"s3://{BUCKET}/incremental"
    _load_medallion(root, raw)
    (raw / "b.csv").write_text("\n".join([header, *lines[1500:]]) + "\n")
    _load_medallion(root, raw)
    local = tmp_path / "lake"
    _load_medallion(str(local), raw)
    options = _independent_options(in_bucket)
    for table in ("bronze/orders", "silver/orders", "silver/rejected_orders"):
        in_bucket_table = DeltaTable(f"{root}/{table}", storage_options=options)
        assert in_bucket_table.version() == 1, table
        expected = pl.DataFrame(pl.from_arrow(DeltaTable(str(local / table)).to_pyarrow_table()))
        actual = pl.DataFrame(pl.from_arrow(in_bucket_table.to_pyarrow_table()))
        assert_frame_equal(_canonical(actual), _canonical(expected))


def _post(endpoint: str, path: str) -> None:
    request = urllib.request.Request(f"{endpoint}{path}", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        return


def _recording(endpoint: str) -> list[dict]:
    with urllib.request.urlopen(f"{endpoint}/moto-api/recorder/download-recording") as response:
        return [json.loads(line) for line in response.read().decode().splitlines() if line]


def test_the_server_refuses_to_overwrite_a_commit_conditionally(in_bucket: str, s3) -> None:
    uri = f"{LAKE}/concurrency/overwrite"
    write_deltalake(
        uri, pl.DataFrame({"x": [1]}).to_arrow(), storage_options=settings.lake_storage_options()
    )
    commit = "lake/concurrency/overwrite/_delta_log/00000000000000000000.json"
    with pytest.raises(ClientError, match="PreconditionFailed"):
        s3.put_object(Bucket=BUCKET, Key=commit, Body=b"{}", IfNoneMatch="*")
    assert DeltaTable(uri, storage_options=_independent_options(in_bucket)).version() == 0


def test_delta_rs_refuses_to_commit_without_conditional_puts(in_bucket: str) -> None:
    options = {**settings.lake_storage_options(), "AWS_CONDITIONAL_PUT": "disabled"}
    with pytest.raises(OSError, match="conditional put is disabled"):
        write_deltalake(
            f"{LAKE}/concurrency/unsafe",
            pl.DataFrame({"x": [1]}).to_arrow(),
            storage_options=options,
        )


def test_a_missing_bucket_is_named_where_the_lake_is_opened(
    in_bucket: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ECOM_LAKE_ROOT", "s3://no-such-bucket/lake")
    message = r"lake at s3://no-such-bucket/lake/.*the bucket no-such-bucket does not exist"
    with pytest.raises(tables.LakeStorageError, match=message):
        tables.read("product_decisions")
    assert ask_cli.main(["top 5 products by sales"]) == 1
    assert "the bucket no-such-bucket does not exist" in capsys.readouterr().err
    with pytest.raises(dashboard_lake.TableUnavailable, match=message) as unavailable:
        dashboard_lake.info("product_decisions")
    assert not unavailable.value.rebuild


def test_the_dashboard_names_a_missing_bucket(
    in_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ECOM_LAKE_ROOT", "s3://no-such-bucket/lake")
    app = _products_page(monkeypatch)
    assert not app.exception
    assert "the bucket no-such-bucket does not exist" in " ".join(e.value for e in app.error)
    assert "make run" not in [c.value for c in app.code]


def test_a_pipeline_write_to_a_missing_bucket_names_it(in_bucket: str) -> None:
    @dg.asset(key_prefix=["gold"])
    def probe() -> pl.DataFrame:
        return pl.DataFrame({"x": [1]})

    result = dg.materialize(
        [probe],
        resources={"io_manager": lake_io_manager("s3://no-such-bucket/lake")},
        raise_on_error=False,
    )
    assert not result.success
    [failure] = result.get_step_failure_events()
    error = failure.step_failure_data.error
    assert error is not None
    causes = []
    while error is not None:
        causes.append(error.message)
        error = error.cause
    assert any(
        "LakeStorageError" in text and "the bucket no-such-bucket does not exist" in text
        for text in causes
    ), causes


def test_refused_credentials_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with _moto_server(tmp_path / "moto", INITIAL_NO_AUTH_ACTION_COUNT="0") as guarded:
        for name, value in _bucket_env(guarded).items():
            monkeypatch.setenv(name, value)
        with pytest.raises(tables.LakeStorageError, match="credentials were refused"):
            tables.read("product_decisions")


def test_an_unreachable_endpoint_is_named(in_bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    nowhere = f"http://127.0.0.1:{_free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", nowhere)
    with pytest.raises(tables.LakeStorageError, match=f"endpoint {nowhere} cannot be reached"):
        tables.read("product_decisions")


def test_storage_options_come_from_the_aws_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("ECOM_LAKE_ROOT", "s3://bucket/prefix/")
    assert settings.lake_root() == "s3://bucket/prefix"
    assert settings.lake_storage_options() == {
        "AWS_CONDITIONAL_PUT": "etag",
        "AWS_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "key",
        "AWS_SECRET_ACCESS_KEY": "secret",
    }
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://storage.example.com")
    assert settings.lake_storage_options()["AWS_ENDPOINT_URL"] == "https://storage.example.com"
    assert "AWS_ALLOW_HTTP" not in settings.lake_storage_options()
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
    assert settings.lake_storage_options()["AWS_ALLOW_HTTP"] == "true"
    assert settings.lake_storage_options("/srv/lake/gold/orders") == {}


def test_mlflow_artifacts_use_the_aws_endpoint_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", "http://mlflow-store:9000")
    settings.use_aws_endpoint_for_mlflow()
    assert os.environ["MLFLOW_S3_ENDPOINT_URL"] == "http://mlflow-store:9000"
    monkeypatch.delenv("MLFLOW_S3_ENDPOINT_URL")
    settings.use_aws_endpoint_for_mlflow()
    assert os.environ["MLFLOW_S3_ENDPOINT_URL"] == "http://127.0.0.1:9000"
