"""The data-quality rules find exactly the rows that break them."""

from datetime import UTC, date, datetime

import polars as pl
import pytest

from ecom_assets.transforms import quality

INGESTED = datetime(2024, 3, 1, tzinfo=UTC)


def _line(n: int, **changes) -> dict:
    row = {
        "order_id": f"O{n}",
        "line_id": f"O{n}|p",
        "order_date": date(2024, 2, 1),
        "customer_id": "C1",
        "product_id": "p",
        "product_name": "P",
        "category": "Toys",
        "price": 2.0,
        "quantity": 3,
        "revenue": 6.0,
        "rating": 4.0,
        "reviews": 1,
        "line_type": "sale",
        "_source_file": "f.csv",
        "_source_row": n,
        "_layout": "original",
        "_ingested_at": INGESTED,
    }
    row.update(changes)
    return row


def _frame(*rows: dict) -> pl.LazyFrame:
    return pl.DataFrame(list(rows)).lazy()


def test_clean_lines_break_no_rule() -> None:
    silver = _frame(_line(1), _line(2), _line(3, quantity=-1, revenue=-2.0, line_type="return"))
    assert quality.duplicated_line_ids(silver).height == 0
    assert quality.null_key_fields(silver).height == 0
    assert quality.out_of_range_values(silver).height == 0


def test_duplicated_line_ids_are_all_reported() -> None:
    silver = _frame(_line(1), _line(2, line_id="O1|p"), _line(3))
    assert quality.duplicated_line_ids(silver)["_source_row"].to_list() == [1, 2]


@pytest.mark.parametrize("column", ["order_id", "line_id", "order_date", "category", "revenue"])
def test_a_null_key_field_is_reported(column: str) -> None:
    silver = _frame(_line(1), _line(2, **{column: None}))
    assert quality.null_key_fields(silver)["_source_row"].to_list() == [2]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"price": 0.0, "revenue": 0.0}, "price_not_positive"),
        ({"quantity": 0, "revenue": 0.0}, "quantity_zero"),
        ({"quantity": -3, "revenue": -6.0}, "sale_with_negative_quantity"),
        ({"line_type": "return"}, "return_with_positive_quantity"),
        ({"revenue": 7.0}, "revenue_not_price_times_quantity"),
        ({"rating": 5.5}, "rating_outside_1_to_5"),
        ({"reviews": -2}, "negative_reviews"),
        ({"order_date": date(2024, 3, 2)}, "order_after_ingestion"),
    ],
)
def test_each_impossible_value_is_named(changes: dict, problem: str) -> None:
    offenders = quality.out_of_range_values(_frame(_line(1), _line(2, **changes)))
    assert offenders.select("problem", "_source_row").rows() == [(problem, 2)]


def _placed(rows: list[tuple[str, int, int]]) -> pl.LazyFrame:
    """Rows known by file, row number and ingestion (a day of January 2026)."""
    files, numbers, days = zip(*rows, strict=True) if rows else ((), (), ())
    return pl.DataFrame(
        {
            "_source_file": list(files),
            "_source_row": list(numbers),
            "_ingested_at": [datetime(2026, 1, day, tzinfo=UTC) for day in days],
        },
        schema={
            "_source_file": pl.String,
            "_source_row": pl.Int64,
            "_ingested_at": pl.Datetime("us", "UTC"),
        },
    ).lazy()


def test_reconciliation_finds_lost_doubled_and_invented_rows() -> None:
    key = ["_source_file", "_source_row"]
    bronze = _placed([("f.csv", row, 1) for row in (1, 2, 3, 4)])
    silver = _placed([("f.csv", 1, 1), ("f.csv", 2, 1)])
    rejected = _placed([("f.csv", 2, 1), ("f.csv", 3, 1), ("f.csv", 9, 1)])
    offenders = quality.unreconciled_rows(bronze, silver, rejected)
    assert offenders.select("problem", *key).rows() == [
        ("placed_more_than_once", "f.csv", 2),
        ("lost", "f.csv", 4),
        ("not_in_bronze", "f.csv", 9),
    ]
    good_rejected = _placed([("f.csv", 3, 1), ("f.csv", 4, 1)])
    assert quality.unreconciled_rows(bronze, silver, good_rejected).height == 0


def test_reconciliation_sees_a_swap_that_keeps_the_counts() -> None:
    bronze = _placed([("f.csv", row, 1) for row in (1, 2, 3, 4)])
    silver = _placed([("f.csv", 1, 1), ("f.csv", 2, 1)])
    rejected = _placed([("f.csv", 2, 1), ("f.csv", 4, 1)])
    offenders = quality.unreconciled_rows(bronze, silver, rejected)
    assert offenders.select("problem", "_source_row").rows() == [
        ("placed_more_than_once", 2),
        ("lost", 3),
    ]


def test_reconciliation_accepts_bronze_rows_numbered_with_gaps() -> None:
    bronze = _placed([("f.csv", row, 1) for row in (1, 2, 5)])
    placed = quality.unreconciled_rows(
        bronze, _placed([("f.csv", 1, 1), ("f.csv", 5, 1)]), _placed([("f.csv", 2, 1)])
    )
    assert placed.height == 0
    lost = quality.unreconciled_rows(bronze, _placed([("f.csv", 1, 1)]), _placed([("f.csv", 2, 1)]))
    assert lost.select("problem", "_source_row").rows() == [("lost", 5)]


def test_reconciliation_tells_ingestions_of_the_same_file_name_apart() -> None:
    bronze = _placed([("f.csv", 1, 1), ("f.csv", 1, 2)])
    once_each = quality.unreconciled_rows(
        bronze, _placed([("f.csv", 1, 1)]), _placed([("f.csv", 1, 2)])
    )
    assert once_each.height == 0
    second_lost = quality.unreconciled_rows(bronze, _placed([("f.csv", 1, 1)]), _placed([]))
    assert second_lost.select("problem", "_ingested_at").rows() == [
        ("lost", datetime(2026, 1, 2, tzinfo=UTC))
    ]


def test_revenue_gap_compares_up_to_the_as_of_date() -> None:
    silver = _frame(_line(1), _line(2, order_date=date(2024, 2, 20), revenue=10.0, quantity=5))
    as_of = date(2024, 2, 10)
    in_gold = pl.DataFrame({"revenue": [6.0], "as_of_date": [as_of]}).lazy()
    assert quality.revenue_gap(silver, in_gold) == pytest.approx(0.0)
    off_by_a_cent = pl.DataFrame({"total_revenue": [6.01], "as_of_date": [as_of]}).lazy()
    assert quality.revenue_gap(silver, off_by_a_cent) == pytest.approx(0.01)
    assert quality.revenue_gap(silver, off_by_a_cent) > quality.REVENUE_TOLERANCE


def test_negative_totals_are_reported() -> None:
    table = pl.DataFrame({"p": ["a", "b"], "total_revenue": [1.0, -0.5], "total_orders": [1, 1]})
    offenders = quality.negative_totals(table.lazy(), ("total_revenue", "total_orders"))
    assert offenders["p"].to_list() == ["b"]
