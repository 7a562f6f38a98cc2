"""The dashboard's pure queries on small hand-made frames, expected values worked out by hand."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from ecom_assets.dashboard import asking, data

DECISIONS = pl.DataFrame(
    {
        "product_id": ["p-1", "p-2", "p-3", "p-4"],
        "product_name": ["Red Mug (large)", "Blue Mug", "Desk Lamp", "Lamp Shade"],
        "category": ["Kitchen", "Kitchen", "Office", "Home"],
        "performance_bucket": ["High", "Low", "High", "Medium"],
        "recommended_action": ["increase inventory", "apply discount", "review product", None],
        "predicted_revenue": [300.0, 10.0, 300.0, None],
        "revenue_last_period": [200.0, 40.0, 0.0, 60.0],
        "total_revenue": [5000.0, 800.0, 2500.0, 900.0],
        "as_of_date": [date(2026, 9, 30)] * 4,
        "horizon_days": [30] * 4,
        "model_version": ["m v2", "m v2", "run rate (new product)", "m v2"],
    }
)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["p-1", "p-2", "p-3", "p-4"]),
        ({"buckets": ["High"]}, ["p-1", "p-3"]),
        ({"buckets": ["High"], "categories": ["Office"]}, ["p-3"]),
        ({"actions": ["apply discount", "review product"]}, ["p-2", "p-3"]),
        ({"search": "  LAMP "}, ["p-3", "p-4"]),
        ({"search": "(large)"}, ["p-1"]),
        ({"search": "P-2"}, ["p-2"]),
        ({"search": "mug", "buckets": ["Low"]}, ["p-2"]),
        ({"search": "nothing like this"}, []),
    ],
)
def test_filter_decisions(filters: dict[str, object], expected: list[str]) -> None:
    rows = data.filter_decisions(DECISIONS, **filters)  # type: ignore[arg-type]
    assert rows["product_id"].to_list() == expected


def test_sort_puts_nulls_last_and_breaks_ties_by_product() -> None:
    assert data.sort_decisions(DECISIONS, "predicted_revenue", True)["product_id"].to_list() == [
        "p-1",
        "p-3",
        "p-2",
        "p-4",
    ]
    assert data.sort_decisions(DECISIONS, "predicted_revenue", False)["product_id"].to_list() == [
        "p-2",
        "p-1",
        "p-3",
        "p-4",
    ]


def test_sort_by_an_unknown_column_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot sort by 'price'"):
        data.sort_decisions(DECISIONS, "price", True)


def test_count_by_lists_the_given_order_first() -> None:
    counts = data.count_by(DECISIONS, "performance_bucket", ("Low", "Medium", "High"))
    assert counts.rows() == [("Low", 1), ("Medium", 1), ("High", 2)]
    by_count = data.count_by(DECISIONS, "category")
    assert by_count.rows() == [("Kitchen", 2), ("Home", 1), ("Office", 1)]


def test_kpis_and_a_zero_last_period() -> None:
    metrics = pl.DataFrame({"total_revenue": [5000.0, 800.0, 2500.0, 900.0, 100.0]})
    numbers = data.kpis(DECISIONS, metrics)
    assert numbers.revenue_to_date == 9300.0
    assert numbers.predicted_revenue == 610.0
    assert numbers.revenue_last_period == 300.0
    assert numbers.predicted_change_pct == pytest.approx(100 * 310 / 300)
    assert (numbers.products_forecast, numbers.products_total) == (4, 5)
    zero = data.kpis(DECISIONS.with_columns(revenue_last_period=pl.lit(0.0)), metrics)
    assert zero.predicted_change_pct is None


def test_provenance_lists_distinct_values() -> None:
    facts = data.provenance(DECISIONS)
    assert facts.as_of_dates == (date(2026, 9, 30),)
    assert facts.horizon_days == (30,)
    assert facts.model_versions == ("m v2", "run rate (new product)")


@pytest.mark.parametrize(
    ("month", "as_of", "partial"),
    [
        (date(2026, 9, 1), date(2026, 9, 30), False),
        (date(2026, 9, 1), date(2026, 9, 15), True),
        (date(2026, 2, 1), date(2026, 2, 28), False),
        (date(2024, 2, 1), date(2024, 2, 28), True),
        (date(2026, 12, 1), date(2026, 12, 31), False),
        (date(2026, 8, 1), date(2026, 9, 10), False),
    ],
)
def test_is_partial_month(month: date, as_of: date, partial: bool) -> None:
    assert data.is_partial_month(month, as_of) is partial


def test_forecast_midpoint() -> None:
    assert data.forecast_midpoint(date(2026, 9, 30), 30) == date(2026, 10, 15)


def test_top_forecasts_skip_missing_predictions() -> None:
    assert data.top_forecasts(DECISIONS, 3)["product_id"].to_list() == ["p-1", "p-3", "p-2"]
    assert data.top_forecasts(DECISIONS, 5, "Home")["product_id"].to_list() == ["p-4"]


def test_category_forecast_sums_and_change() -> None:
    per_category = data.category_forecast(DECISIONS)
    assert per_category.rows() == [
        ("Kitchen", 2, 240.0, 310.0, pytest.approx(100 * 70 / 240)),
        ("Office", 1, 0.0, 300.0, None),
        ("Home", 1, 60.0, 0.0, -100.0),
    ]


def test_product_history_is_one_product_oldest_first() -> None:
    monthly = pl.DataFrame(
        {
            "month": [date(2026, 2, 1), date(2026, 1, 1), date(2026, 1, 1)],
            "product_id": ["p-1", "p-1", "p-2"],
            "revenue": [5.0, 3.0, 9.0],
            "quantity": [2, 1, 3],
            "orders": [2, 1, 1],
        }
    )
    assert data.product_history(monthly, "p-1").rows() == [
        (date(2026, 1, 1), 3.0, 1, 1),
        (date(2026, 2, 1), 5.0, 2, 2),
    ]


def test_model_scores_and_card() -> None:
    model = pl.DataFrame(
        {
            "candidate": ["model", "naive", "ma90", "champion"],
            **{c: [0.1, 0.2, 0.3, 0.1] for c in data.METRIC_COLUMNS},
            "run_id": ["abc"] * 4,
            "model_version": ["7"] * 4,
            "promoted": [True] * 4,
            "served": [False, False, False, True],
            "served_description": ["forecast v6"] * 4,
            "best_baseline": ["ma90"] * 4,
        }
    )
    scores = data.model_scores(model)
    assert scores["kind"].to_list() == [
        "this run's model",
        "baseline",
        "best baseline",
        "registered champion",
    ]
    assert scores["serves"].to_list() == [False, False, False, True]
    card = data.model_card(model)
    assert (card.run_id, card.registered_version, card.promoted) == ("abc", "7", True)
    assert (card.served_candidate, card.best_baseline) == ("champion", "ma90")
    with pytest.raises(ValueError, match="no rows"):
        data.model_card(model.head(0))


def test_rejected_counts_and_samples_in_file_order() -> None:
    rejected = pl.LazyFrame(
        {
            "reason": ["a", "b", "a", "a"],
            "line_id": ["1", "2", "3", "4"],
            "field": ["x"] * 4,
            "value": ["v1", "v2", "v3", "v4"],
            "raw_values": ["{}"] * 4,
            "_source_file": ["f2", "f1", "f1", "f1"],
            "_source_row": [1, 5, 9, 2],
        }
    )
    assert data.rejected_counts(rejected).rows() == [("a", 3, 75.0), ("b", 1, 25.0)]
    samples = data.rejected_samples(rejected, 2)
    assert samples.select("reason", "value").rows() == [("a", "v4"), ("a", "v3"), ("b", "v2")]


def test_to_csv_round_trips() -> None:
    csv = data.to_csv(DECISIONS.select("product_id", "product_name", "predicted_revenue"))
    assert csv.decode().splitlines()[:2] == [
        "product_id,product_name,predicted_revenue",
        "p-1,Red Mug (large),300.0",
    ]


@pytest.mark.parametrize(
    ("columns", "rows", "expected"),
    [
        (["a", "b"], [["x", 1], ["y", 2.5]], [("x", 1.0), ("y", 2.5)]),
        (["a", "b"], [("x", 1), ("y", 2)], [("x", 1), ("y", 2)]),
        (["b", "a"], [{"a": "x", "b": 1}], [(1, "x")]),
        (["n", "n"], [[1, 2]], [(1, 2)]),
        (["a"], [], []),
    ],
)
def test_answer_frame(columns: list[str], rows: object, expected: list[tuple[object, ...]]) -> None:
    result = data.answer_frame(columns, rows)
    assert result.rows() == expected
    assert result.width == len(columns)


def test_answer_frame_keeps_duplicate_names_apart() -> None:
    assert data.answer_frame(["n", "n"], [[1, 2]]).columns == ["n", "n_2"]


@pytest.mark.parametrize(
    ("frame", "sql", "expected"),
    [
        (pl.DataFrame({"n": [5]}), "", None),
        (pl.DataFrame({"name": ["a"], "v": [1.0]}), "", None),
        (
            pl.DataFrame({"month": [date(2026, 1, 1), date(2026, 2, 1)], "revenue": [1.0, 2.0]}),
            "",
            data.ChartSpec("line", "month", "revenue"),
        ),
        (
            pl.DataFrame({"year": [2025, 2026], "orders": [10, 12]}),
            "",
            data.ChartSpec("line", "year", "orders"),
        ),
        (
            pl.DataFrame({"category": ["a", "b"], "revenue": [1.0, 2.0], "units": [3, 1]}),
            "SELECT ... ORDER BY units DESC",
            data.ChartSpec("bar", "category", "units"),
        ),
        (
            pl.DataFrame({"product_id": ["1", "2"], "product_name": ["A", "B"], "v": [1, 2]}),
            "",
            data.ChartSpec("bar", "product_name", "v"),
        ),
        (pl.DataFrame({"label": [str(i) for i in range(60)], "v": list(range(60))}), "", None),
        (pl.DataFrame({"a": ["x", "y"], "b": ["z", "w"]}), "", None),
    ],
)
def test_chart_for(frame: pl.DataFrame, sql: str, expected: data.ChartSpec | None) -> None:
    assert data.chart_for(frame, sql) == expected


def test_sample_questions_fall_back_on_an_empty_table() -> None:
    questions = asking.sample_questions(DECISIONS.head(0))
    assert "Show Low performing products in Electronics" in questions
    assert "Monthly revenue for Electronics in 2026" in questions
    filled = asking.sample_questions(DECISIONS)
    assert "Show Low performing products in Kitchen" in filled
    assert "What should we do about Red Mug (large)?" in filled
