"""Understanding questions: values, numbers, time, follow-ups, and saying "not understood"."""

from __future__ import annotations

import json
from datetime import date

import polars as pl
import pytest

from ecom_assets.ask import Answer, Asker
from ecom_assets.ask.lexicon import normalize
from ecom_assets.ask.parser import extract_literals


def _names(answer: Answer) -> list[str]:
    return [row[answer.columns.index("product_name")] for row in answer.rows]


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Top five products", ["top", "5", "products"]),
        ("above 50k or 1.2m", ["above", "50000", "or", "1200000"]),
        ("$1,250.50 and 3.5 stars", ["1250.5", "and", "3.5", "stars"]),
        ("Chef's Knife & USB-C", ["chefs", "knife", "and", "usb", "c"]),
        ("growth over 10%", ["growth", "over", "10"]),
    ],
)
def test_normalize_reads_numbers_and_words(text: str, tokens: list[str]) -> None:
    assert normalize(text) == tokens


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("what should we do about nimbus kettle", ["Nimbus Electric Kettle"]),
        ("What should we do about Nimbus Electric Kettel?", ["Nimbus Electric Kettle"]),
        (
            "what should we do about the electric kettles",
            ["Nimbus Electric Kettle", "Cedar Electric Kettle", "Orion Electric Kettle"],
        ),
        ("tell me about Aurora Chef's Knife", ["Aurora Chef's Knife"]),
        ("details for zephyr tablet", ["Zephyr Tablet"]),
    ],
)
def test_product_names_are_matched_tolerantly(
    question: str, expected: list[str], asker: Asker
) -> None:
    answer = asker.ask(question)
    assert answer.understood, answer.answer
    assert sorted(_names(answer)) == sorted(expected)
    assert "recommended_action" in answer.columns and "action_reason" in answer.columns


@pytest.mark.parametrize(
    "question",
    ["Low performing products in electronic", "low performing products in ELECTRONICS"],
)
def test_category_names_are_case_and_typo_tolerant(question: str, asker: Asker, frames) -> None:
    answer = asker.ask(question)
    expected = frames["product_decisions"].filter(
        (pl.col("category") == "Electronics") & (pl.col("performance_bucket") == "Low")
    )
    assert sorted(_names(answer)) == sorted(expected["product_name"])


@pytest.mark.parametrize(
    ("question", "condition"),
    [
        ("products with predicted revenue over 50k", pl.col("predicted_revenue") > 50_000),
        ("products with a rating below 3.5", pl.col("avg_rating") < 3.5),
        ("products rated 4.5 or more", pl.col("avg_rating") >= 4.5),
        ("products with more than 1500 orders", pl.col("total_orders") > 1500),
        ("products with at least 4 stars", pl.col("avg_rating") >= 4),
        ("products with sales under 0.01m", pl.col("total_revenue") < 10_000),
    ],
)
def test_numeric_comparisons(question: str, condition: pl.Expr, asker: Asker, frames) -> None:
    answer = asker.ask(question)
    expected = frames["product_decisions"].filter(condition)["product_name"]
    assert answer.understood, answer.answer
    assert sorted(_names(answer)) == sorted(expected)


def test_number_words_set_the_limit(asker: Asker) -> None:
    assert len(asker.ask("top three products by units").rows) == 3
    assert len(asker.ask("the twelve products with the lowest rating").rows) == 12


def test_relative_months_count_back_from_the_tables_latest_month(asker: Asker) -> None:
    answer = asker.ask("monthly revenue for the last 3 months")
    months = [row[0] for row in answer.rows]
    assert months == [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
    assert "CAST('2026-01-01' AS DATE)" in (answer.sql or "")


def test_a_month_name_and_year(asker: Asker, frames) -> None:
    answer = asker.ask("revenue in January 2025")
    expected = frames["monthly_sales"].filter(pl.col("month") == date(2025, 1, 1))["revenue"]
    assert answer.rows == [[pytest.approx(expected.sum())]]


def test_revenue_by_month_for_a_category_in_a_year(asker: Asker, frames) -> None:
    answer = asker.ask("revenue by month for Books in 2024")
    expected = (
        frames["monthly_sales"]
        .filter((pl.col("category") == "Books") & (pl.col("month").dt.year() == 2024))
        .group_by("month")
        .agg(pl.col("revenue").sum())
        .sort("month")
    )
    assert answer.columns == ["month", "total_revenue"]
    assert [row[0] for row in answer.rows] == expected["month"].to_list()
    assert "months" in answer.answer


def test_follow_ups_edit_the_previous_plan(asker: Asker, frames) -> None:
    decisions = frames["product_decisions"]
    first = asker.ask("Top 5 products by predicted revenue")
    assert first.understood
    bottom = asker.ask("bottom instead")
    lowest = decisions.sort("predicted_revenue")["product_name"][:5].to_list()
    assert _names(bottom) == lowest
    assert len(asker.ask("top 10 instead").rows) == 10
    only = asker.ask("now only Electronics")
    assert {row[only.columns.index("category")] for row in only.rows} == {"Electronics"}
    by_category = asker.ask("now by category")
    assert by_category.columns == ["category", "total_predicted_revenue"]
    assert by_category.interpretation.startswith("the 10 categories")


def test_a_product_follow_up_replaces_the_category_filter(asker: Asker) -> None:
    asker.ask("units sold by month in Books")
    answer = asker.ask("what about Nimbus Electric Kettle?")
    assert answer.understood and "category" not in (answer.sql or "").split("WHERE")[-1]
    assert "product_name = 'Nimbus Electric Kettle'" in (answer.sql or "")


def test_a_bare_value_without_history_lists_its_products(asker: Asker) -> None:
    answer = asker.ask("Electronics")
    assert answer.understood and len(answer.rows) == 7


def test_reset_forgets_the_previous_question(asker: Asker) -> None:
    asker.ask("Top 5 products by predicted revenue")
    asker.reset()
    answer = asker.ask("bottom instead")
    assert answer.interpretation.startswith("the 10 products with the lowest predicted revenue")


@pytest.mark.parametrize(
    ("question", "unknown"),
    [
        ("Top 5 products by profit margin", "profit margin"),
        ("average shipping cost by category", "shipping cost"),
        ("What is the weather today?", "weather today"),
        ("what should we do about kettel", "kettel"),
    ],
)
def test_unknown_words_are_never_answered_as_something_else(
    question: str, unknown: str, asker: Asker
) -> None:
    answer = asker.ask(question)
    assert not answer.understood and not answer.refused
    assert (answer.rows, answer.sql, answer.source) == ([], None, "none")
    assert unknown.split()[0] in answer.answer
    assert "I know these measures" in answer.answer and "predicted revenue" in answer.answer
    assert len(answer.suggestions) == 3


def test_not_understood_says_what_was_understood_and_suggests(asker: Asker) -> None:
    answer = asker.ask("Top 5 products by profit margin")
    assert "I understood: about products, highest first, limit 5" in answer.answer
    assert "Top 5 products by predicted revenue" in answer.suggestions
    typo = asker.ask("what should we do about kettel")
    assert "Did you mean" in typo.answer and "Electric Kettle" in typo.answer


def test_empty_and_meaningless_questions(asker: Asker) -> None:
    assert not asker.ask("").understood
    assert not asker.ask("hello").understood
    assert not asker.ask("the of and").understood


@pytest.mark.parametrize(
    ("question", "interpretation"),
    [
        (
            "Top 5 products by predicted revenue",
            "the 5 products with the highest predicted revenue (from product_decisions)",
        ),
        (
            "Which category has the highest average rating?",
            "the category with the highest average rating (from category_metrics)",
        ),
        (
            "How many products are in the High bucket?",
            "number of products where performance bucket is High (from product_decisions)",
        ),
        (
            "Which products require discount or optimization?",
            "products where recommended action is apply discount or optimise price, highest "
            "predicted revenue first (from product_decisions), a verified question",
        ),
    ],
)
def test_interpretations_read_plainly(question: str, interpretation: str, asker: Asker) -> None:
    assert asker.ask(question).interpretation == interpretation


def test_answer_sentences_name_the_result(asker: Asker, frames) -> None:
    count = frames["product_decisions"].filter(pl.col("performance_bucket") == "High").height
    answer = asker.ask("How many products are in the High bucket?")
    assert answer.answer == f"Number of products where performance bucket is High: {count}."
    detail = asker.ask("What should we do about Nimbus Electric Kettle?")
    assert detail.answer.startswith("Nimbus Electric Kettle (Home & Kitchen, ")


def test_answers_serialise_to_json(asker: Asker) -> None:
    answer = asker.ask("monthly revenue in 2025")
    data = json.loads(json.dumps(answer.to_json(), allow_nan=False))
    assert set(data) >= {"question", "interpretation", "sql", "columns", "rows", "answer", "source"}
    assert data["rows"][0][0] == "2025-01-01"


def test_null_growth_is_kept_as_none_and_sorted_last(asker: Asker) -> None:
    answer = asker.ask("bottom 30 products by growth")
    assert answer.understood and len(answer.rows) == 30
    growth = [row[answer.columns.index("predicted_change_pct")] for row in answer.rows]
    assert growth[-1] is None and None not in growth[:-1]


def test_extract_literals_cuts_out_quoted_and_sql_looking_values() -> None:
    text, literals = extract_literals("products in category 'Home & Kitchen' by rating")
    assert [(item.dim, item.text) for item in literals] == [("category", "Home & Kitchen")]
    assert "Home" not in text and "by rating" in text
    _, injected = extract_literals("products in category Books'; DROP TABLE x; --")
    assert injected[0].text == "Books'; DROP TABLE x; --"
    assert extract_literals("products in category Books")[1] == []


def test_no_or_zero_means_equal_to_zero(asker: Asker, frames) -> None:
    expected = frames["product_decisions"].filter(pl.col("revenue_last_period") == 0)
    for question in (
        "Which products had no sales last period?",
        "products with zero revenue last period",
    ):
        answer = asker.ask(question)
        assert sorted(_names(answer)) == sorted(expected["product_name"]), question


def test_ranking_within_each_group_is_declined_not_rewritten(asker: Asker) -> None:
    answer = asker.ask("what are the top 3 products in each category")
    assert not answer.understood and "within each group is not supported" in answer.answer
