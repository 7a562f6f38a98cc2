"""Shared fixtures: small export files in each layout, written into temporary folders."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from ecom_assets.layouts import Layout, load_layouts
from ecom_assets.transforms.bronze import combine_exports, read_export

INGESTED_AT = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

ORIGINAL_HEADER = (
    "OrderID,OrderDate,CustomerID,Product,Category,Price,Quantity,TotalAmount,Rating,Reviews,"
    "PaymentMethod,City"
)


@pytest.fixture(scope="session", autouse=True)
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test tracks MLflow runs in a temporary store, never under data/."""
    store = tmp_path_factory.mktemp("mlflow")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
        patch.setenv("ECOM_MLFLOW_ARTIFACTS", str(store / "artifacts"))
        yield store


@pytest.fixture(scope="session")
def layouts() -> dict[str, Layout]:
    return load_layouts()


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str, bytes | str], Path]:
    """Write bytes (or UTF-8 text) to a file under a fresh landing folder and return its path."""
    raw = tmp_path / "raw"
    raw.mkdir(exist_ok=True)

    def write(name: str, content: bytes | str) -> Path:
        path = raw / name
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        return path

    return write


@pytest.fixture
def bronze_of(
    layouts: dict[str, Layout],
) -> Callable[..., pl.DataFrame]:
    """Bronze rows of the given files, read as the bronze asset reads them."""

    def bronze(*paths: Path) -> pl.DataFrame:
        return combine_exports(
            [read_export(path, path.name, layouts, INGESTED_AT) for path in paths]
        ).collect()

    return bronze


def original_csv(*rows: str) -> str:
    """An export in the original layout with the given data lines."""
    return "\n".join([ORIGINAL_HEADER, *rows]) + "\n"
