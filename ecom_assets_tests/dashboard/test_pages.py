"""Every page of the dashboard, run with Streamlit's AppTest on a lake built by the pipeline's
transforms; expected numbers are computed here with Polars from the same Delta tables."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ecom_assets_tests.dashboard.conftest import PAGES, OpenPage, chart_data, frame, read, texts


def decisions_of(lake: Path) -> pl.DataFrame:
    return read(lake, "business", "product_decisions")


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_with_its_title_and_the_provenance(
    open_page: OpenPage, lake: Path, page: str
) -> None:
    app = open_page(page)
    decisions = decisions_of(lake)
    assert not app.exception
    assert [t.value for t in app.title] == [PAGES[page][1]]
    assert not app.error
    sidebar = "\n".join(m.value for m in app.sidebar.markdown)
    assert f"**Data as of** {decisions['as_of_date'][0]}" in sidebar
    assert f"**Model** {', '.join(sorted(decisions['model_version'].unique()))}" in sidebar


def test_overview_headline_numbers_match_the_tables(open_page: OpenPage, lake: Path) -> None:
    app = open_page("overview")
    decisions = decisions_of(lake)
    products = read(lake, "gold", "product_metrics")
    shown = {m.label: m for m in app.metric}
    predicted = decisions["predicted_revenue"].sum()
    last = decisions["revenue_last_period"].sum()
    assert shown["Revenue to date"].value == f"{products['total_revenue'].sum():,.0f}"
    assert shown["Predicted revenue, next 30 days"].value == f"{predicted:,.0f}"
    assert (
        shown["Predicted revenue, next 30 days"].delta == f"{100 * (predicted - last) / last:+.1f}%"
    )
    assert shown["Revenue, last 30 days"].value == f"{last:,.0f}"
    assert shown["Products forecast"].value == f"{decisions.height:,}"
    buckets = decisions.group_by("performance_bucket").len()
    assert len(buckets) >= 2
    for bucket, count in buckets.iter_rows():
        assert shown[f"{bucket} bucket"].value == f"{count:,}"
    actions = decisions.group_by("recommended_action").agg(pl.len().cast(pl.Int64))
    shown_actions = next(
        data for chart in chart_data(app) for data in chart if "recommended_action" in data.columns
    )
    assert dict(shown_actions.iter_rows()) == dict(actions.iter_rows())


def test_overview_trend_is_the_monthly_revenue(open_page: OpenPage, lake: Path) -> None:
    app = open_page("overview")
    expected = (
        read(lake, "gold", "monthly_sales").group_by("month").agg(pl.col("revenue").sum())
    ).sort("month")
    trend = next(
        data for chart in chart_data(app) for data in chart if "month_to_date" in data.columns
    )
    assert trend.height == expected.height > 12
    assert trend["revenue"].to_list() == pytest.approx(expected["revenue"].to_list())


def test_actual_vs_predicted_per_category_and_per_product(open_page: OpenPage, lake: Path) -> None:
    app = open_page("forecast")
    decisions = decisions_of(lake)
    expected = decisions.group_by("category").agg(
        pl.col("revenue_last_period").sum(), pl.col("predicted_revenue").sum(), pl.len()
    )
    shown = frame(app.dataframe[0])
    assert shown["predicted_revenue"].to_list() == sorted(
        shown["predicted_revenue"].to_list(), reverse=True
    )
    joined = shown.join(expected, on="category", suffix="_expected")
    assert joined.height == expected.height
    assert joined["predicted_revenue"].to_list() == pytest.approx(
        joined["predicted_revenue_expected"].to_list()
    )
    assert joined["revenue_last_period"].to_list() == pytest.approx(
        joined["revenue_last_period_expected"].to_list()
    )
    scatter, intervals = chart_data(app)[0][1], chart_data(app)[1][0]
    assert scatter.height == decisions.height
    top = decisions.sort("predicted_revenue", descending=True).head(20)
    assert intervals["product_name"].to_list() == top["product_name"].to_list()
    assert (intervals["predicted_lower"] <= intervals["predicted_revenue"] + 1e-9).all()
    assert (intervals["predicted_revenue"] <= intervals["predicted_upper"] + 1e-9).all()


def test_choosing_a_category_narrows_the_product_charts(open_page: OpenPage, lake: Path) -> None:
    app = open_page("forecast")
    decisions = decisions_of(lake)
    category = decisions["category"].mode().sort()[0]
    app.selectbox(key="forecast_category").set_value(category).run()
    app.slider(key="forecast_top").set_value(5).run()
    scatter, intervals = chart_data(app)[0][1], chart_data(app)[1][0]
    in_category = decisions.filter(category=category)
    assert 0 < scatter.height == in_category.height < decisions.height
    assert set(scatter["category"]) == {category}
    assert intervals["product_name"].to_list() == (
        in_category.sort("predicted_revenue", descending=True).head(5)["product_name"].to_list()
    )


def test_products_table_lists_every_decision_highest_forecast_first(
    open_page: OpenPage, lake: Path
) -> None:
    app = open_page("products")
    decisions = decisions_of(lake)
    shown = frame(app.dataframe[0])
    assert f"{decisions.height:,} of {decisions.height:,} products" in texts(app)
    assert shown.height == decisions.height
    expected = decisions.sort(["predicted_revenue", "product_id"], descending=[True, False])
    assert shown["product_id"].to_list() == expected["product_id"].to_list()


@pytest.mark.parametrize("bucket", ["High", "Low"])
def test_bucket_filter_keeps_only_that_bucket(open_page: OpenPage, lake: Path, bucket: str) -> None:
    app = open_page("products")
    app.multiselect(key="products_bucket").set_value([bucket]).run()
    decisions = decisions_of(lake)
    expected = decisions.filter(performance_bucket=bucket)
    shown = frame(app.dataframe[0])
    assert 0 < shown.height == expected.height < decisions.height
    assert set(shown["performance_bucket"]) == {bucket}
    assert f"{expected.height:,} of {decisions.height:,} products" in texts(app)


def test_category_action_and_search_filters_combine(open_page: OpenPage, lake: Path) -> None:
    decisions = decisions_of(lake)
    category, action = (
        decisions.group_by("category", "recommended_action")
        .len()
        .sort("len", "category", "recommended_action", descending=[True, False, False])
        .row(0)[:2]
    )
    app = open_page("products")
    app.multiselect(key="products_category").set_value([category])
    app.multiselect(key="products_action").set_value([action]).run()
    both = decisions.filter(category=category, recommended_action=action)
    assert set(frame(app.dataframe[0])["product_id"]) == set(both["product_id"])

    word = both["product_name"][0].split()[-1]
    app.text_input(key="products_search").input(word.upper()).run()
    searched = both.filter(
        pl.col("product_name").str.to_lowercase().str.contains(word.lower(), literal=True)
        | pl.col("product_id").str.contains(word.lower(), literal=True)
    )
    assert set(frame(app.dataframe[0])["product_id"]) == set(searched["product_id"])
    assert searched.height >= 1


def test_search_without_a_match_says_so(open_page: OpenPage, lake: Path) -> None:
    app = open_page("products")
    app.text_input(key="products_search").input("no such product (x)").run()
    assert frame(app.dataframe[0]).height == 0
    assert f"0 of {decisions_of(lake).height:,} products" in texts(app)
    assert "No product matches the filters." in texts(app)
    assert not app.exception


def test_sorting_by_revenue_to_date_ascending(open_page: OpenPage, lake: Path) -> None:
    app = open_page("products")
    app.selectbox(key="products_sort").set_value("total_revenue")
    app.toggle(key="products_descending").set_value(False).run()
    expected = decisions_of(lake).sort("total_revenue", "product_id")
    assert frame(app.dataframe[0])["product_id"].to_list() == expected["product_id"].to_list()


def test_product_detail_shows_history_forecast_and_reason(open_page: OpenPage, lake: Path) -> None:
    decisions = decisions_of(lake)
    product = decisions.sort("total_revenue", descending=True).row(2, named=True)
    app = open_page("products")
    app.selectbox(key="products_detail").set_value(product["product_id"]).run()
    assert product["action_reason"] in texts(app)
    shown = {m.label: m.value for m in app.metric}
    assert shown["Predicted, next 30 days"] == f"{product['predicted_revenue']:,.0f}"
    assert shown["Bucket"] == product["performance_bucket"]
    history = read(lake, "gold", "monthly_sales").filter(product_id=product["product_id"])
    assert_frame_equal(
        frame(app.dataframe[1]).with_columns(pl.col("month").cast(pl.Date)),
        history.sort("month").select("month", "revenue", "quantity", "orders"),
    )
    forecast_point = chart_data(app)[-1][-1]
    assert forecast_point["revenue"].to_list() == pytest.approx([product["predicted_revenue"]])


def test_categories_page_shows_performance_and_share(open_page: OpenPage, lake: Path) -> None:
    app = open_page("categories")
    metrics = read(lake, "gold", "category_metrics")
    decisions = decisions_of(lake)
    shown = frame(app.dataframe[0])
    assert (
        shown["category"].to_list()
        == metrics.sort("total_revenue", descending=True)["category"].to_list()
    )
    assert shown["revenue_share_pct"].sum() == pytest.approx(100, abs=0.01)
    predicted = decisions.group_by("category").agg(pl.col("predicted_revenue").sum())
    joined = shown.join(predicted, on="category", suffix="_expected")
    assert joined["predicted_revenue"].to_list() == pytest.approx(
        joined["predicted_revenue_expected"].to_list()
    )
    leader = metrics.sort("total_revenue", descending=True).row(0, named=True)
    assert {m.label: m.value for m in app.metric}["Largest category"] == leader["category"]


def test_model_page_shows_backtest_and_mlflow_run(open_page: OpenPage, lake: Path) -> None:
    app = open_page("model")
    model = read(lake, "ml", "revenue_model")
    shown = frame(app.dataframe[0])
    assert shown["candidate"].to_list() == model["candidate"].to_list()
    assert shown["wape"].to_list() == pytest.approx(model["wape"].to_list())
    assert shown["bias_pct"].to_list() == pytest.approx(model["bias_pct"].to_list())
    served = model.filter("served")["candidate"].to_list()
    assert shown.filter("serves")["candidate"].to_list() == served
    assert {m.label: m.value for m in app.metric}["Served candidate"] == served[0]
    assert model["run_id"][0] in texts(app)
    assert "make mlflow" in [c.value for c in app.code]
    assert len(chart_data(app)) == 2


def test_data_quality_counts_and_samples_rejected_rows(open_page: OpenPage, lake: Path) -> None:
    app = open_page("quality")
    rejected = read(lake, "silver", "rejected_orders")
    assert rejected.height > 0
    assert {m.label: m.value for m in app.metric}["Rejected rows"] == f"{rejected.height:,}"
    counts = rejected.group_by("reason").agg(pl.len().cast(pl.Int64).alias("rows"))
    shown = frame(app.dataframe[0])
    assert dict(shown.select("reason", "rows").iter_rows()) == dict(counts.iter_rows())
    reason = shown["reason"][0]
    of_reason = rejected.filter(reason=reason)
    assert of_reason.height > 20
    app.selectbox(key="quality_reason").set_value(reason).run()
    expected = of_reason.sort("_source_file", "_source_row").head(20)
    sample = frame(app.dataframe[1])
    assert sample["_source_row"].to_list() == expected["_source_row"].to_list()
    assert sample["value"].to_list() == expected["value"].to_list()
    assert "Set DAGSTER_HOME" in texts(app)
