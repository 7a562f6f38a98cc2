"""Fixtures of the dashboard's tests: a small lake built by the pipeline's transforms in a
temporary folder, and pages of the app opened with Streamlit's AppTest on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from ecom_assets.dashboard import APP_PATH
from ecom_assets_tests.dashboard.lakes import build_lake

PAGES = {
    "overview": ("overview.py", "Overview"),
    "forecast": ("forecast.py", "Actual vs predicted"),
    "products": ("products.py", "Products"),
    "categories": ("categories.py", "Categories"),
    "model": ("model.py", "Model"),
    "quality": ("quality.py", "Data quality"),
    "ask": ("ask.py", "Ask"),
}
OpenPage = Callable[..., AppTest]


@pytest.fixture(scope="session")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lake of a generated 20,000-line export."""
    return build_lake(tmp_path_factory.mktemp("dashboard"))


def read(lake: Path, layer: str, name: str) -> pl.DataFrame:
    """A table read straight from its Delta folder, independently of the dashboard."""
    return pl.read_delta(str(lake / layer / name))


@pytest.fixture
def open_page(monkeypatch: pytest.MonkeyPatch, lake: Path) -> Iterator[OpenPage]:
    """Open a page of the app on the test lake (or on `lake_root`), without DAGSTER_HOME."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)

    def open_(page: str, lake_root: Path | None = None) -> AppTest:
        monkeypatch.setenv("ECOM_LAKE_ROOT", str(lake_root or lake))
        app = AppTest.from_file(str(APP_PATH), default_timeout=30).run()
        return app.switch_page(f"views/{PAGES[page][0]}").run()

    yield open_


def frame(element: object) -> pl.DataFrame:
    """The data of a dataframe element of an AppTest page."""
    return pl.from_pandas(element.value)  # type: ignore[attr-defined]


def chart_data(app: AppTest) -> list[list[pl.DataFrame]]:
    """The datasets of each Vega-Lite chart of a page, in page order."""
    return [
        [
            pl.from_arrow(pa.ipc.open_stream(dataset.data.data).read_all())  # type: ignore[misc]
            for dataset in chart.proto.datasets
        ]
        for chart in app.get("vega_lite_chart")
    ]


def texts(app: AppTest) -> str:
    """Every markdown, caption, info, warning, error and code text of a page, joined."""
    parts = [
        *(m.value for m in app.markdown),
        *(c.value for c in app.caption),
        *(i.value for i in app.info),
        *(w.value for w in app.warning),
        *(e.value for e in app.error),
        *(s.value for s in app.success),
        *(c.value for c in app.code),
    ]
    return "\n".join(str(p) for p in parts)
