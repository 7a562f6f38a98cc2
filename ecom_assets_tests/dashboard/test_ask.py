"""The Ask page: sample questions, the chat box, the SQL, the result table and its chart, with
the real engine and with a stand-in engine for the cases the real one is not asked to produce."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import polars as pl
import pytest

from ecom_assets.ask import Answer
from ecom_assets.dashboard import asking
from ecom_assets_tests.dashboard.conftest import OpenPage, chart_data, frame, read, texts

CANNED_SQL = "SELECT category, SUM(predicted_revenue) AS predicted FROM product_decisions"


class StandInAsker:
    """Answers every question with two category rows; 'gibberish' is not understood and
    'explode' raises."""

    asked: ClassVar[list[str]] = []

    def __init__(self, lake_root: str) -> None:
        self.lake_root = lake_root

    def ask(self, question: str) -> Answer:
        StandInAsker.asked.append(question)
        if "explode" in question:
            raise RuntimeError("the engine broke")
        if "gibberish" in question:
            return Answer(
                question,
                "not understood",
                None,
                [],
                [],
                "Sorry, I cannot answer that.",
                "none",
                understood=False,
                suggestions=["Top 5 products by predicted revenue"],
            )
        return Answer(
            question,
            f"interpreted: {question}",
            CANNED_SQL + " GROUP BY category ORDER BY predicted DESC",
            ["category", "predicted"],
            [["Toys", 30.5], ["Books", 12.0], ["Garden", 7.25]],
            "Toys leads.",
            "rules",
        )


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch) -> type[StandInAsker]:
    StandInAsker.asked = []
    monkeypatch.setattr(asking, "asker_factory", StandInAsker)
    return StandInAsker


def test_sample_questions_are_filled_from_the_lake(open_page: OpenPage, lake: Path) -> None:
    app = open_page("ask")
    decisions = read(lake, "business", "product_decisions")
    top_category = (
        decisions.group_by("category")
        .agg(pl.col("predicted_revenue").sum())
        .sort("predicted_revenue", descending=True)["category"][0]
    )
    top_product = decisions.sort("predicted_revenue", descending=True)["product_name"][0]
    labels = [b.label for b in app.button]
    assert labels[0] == "Top 5 products by predicted revenue"
    assert f"Show Low performing products in {top_category}" in labels
    assert f"Compare actual and predicted revenue for {top_product}" in labels
    assert f"Monthly revenue for {top_category} in {decisions['as_of_date'][0].year}" in labels
    assert len(labels) == len(asking.QUESTION_TEMPLATES)


def test_a_sample_button_asks_and_shows_sql_rows_and_chart(
    open_page: OpenPage, stand_in: type[StandInAsker]
) -> None:
    app = open_page("ask")
    app.button(key="ask_sample_0").click().run()
    assert stand_in.asked == ["Top 5 products by predicted revenue"]
    assert [m.markdown[0].value for m in app.chat_message] == [
        "Top 5 products by predicted revenue",
        "Toys leads.",
    ]
    assert any(c.value.startswith(CANNED_SQL) for c in app.code)
    assert "Understood as: interpreted: Top 5 products by predicted revenue" in texts(app)
    assert frame(app.dataframe[0]).rows() == [("Toys", 30.5), ("Books", 12.0), ("Garden", 7.25)]
    (bars,) = chart_data(app)[-1]
    assert bars["predicted"].to_list() == [30.5, 12.0, 7.25]


def test_not_understood_shows_suggestions_that_can_be_asked(
    open_page: OpenPage, stand_in: type[StandInAsker]
) -> None:
    app = open_page("ask")
    app.chat_input(key="ask_input").set_value("gibberish please").run()
    assert "Sorry, I cannot answer that." in texts(app)
    assert not app.code
    app.button(key="ask_suggestion_0_0").click().run()
    assert stand_in.asked == ["gibberish please", "Top 5 products by predicted revenue"]
    assert len(app.chat_message) == 4
    assert len(app.dataframe) == 1


def test_an_engine_failure_is_a_message_and_the_chat_goes_on(
    open_page: OpenPage, stand_in: type[StandInAsker]
) -> None:
    app = open_page("ask")
    app.chat_input(key="ask_input").set_value("explode now").run()
    assert not app.exception
    assert "The Ask engine failed on this question (RuntimeError: the engine broke)" in texts(app)
    app.chat_input(key="ask_input").set_value("Total predicted revenue by category").run()
    assert len(app.chat_message) == 4
    assert frame(app.dataframe[0]).height == 3


def test_the_real_engine_answers_an_example_with_its_sql(open_page: OpenPage, lake: Path) -> None:
    app = open_page("ask")
    app.button(key="ask_sample_0").click().run()
    expected = (
        read(lake, "business", "product_decisions")
        .sort(["predicted_revenue", "product_name"], descending=[True, False])
        .head(5)
    )
    sql = "\n".join(c.value for c in app.code)
    assert "FROM product_decisions" in sql
    assert "LIMIT 5" in sql
    shown = frame(app.dataframe[0])
    assert shown["product_name"].to_list() == expected["product_name"].to_list()
    assert shown["predicted_revenue"].to_list() == pytest.approx(
        expected["predicted_revenue"].to_list()
    )
    assert chart_data(app)[-1][0]["product_name"].to_list() == expected["product_name"].to_list()


def test_the_real_engine_follows_up_and_charts_months(open_page: OpenPage, lake: Path) -> None:
    monthly = read(lake, "gold", "monthly_sales")
    year = monthly["month"].max().year  # type: ignore[union-attr]
    category = monthly["category"].sort()[0]
    app = open_page("ask")
    app.chat_input(key="ask_input").set_value(f"Monthly revenue for {category} in {year}").run()
    expected = (
        monthly.filter(pl.col("category") == category, pl.col("month").dt.year() == year)
        .group_by("month")
        .agg(pl.col("revenue").sum())
        .sort("month")
    )
    shown = frame(app.dataframe[0])
    assert shown.height == expected.height > 1
    assert shown[:, 1].to_list() == pytest.approx(expected["revenue"].to_list())
    line = chart_data(app)[-1][0]
    assert line.height == expected.height
    assert '"type": "line"' in app.get("vega_lite_chart")[-1].proto.spec


def test_an_engine_that_cannot_start_is_a_message(
    open_page: OpenPage, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(lake_root: str) -> StandInAsker:
        raise ValueError(f"no semantic model for {lake_root}")

    monkeypatch.setattr(asking, "asker_factory", broken)
    app = open_page("ask")
    assert not app.exception
    assert "The Ask engine could not start (ValueError: no semantic model for" in texts(app)
    assert not app.chat_input
