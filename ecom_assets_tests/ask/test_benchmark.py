"""The benchmark: every question's rows against rows computed by hand with Polars.

`EXPECTED` is written here independently of the engine and of the benchmark file's own recipes:
one function per question id, from the test tables to the right rows. The test tables use the
benchmark's default values (Electronics, Nimbus Electric Kettle, 2025).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ecom_assets.ask import Asker
from ecom_assets.ask.benchmark import (
    BenchmarkResult,
    fill_question,
    load_benchmark,
    main,
    run_benchmark,
    run_entry,
    slot_values,
    time_answers,
)

Frames = dict[str, pl.DataFrame]
CATEGORY, PRODUCT, YEAR = "Electronics", "Nimbus Electric Kettle", 2025
LATEST_MONTH = date(2026, 3, 1)
DISCOUNT = ["apply discount", "optimise price"]


def _decisions(t: Frames) -> pl.DataFrame:
    return t["product_decisions"]


def _top(frame: pl.DataFrame, column: str, n: int, descending: bool = True) -> pl.DataFrame:
    return frame.sort([column, "product_name"], descending=[descending, False], nulls_last=True)[:n]


def _count(frame: pl.DataFrame, *by: str) -> pl.DataFrame:
    if not by:
        return pl.DataFrame({"products": [frame.height]})
    return frame.group_by(by).agg(products=pl.len())


def _monthly(t: Frames, *conditions: pl.Expr) -> pl.DataFrame:
    return t["monthly_sales"].filter(*conditions) if conditions else t["monthly_sales"]


EXPECTED: dict[str, Callable[[Frames], pl.DataFrame]] = {
    "q01_top_predicted": lambda t: _top(_decisions(t), "predicted_revenue", 5),
    "q02_discount_or_optimization": lambda t: _decisions(t).filter(
        pl.col("recommended_action").is_in(DISCOUNT)
    ),
    "q03_bottom_total_revenue": lambda t: _top(_decisions(t), "total_revenue", 10, False),
    "q04_high_bucket_count": lambda t: _count(
        _decisions(t).filter(pl.col("performance_bucket") == "High")
    ),
    "q05_predicted_by_category": lambda t: (
        _decisions(t)
        .group_by("category")
        .agg(total_predicted_revenue=pl.col("predicted_revenue").sum())
    ),
    "q06_best_rated_category": lambda t: t["category_metrics"].sort("avg_rating", descending=True)[
        :1
    ],
    "q07_low_in_category": lambda t: _decisions(t).filter(
        (pl.col("performance_bucket") == "Low") & (pl.col("category") == CATEGORY)
    ),
    "q08_rating_of_discount": lambda t: (
        _decisions(t)
        .filter(pl.col("recommended_action").is_in(DISCOUNT))
        .select(pl.col("avg_rating").mean())
    ),
    "q09_predicted_above": lambda t: _decisions(t).filter(pl.col("predicted_revenue") > 50_000),
    "q10_grow_most": lambda t: _top(_decisions(t), "predicted_change_pct", 10),
    "q11_decline": lambda t: _decisions(t).filter(pl.col("predicted_change_pct") < 0),
    "q12_compare_product": lambda t: _decisions(t).filter(pl.col("product_name") == PRODUCT),
    "q13_monthly_category_year": lambda t: (
        _monthly(t, pl.col("category") == CATEGORY, pl.col("month").dt.year() == YEAR)
        .group_by("month")
        .agg(total_revenue=pl.col("revenue").sum())
        .sort("month")
    ),
    "q14_top_categories_quantity": lambda t: t["category_metrics"].sort(
        "total_quantity", descending=True
    )[:3],
    "q15_high_low_rating": lambda t: _decisions(t).filter(
        (pl.col("performance_bucket") == "High") & (pl.col("avg_rating") < 3.5)
    ),
    "q16_category_orders": lambda t: t["category_metrics"].filter(pl.col("category") == CATEGORY),
    "q17_what_to_do": lambda t: _decisions(t).filter(pl.col("product_name") == PRODUCT),
    "q18_increase_inventory": lambda t: _decisions(t).filter(
        pl.col("recommended_action") == "increase inventory"
    ),
    "q19_largest_drop": lambda t: _top(
        _decisions(t).with_columns(
            predicted_change=pl.col("predicted_revenue") - pl.col("revenue_last_period")
        ),
        "predicted_change",
        5,
        False,
    ),
    "q20_products_per_action": lambda t: _count(_decisions(t), "recommended_action"),
    "q21_best_sellers": lambda t: _top(_decisions(t), "total_revenue", 5),
    "q22_now_only_category": lambda t: _top(
        _decisions(t).filter(pl.col("category") == CATEGORY), "total_revenue", 5
    ),
    "x01_typos": lambda t: _top(_decisions(t), "predicted_revenue", 5),
    "x02_category_typo": lambda t: _decisions(t).filter(
        (pl.col("performance_bucket") == "Low") & (pl.col("category") == CATEGORY)
    ),
    "x03_short_product_name": lambda t: _decisions(t).filter(pl.col("product_name") == PRODUCT),
    "x04_best_sellers_in_category": lambda t: _top(
        _decisions(t).filter(pl.col("category") == CATEGORY), "total_revenue", 10
    ),
    "x05_count_review": lambda t: _count(
        _decisions(t).filter(pl.col("recommended_action") == "review product")
    ),
    "x06_rating_by_category": lambda t: t["category_metrics"],
    "x07_rating_or_more": lambda t: _decisions(t).filter(pl.col("avg_rating") >= 4.5),
    "x08_sales_over_k": lambda t: _decisions(t).filter(pl.col("total_revenue") > 100_000),
    "x09_between": lambda t: _decisions(t).filter(
        pl.col("predicted_revenue").is_between(1_000, 5_000)
    ),
    "x10_top_products_in_year": lambda t: _top(
        _monthly(t, pl.col("month").dt.year() == YEAR)
        .group_by("product_name")
        .agg(total_revenue=pl.col("revenue").sum()),
        "total_revenue",
        5,
    ),
    "x11_best_month": lambda t: (
        _monthly(t)
        .group_by("month")
        .agg(total_revenue=pl.col("revenue").sum())
        .sort("total_revenue", descending=True)[:1]
    ),
    "x12_bottom_categories_orders": lambda t: t["category_metrics"].sort("total_orders")[:3],
    "x13_units_last_month": lambda t: _monthly(t, pl.col("month") == LATEST_MONTH).select(
        total_quantity=pl.col("quantity").sum()
    ),
    "x14_last_3_months_by_category": lambda t: (
        _monthly(t, pl.col("month") >= date(2026, 1, 1))
        .group_by("category")
        .agg(total_revenue=pl.col("revenue").sum())
    ),
    "x15_total_forecast": lambda t: _decisions(t).select(
        total_predicted_revenue=pl.col("predicted_revenue").sum()
    ),
    "x16_products_per_bucket": lambda t: _count(_decisions(t), "performance_bucket"),
    "x17_price_optimisation": lambda t: _decisions(t).filter(
        pl.col("recommended_action") == "optimise price"
    ),
    "x18_top_reviews": lambda t: _top(t["product_metrics"], "reviews", 10),
    "x19_units_synonym": lambda t: _top(_decisions(t), "total_quantity", 3),
    "x20_followup_bottom": lambda t: _top(_decisions(t), "predicted_revenue", 5, False),
    "x21_followup_by_category": lambda t: t["category_metrics"].sort(
        "total_revenue", descending=True
    )[:5],
    "x22_followup_top_10": lambda t: _top(_decisions(t), "predicted_revenue", 10),
    "x23_followup_filter_aggregate": lambda t: (
        _decisions(t)
        .filter(pl.col("performance_bucket") == "High")
        .group_by("category")
        .agg(total_predicted_revenue=pl.col("predicted_revenue").sum())
    ),
    "x24_followup_year": lambda t: (
        _monthly(t, pl.col("category") == CATEGORY, pl.col("month").dt.year() == YEAR - 1)
        .group_by("month")
        .agg(total_revenue=pl.col("revenue").sum())
    ),
    "x25_user_sql": lambda t: _count(_decisions(t), "category"),
    "x26_injected_value": lambda t: _decisions(t).clear(),
}
NOT_ANSWERED = {"x27_unknown_metric", "x28_off_topic", "x29_refused_drop", "x30_refused_injection"}
ENTRIES = load_benchmark()["questions"]


def test_every_benchmark_question_has_an_independent_expectation() -> None:
    ids = {entry["id"] for entry in ENTRIES}
    assert ids == set(EXPECTED) | NOT_ANSWERED
    assert len(ENTRIES) >= 42


def test_the_test_tables_carry_the_benchmark_defaults(frames: Frames) -> None:
    values = slot_values(load_benchmark()["values"], frames)
    assert (values["category"], values["product"], values["year"]) == (CATEGORY, PRODUCT, YEAR)
    assert values["latest_month"] == LATEST_MONTH


@pytest.mark.parametrize("entry", ENTRIES, ids=[entry["id"] for entry in ENTRIES])
def test_benchmark_question(entry: dict, asker: Asker, frames: Frames) -> None:
    values = slot_values(load_benchmark()["values"], frames)
    answer = run_entry(asker, entry, values)
    expect = entry["expect"]
    if entry["id"] in NOT_ANSWERED:
        assert not answer.understood and answer.rows == [] and answer.source == "none"
        assert answer.refused == bool(expect.get("refused"))
        return
    assert answer.understood, answer.answer
    assert answer.sql and answer.sql.startswith(("SELECT", "WITH"))
    expected = EXPECTED[entry["id"]](frames)
    columns = expect.get("columns") or []
    actual = pl.DataFrame(answer.rows, schema=answer.columns, orient="row")
    assert actual.height == expected.height
    if actual.height:
        assert_frame_equal(
            actual.select(columns),
            expected.select(columns),
            check_row_order=bool(expect.get("ordered")),
            check_dtypes=False,
            rel_tol=1e-9,
        )


def test_run_benchmark_scores_every_question_on_the_test_tables(asker: Asker) -> None:
    result = run_benchmark(asker)
    print(f"benchmark accuracy: {result.correct}/{result.total} = {result.accuracy:.1%}")
    assert result.failures == []
    assert (result.total, result.correct, result.accuracy) == (len(ENTRIES), len(ENTRIES), 1.0)


def test_run_benchmark_picks_values_when_the_defaults_are_missing(frames: Frames) -> None:
    """Rename the default category and product away: slots take values from the data."""
    renamed = {
        name: frame.with_columns(
            [
                pl.col("category").replace({"Electronics": "Gadgets"}),
                *(
                    [pl.col("product_name").replace({PRODUCT: "Nimbus Steam Kettle"})]
                    if "product_name" in frame.columns
                    else []
                ),
            ]
        )
        for name, frame in frames.items()
    }
    asker = Asker(frames=renamed)
    values = slot_values(load_benchmark()["values"], renamed)
    top = renamed["product_decisions"].sort("predicted_revenue", descending=True)
    assert values["category"] != CATEGORY and values["product"] == top["product_name"][0]
    result = run_benchmark(asker)
    assert result.failures == [], result.failures


def test_run_benchmark_reports_wrong_answers(asker: Asker, tmp_path) -> None:
    bad = tmp_path / "benchmark.yaml"
    bad.write_text(
        "values: {}\nquestions:\n"
        "  - id: wrong\n    question: Top 5 products by predicted revenue\n"
        "    expect: {table: product_decisions, limit: 4, columns: [product_name]}\n"
        "  - id: right\n    question: Top 5 products by predicted revenue\n"
        "    expect: {table: product_decisions, sort: [[predicted_revenue, desc]], limit: 5,"
        " columns: [product_name], ordered: true}\n",
        encoding="utf-8",
    )
    result = run_benchmark(asker, bad)
    assert isinstance(result, BenchmarkResult)
    assert (result.total, result.correct) == (2, 1)
    assert result.failures[0].id == "wrong" and "expected 4" in result.failures[0].reason


def test_fill_question_forms() -> None:
    values = {"category": "Electronics", "product": "Nimbus Electric Kettle"}
    assert fill_question("in {category|typo}", values) == "in electronic"
    assert fill_question("about {product|short}", values) == "about nimbus kettle"
    assert fill_question("{category|lower} and {product}", values) == (
        "electronics and Nimbus Electric Kettle"
    )


def _asked_per_run() -> int:
    """Questions one benchmark run asks: every entry and the questions it follows up."""
    after = [entry.get("after") or [] for entry in ENTRIES]
    return len(ENTRIES) + sum(1 if isinstance(item, str) else len(item) for item in after)


def test_time_answers_times_every_answer_of_every_run(asker: Asker) -> None:
    result, seconds = time_answers(asker, repeats=2)
    assert (result.correct, result.total) == (len(ENTRIES), len(ENTRIES))
    assert len(seconds) == 2 * _asked_per_run() > 2 * len(ENTRIES)
    assert seconds == sorted(seconds) and seconds[0] > 0
    assert "ask" not in vars(asker)


def test_the_benchmark_command_prints_accuracy_and_answer_times(
    lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--lake-root", str(lake), "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{len(ENTRIES)}/{len(ENTRIES)} correct; engine start ")
    assert f"; {_asked_per_run()} answers: median " in out and "maximum" in out
