"""Every location the project reads or writes, resolved from environment variables at call time.

The IO manager, the CLI and (later) the assistant and the dashboard all call these functions, so
they always agree on where the lake is. Relative defaults are resolved against the working
directory, which is the repository root for `make` targets, `dagster dev` and the tests' commands.
"""

import os
from pathlib import Path

LAKE_ROOT_ENV = "ECOM_LAKE_ROOT"
RAW_DIR_ENV = "ECOM_RAW_DIR"
LAYOUTS_DIR_ENV = "ECOM_LAYOUTS_DIR"
AS_OF_DATE_ENV = "ECOM_AS_OF_DATE"
MLFLOW_TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
MLFLOW_ARTIFACTS_ENV = "ECOM_MLFLOW_ARTIFACTS"
DECISION_RULES_ENV = "ECOM_DECISION_RULES"
AWS_ENDPOINT_URL_ENV = "AWS_ENDPOINT_URL"
MLFLOW_S3_ENDPOINT_URL_ENV = "MLFLOW_S3_ENDPOINT_URL"
S3_SCHEMES = ("s3://", "s3a://")


def _path_from_env(name: str, default: str) -> Path:
    return Path(os.environ.get(name) or default).expanduser().resolve()


def lake_root() -> str:
    """Root URI of the Delta lake: a local folder (default `data/lake`) or an object-store URI."""
    value = os.environ.get(LAKE_ROOT_ENV)
    if value and "://" in value:
        return value.rstrip("/")
    return str(_path_from_env(LAKE_ROOT_ENV, "data/lake"))


def is_s3(uri: str) -> bool:
    """Whether `uri` is in an S3 (or S3-compatible) bucket."""
    return uri.startswith(S3_SCHEMES)


def lake_storage_options(uri: str | None = None) -> dict[str, str]:
    """delta-rs options for an S3 `uri` (default the lake root) from AWS variables, else `{}`."""
    if not is_s3(uri or lake_root()):
        return {}
    # Commit files are written with If-None-Match: a commit never replaces a concurrent writer's.
    options = {"AWS_CONDITIONAL_PUT": "etag"}
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        options["AWS_REGION"] = region
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        if os.environ.get(name):
            options[name] = os.environ[name]
    endpoint = os.environ.get(AWS_ENDPOINT_URL_ENV)
    if endpoint:
        options[AWS_ENDPOINT_URL_ENV] = endpoint
        if endpoint.startswith("http://"):
            options["AWS_ALLOW_HTTP"] = "true"
    return options


def raw_dir() -> Path:
    """Landing folder for order exports (default `data/raw`)."""
    return _path_from_env(RAW_DIR_ENV, "data/raw")


def user_layouts_dir() -> Path:
    """Folder of user-defined export layouts added to the built-in ones (default `data/layouts`)."""
    return _path_from_env(LAYOUTS_DIR_ENV, "data/layouts")


def mlflow_tracking_uri() -> str:
    """MLflow tracking store: `MLFLOW_TRACKING_URI`, default SQLite `data/mlflow/mlflow.db`."""
    value = os.environ.get(MLFLOW_TRACKING_URI_ENV)
    if value:
        return value
    database = Path("data/mlflow/mlflow.db").resolve()
    database.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{database}"


def mlflow_artifact_location() -> str:
    """Where new MLflow experiments keep artifacts (default `data/mlflow/artifacts`)."""
    value = os.environ.get(MLFLOW_ARTIFACTS_ENV)
    if value and "://" in value:
        return value
    return _path_from_env(MLFLOW_ARTIFACTS_ENV, "data/mlflow/artifacts").as_uri()


def use_aws_endpoint_for_mlflow() -> None:
    """Send MLflow's S3 artifacts to `AWS_ENDPOINT_URL` unless `MLFLOW_S3_ENDPOINT_URL` is set."""
    endpoint = os.environ.get(AWS_ENDPOINT_URL_ENV)
    if endpoint and not os.environ.get(MLFLOW_S3_ENDPOINT_URL_ENV):
        os.environ[MLFLOW_S3_ENDPOINT_URL_ENV] = endpoint


def decision_rules_path() -> Path | None:
    """A decision rules file replacing the packaged defaults (`ECOM_DECISION_RULES`), if set."""
    value = os.environ.get(DECISION_RULES_ENV)
    return Path(value).expanduser().resolve() if value else None
