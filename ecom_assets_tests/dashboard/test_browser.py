"""End to end in a real browser: Debian's chromium driven by Playwright against the dashboard
started by `launch()` on a free local port. Screenshots of every page go to `screenshots/`
(git-ignored) at the repository root."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from ecom_assets.dashboard import free_port
from ecom_assets_tests.dashboard.conftest import read
from ecom_assets_tests.dashboard.lakes import build_wide_lake

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
# (url path, title, a text shown once the page is drawn, charts on the page)
PAGES = [
    ("overview", "Overview", "Revenue per month", 3),
    ("actual-vs-predicted", "Actual vs predicted", "Per category", 3),
    ("products", "Products", "Product detail", 1),
    ("categories", "Categories", "Category performance", 2),
    ("model", "Model", "In MLflow", 2),
    ("data-quality", "Data quality", "Asset checks", 1),
    ("ask", "Ask", "Try one of these, or type your own question below.", 0),
]
PAGE_DRAWN = """n => {
    const charts = [...document.querySelectorAll('[data-testid=stVegaLiteChart]')];
    return charts.length === n && charts.every(c => c.querySelector('canvas, svg'))
        && !document.querySelector('[data-testid=stSkeleton]');
}"""


@contextmanager
def dashboard(lake: Path, log: Path) -> Iterator[str]:
    """The dashboard served by `launch()` in a child process on a free port; stopped after."""
    port = free_port()
    env = {**os.environ, "ECOM_LAKE_ROOT": str(lake)}
    env.pop("DAGSTER_HOME", None)
    launcher = (
        "import sys; from ecom_assets.dashboard import launch; sys.exit(launch(int(sys.argv[1])))"
    )
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-c", launcher, str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _healthy(url):
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        assert log.read_text().startswith(f"Dashboard: {url}  (lake {lake};")
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return bool(response.read() == b"ok")
    except OSError:
        return False


@pytest.fixture(scope="module")
def server(lake: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with dashboard(lake, tmp_path_factory.mktemp("server") / "streamlit.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 1100}, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    yield tab
    context.close()


def _open_by_sidebar(page: Page, title: str, marker: str, charts: int) -> float:
    start = time.perf_counter()
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title, exact=True).click()
    page.get_by_role("heading", name=title, exact=True).wait_for()
    page.get_by_text(marker, exact=True).first.wait_for()
    page.wait_for_function(PAGE_DRAWN, arg=charts)
    return time.perf_counter() - start


def test_every_page_opens_from_the_sidebar_and_is_screenshotted(
    server: str, page: Page, lake: Path
) -> None:
    decisions = read(lake, "business", "product_decisions")
    page.goto(server)
    expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible()
    expect(page.get_by_text(f"{decisions.height:,}", exact=True).first).to_be_visible()
    SCREENSHOTS.mkdir(exist_ok=True)
    timings = {}
    for path, title, marker, charts in PAGES:
        timings[title] = _open_by_sidebar(page, title, marker, charts)
        assert page.url == f"{server}/{path}" or (path == "overview" and page.url == f"{server}/")
        assert page.locator('[data-testid="stException"]').count() == 0
        expect(page.get_by_text(f"Data as of {decisions['as_of_date'][0]}")).to_be_visible()
        page.screenshot(path=SCREENSHOTS / f"{path}.png")
    assert all((SCREENSHOTS / f"{path}.png").stat().st_size > 10_000 for path, *_ in PAGES)
    print({title: round(seconds, 2) for title, seconds in timings.items()})


def test_a_bucket_filter_changes_the_table_and_the_download(
    server: str, page: Page, lake: Path, tmp_path: Path
) -> None:
    decisions = read(lake, "business", "product_decisions")
    high = decisions.filter(performance_bucket="High").sort(
        ["predicted_revenue", "product_id"], descending=[True, False]
    )
    assert 0 < high.height < decisions.height
    page.goto(f"{server}/products")
    grid = page.locator('[data-testid="stDataFrame"] [role="grid"]').first
    expect(page.get_by_text(f"{decisions.height} of {decisions.height} products")).to_be_visible()
    expect(grid).to_have_attribute("aria-rowcount", str(decisions.height + 1))

    page.get_by_role("combobox", name="Bucket").click()
    page.get_by_role("option", name="High", exact=True).click()
    page.keyboard.press("Escape")
    expect(page.get_by_text(f"{high.height} of {decisions.height} products")).to_be_visible()
    expect(grid).to_have_attribute("aria-rowcount", str(high.height + 1))
    page.screenshot(path=SCREENSHOTS / "products-filtered.png")
    page.get_by_text("Monthly revenue; the diamond is the forecast").scroll_into_view_if_needed()
    expect(page.get_by_text(high["action_reason"][0])).to_be_visible()
    page.wait_for_function(PAGE_DRAWN, arg=1)
    page.screenshot(path=SCREENSHOTS / "products-detail.png")

    with page.expect_download() as download:
        page.get_by_role("button", name="Download these rows as CSV").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    rows = pl.read_csv(saved, try_parse_dates=True)
    assert saved.name == "product_decisions.csv"
    assert rows.columns == decisions.columns
    assert rows["product_id"].to_list() == high["product_id"].to_list()
    assert set(rows["performance_bucket"]) == {"High"}


def test_an_example_question_shows_its_sql_and_rows(server: str, page: Page, lake: Path) -> None:
    top = (
        read(lake, "business", "product_decisions")
        .sort(["predicted_revenue", "product_name"], descending=[True, False])
        .head(5)
    )
    page.goto(f"{server}/ask")
    page.get_by_role("button", name="Top 5 products by predicted revenue", exact=True).click()
    code = page.locator('[data-testid="stCode"]').first
    expect(code).to_contain_text("FROM product_decisions")
    expect(code).to_contain_text("LIMIT 5")
    answer = page.locator('[data-testid="stChatMessage"]').nth(1)
    expect(answer.locator('[role="grid"]')).to_have_attribute("aria-rowcount", "6")
    for name in top["product_name"]:
        expect(answer).to_contain_text(name)
    expect(answer.get_by_text("5 rows")).to_be_visible()
    answer.get_by_text("5 rows").scroll_into_view_if_needed()
    page.wait_for_function(PAGE_DRAWN, arg=1)
    page.wait_for_timeout(500)  # the grid paints its canvas after it scrolls into view
    page.screenshot(path=SCREENSHOTS / "ask-answer.png")


def test_every_page_is_drawn_with_5000_products(
    browser: Browser, lake: Path, tmp_path: Path
) -> None:
    wide = build_wide_lake(lake, tmp_path, 5_000)
    with dashboard(wide, tmp_path / "streamlit.log") as url:
        context = browser.new_context(viewport={"width": 1440, "height": 1100})
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto(url)
        expect(page.get_by_text("5,000", exact=True).first).to_be_visible()
        timings = {title: _open_by_sidebar(page, title, m, c) for _, title, m, c in PAGES}
        assert page.locator('[data-testid="stException"]').count() == 0
        context.close()
    print("seconds per page, 5,000 products:", {t: round(s, 2) for t, s in timings.items()})
