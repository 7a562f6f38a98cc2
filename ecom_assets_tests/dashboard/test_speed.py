"""Every page renders with 5,000 products behind the gold and business tables, starting from an
empty cache. Timings are printed (run with `-s`), not asserted: they are a measurement, and a
shared CI machine must not fail the suite for being slow."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from ecom_assets.dashboard import APP_PATH
from ecom_assets_tests.dashboard.conftest import PAGES, frame
from ecom_assets_tests.dashboard.lakes import build_wide_lake

PRODUCTS = 5_000


def _timed_run(app: AppTest) -> float:
    start = time.perf_counter()
    app.run()
    return time.perf_counter() - start


def test_every_page_renders_with_5000_products(
    lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wide = build_wide_lake(lake, tmp_path, PRODUCTS)
    monkeypatch.setenv("ECOM_LAKE_ROOT", str(wide))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    AppTest.from_file(str(APP_PATH), default_timeout=30).run()
    st.cache_data.clear()

    app = AppTest.from_file(str(APP_PATH), default_timeout=30)
    timings = {"overview (cold cache)": _timed_run(app)}
    assert {m.label: m.value for m in app.metric}["Products forecast"] == f"{PRODUCTS:,}"
    for page, (file, _) in PAGES.items():
        app.switch_page(f"views/{file}")
        timings[page] = _timed_run(app)
        assert not app.exception, page
    app.switch_page("views/products.py").run()
    app.multiselect(key="products_bucket").set_value(["High"])
    timings["products, bucket filter"] = _timed_run(app)
    assert 0 < frame(app.dataframe[0]).height < PRODUCTS
    print("seconds per page, 5,000 products:", {p: round(s, 3) for p, s in timings.items()})
