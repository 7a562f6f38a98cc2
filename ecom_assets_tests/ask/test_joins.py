"""Joins only on declared keys, and the row budget checked before anything runs."""

from __future__ import annotations

import polars as pl
import pytest
import sqlglot
from polars.testing import assert_frame_equal

from ecom_assets.ask import Answer, Asker
from ecom_assets.ask.joins import check_query, table_sizes
from ecom_assets.ask.model import load_model
from ecom_assets.ask.safety import PolarsSQL, UnsafeQueryError, validate_sql

MODEL = load_model()
DECLARED = (
    "the declared join keys are product_id (product_decisions, product_metrics, monthly_sales) "
    "and category (product_decisions, product_metrics, category_metrics, monthly_sales)"
)
SELF = "SELECT COUNT(*) AS n FROM monthly_sales AS a"
BAD_JOINS = [
    (f"{SELF} JOIN monthly_sales AS b ON 1 = 1", "`JOIN monthly_sales AS b ON 1 = 1`"),
    (f"{SELF} JOIN monthly_sales AS b ON TRUE", "(TRUE is not an equality of declared keys)"),
    (f"{SELF} JOIN monthly_sales AS b ON a.revenue > b.revenue", "a.revenue > b.revenue is not"),
    (f"{SELF} JOIN monthly_sales AS b ON a.month = b.month", "a.month = b.month is not"),
    (f"{SELF} JOIN monthly_sales AS b ON a.product_id = b.category", "a.product_id = b.category"),
    (
        f"{SELF} JOIN monthly_sales AS b ON a.product_id = b.product_id OR 1 = 1",
        "a.product_id = b.product_id OR 1 = 1 is not",
    ),
    (
        f"{SELF} JOIN monthly_sales AS b ON a.product_id = b.product_id AND a.month < b.month",
        "a.month < b.month is not",
    ),
    (
        f"{SELF} JOIN monthly_sales AS b ON LOWER(a.category) = LOWER(b.category)",
        "LOWER(a.category) = LOWER(b.category) is not",
    ),
    (f"{SELF} JOIN monthly_sales AS b ON product_id = product_id", "product_id = product_id"),
    (f"{SELF} JOIN monthly_sales AS b ON a.product_id = a.product_id", "a.product_id = a.product"),
    (f"{SELF} JOIN monthly_sales AS b USING (month)", "month is not a declared key of both sides"),
    (f"{SELF}, monthly_sales AS b", "a comma join or a JOIN without ON: a cross join"),
    (
        "SELECT COUNT(*) AS n FROM monthly_sales, monthly_sales AS m2, monthly_sales AS m3",
        "`FROM ..., monthly_sales AS m2`",
    ),
    (f"{SELF} JOIN monthly_sales AS b", "a comma join or a JOIN without ON: a cross join"),
    (f"{SELF} CROSS JOIN monthly_sales AS b", "`CROSS JOIN monthly_sales AS b` is not allowed"),
    (f"{SELF} NATURAL JOIN monthly_sales AS b", "(a natural join)"),
    (
        f"{SELF} JOIN category_metrics AS c ON a.product_id = c.product_id",
        "(here: ON a.category = c.category)",
    ),
    (
        "SELECT COUNT(*) AS n FROM (SELECT 1 AS k, revenue FROM monthly_sales) AS a "
        "JOIN (SELECT 1 AS k, revenue FROM monthly_sales) AS b ON a.k = b.k",
        "these two sides share none",
    ),
    (
        f"{SELF} JOIN (SELECT category AS product_id FROM monthly_sales) AS b "
        "ON a.product_id = b.product_id",
        "(here: ON a.category = b.product_id)",
    ),
    (
        f"{SELF} JOIN (SELECT *, 'x' AS product_id FROM monthly_sales) AS b "
        "ON a.product_id = b.product_id",
        "a.product_id = b.product_id is not",
    ),
    (
        f"{SELF} JOIN (SELECT product_id FROM monthly_sales UNION ALL "
        "SELECT category FROM monthly_sales) AS b ON a.product_id = b.product_id",
        "these two sides share none",
    ),
    (
        f"{SELF} JOIN monthly_sales AS b(x, product_id) ON a.product_id = b.product_id",
        "these two sides share none",
    ),
    (
        "SELECT COUNT(*) AS n FROM (SELECT a.revenue FROM monthly_sales AS a, monthly_sales AS b)"
        " AS t",
        "`FROM ..., monthly_sales AS b`",
    ),
    (
        "WITH pairs AS (SELECT a.month FROM monthly_sales AS a CROSS JOIN monthly_sales AS b) "
        "SELECT COUNT(*) AS n FROM pairs",
        "`CROSS JOIN monthly_sales AS b`",
    ),
    (
        "SELECT product_name FROM product_decisions WHERE product_id IN (SELECT a.product_id "
        "FROM monthly_sales AS a JOIN monthly_sales AS b ON 1 = 1)",
        "`JOIN monthly_sales AS b ON 1 = 1`",
    ),
]
BAD_SHAPES = [
    (
        f"{SELF} JOIN (monthly_sales AS b JOIN monthly_sales AS c ON b.product_id = c.product_id)"
        " ON a.product_id = b.product_id",
        "joins nested in parentheses are not allowed",
    ),
    (
        "SELECT COUNT(*) AS n FROM monthly_sales JOIN monthly_sales ON "
        "monthly_sales.product_id = monthly_sales.product_id",
        "monthly_sales appears twice in one FROM; give each table its own alias",
    ),
]


def _refused(answer: Answer, *parts: str) -> None:
    assert answer.refused and not answer.understood, answer.answer
    assert (answer.source, answer.rows, answer.sql) == ("none", [], None)
    for part in parts:
        assert part in answer.answer, answer.answer


@pytest.mark.parametrize(("sql", "reason"), BAD_JOINS, ids=range(len(BAD_JOINS)))
def test_a_join_off_the_declared_keys_is_refused_naming_it_and_the_keys(
    sql: str, reason: str, asker: Asker, executed: list[str]
) -> None:
    answer = asker.ask(sql)
    _refused(answer, "Refused: the join `", "is not allowed", reason, DECLARED)
    assert executed == []


@pytest.mark.parametrize(("sql", "reason"), BAD_SHAPES, ids=range(len(BAD_SHAPES)))
def test_joins_the_checks_cannot_follow_are_refused(
    sql: str, reason: str, asker: Asker, executed: list[str]
) -> None:
    _refused(asker.ask(sql), reason)
    assert executed == []


def test_without_declared_keys_no_join_is_allowed() -> None:
    schema = {"monthly_sales": ["product_id", "revenue"]}
    sql = "SELECT a.revenue FROM monthly_sales AS a JOIN monthly_sales AS b USING (product_id)"
    assert validate_sql(sql, schema, join_keys=MODEL.join_keys).startswith("SELECT")
    with pytest.raises(UnsafeQueryError, match="none is declared"):
        validate_sql(sql, schema)


def test_join_keys_live_in_the_semantic_model() -> None:
    assert MODEL.join_keys == {
        "product_id": ("product_decisions", "product_metrics", "monthly_sales"),
        "category": ("product_decisions", "product_metrics", "category_metrics", "monthly_sales"),
    }


def test_a_join_on_a_key_answers_with_the_joined_rows(asker: Asker, frames) -> None:
    answer = asker.ask(
        "SELECT p.product_name, p.recommended_action, SUM(m.revenue) AS revenue "
        "FROM product_decisions AS p JOIN monthly_sales AS m ON p.product_id = m.product_id "
        "WHERE p.category = 'Electronics' GROUP BY p.product_name, p.recommended_action "
        "ORDER BY revenue DESC"
    )
    assert answer.understood and answer.source == "sql", answer.answer
    decisions = frames["product_decisions"].filter(pl.col("category") == "Electronics")
    expected = (
        decisions.join(frames["monthly_sales"], on="product_id")
        .group_by("product_name", "recommended_action")
        .agg(revenue=pl.col("revenue").sum())
        .sort("revenue", descending=True)
    )
    actual = pl.DataFrame(answer.rows, schema=answer.columns, orient="row")
    assert_frame_equal(actual, expected, check_dtypes=False)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT c.category, c.total_revenue, COUNT(*) AS decided FROM category_metrics AS c "
        "JOIN product_decisions AS p ON c.category = p.category GROUP BY c.category, "
        "c.total_revenue",
        "SELECT m.product_name, d.recommended_action FROM product_metrics AS m LEFT JOIN "
        "product_decisions AS d ON m.product_id = d.product_id AND m.category = d.category",
        "SELECT a.month, a.revenue, b.revenue AS revenue_other FROM monthly_sales AS a "
        "JOIN monthly_sales AS b USING (product_id) WHERE a.product_id = 'harbor-tablet'",
        "WITH totals AS (SELECT product_id, SUM(revenue) AS revenue FROM monthly_sales "
        "GROUP BY product_id) SELECT p.product_name, t.revenue FROM product_decisions AS p "
        "JOIN totals AS t ON p.product_id = t.product_id",
        "SELECT a.category, COUNT(*) AS pairs FROM monthly_sales AS a JOIN monthly_sales AS b "
        "ON a.category = b.category GROUP BY a.category",
        "SELECT product_name FROM product_decisions AS p SEMI JOIN monthly_sales AS m "
        "ON p.product_id = m.product_id",
    ],
)
def test_joins_on_declared_keys_run(sql: str, asker: Asker) -> None:
    answer = asker.ask(sql)
    assert answer.understood and answer.source == "sql" and answer.rows, answer.answer


def _bound(sql: str, frames) -> int:
    sizes = table_sizes(frames, MODEL.join_keys)
    return check_query(sqlglot.parse_one(sql, read=PolarsSQL), MODEL.join_keys, sizes)


@pytest.mark.parametrize(
    "joins",
    [
        "product_decisions AS p JOIN monthly_sales AS m ON p.product_id = m.product_id",
        "monthly_sales AS m JOIN product_decisions AS p ON p.product_id = m.product_id",
        "category_metrics AS c JOIN monthly_sales AS m ON c.category = m.category",
        "monthly_sales AS a JOIN monthly_sales AS b ON a.category = b.category",
        "monthly_sales AS a JOIN monthly_sales AS b ON a.product_id = b.product_id "
        "JOIN monthly_sales AS c ON c.category = a.category",
        "product_metrics AS m LEFT JOIN product_decisions AS d ON m.product_id = d.product_id",
        "product_decisions AS d FULL JOIN monthly_sales AS m ON d.category = m.category",
        "(SELECT category, product_id FROM monthly_sales GROUP BY category, product_id) AS g "
        "JOIN monthly_sales AS m ON g.category = m.category",
        "(SELECT DISTINCT category FROM monthly_sales) AS g JOIN monthly_sales AS m "
        "ON g.category = m.category JOIN product_metrics AS p ON p.category = g.category",
        "monthly_sales AS a JOIN monthly_sales AS b ON a.product_id = b.product_id "
        "JOIN monthly_sales AS c ON b.product_id = c.product_id "
        "WHERE a.product_id = 'zephyr-tablet'",
    ],
)
def test_the_row_bound_is_never_below_the_rows_a_join_makes(
    joins: str, asker: Asker, frames
) -> None:
    sql = f"SELECT COUNT(*) AS n FROM {joins}"
    actual = asker.execute(sql).item()
    assert actual > 0
    assert _bound(sql, frames) >= actual


def test_aggregating_a_side_first_bounds_its_join_by_one_row_per_key(frames) -> None:
    per_product = (
        "WITH t AS (SELECT product_id, SUM(revenue) AS revenue FROM monthly_sales "
        "GROUP BY product_id) SELECT m.month, t.revenue FROM monthly_sales AS m "
        "JOIN t ON m.product_id = t.product_id"
    )
    assert _bound(per_product, frames) == frames["monthly_sales"].height
    renamed = per_product.replace("GROUP BY product_id", "GROUP BY product_id, month")
    assert _bound(renamed, frames) > frames["monthly_sales"].height


HUGE = (
    "SELECT COUNT(*) AS n FROM monthly_sales AS a JOIN monthly_sales AS b "
    "ON a.category = b.category JOIN monthly_sales AS c ON b.category = c.category"
)


def test_the_budget_refuses_a_huge_self_join_before_running_anything(
    asker: Asker, frames, executed: list[str]
) -> None:
    rows = frames["monthly_sales"].height
    most = frames["monthly_sales"].group_by("category").len()["len"].max()
    answer = asker.ask(HUGE)
    _refused(
        answer,
        f"Refused: the join of monthly_sales AS c could produce up to {rows * most * most:,} rows",
        f"({rows * most:,} rows so far x up to {most:,} rows per category of c)",
        "the row budget is 5,000,000 rows (ECOM_ASK_ROW_BUDGET), checked before anything runs",
        "Narrow the question",
    )
    assert executed == []


def test_the_budget_is_a_setting(frames, monkeypatch: pytest.MonkeyPatch) -> None:
    pairs = (
        "SELECT COUNT(*) AS n FROM monthly_sales AS a JOIN monthly_sales AS b "
        "ON a.product_id = b.product_id"
    )
    assert Asker(frames=frames).ask(pairs).understood
    monkeypatch.setenv("ECOM_ASK_ROW_BUDGET", "2000")
    assert Asker(frames=frames).row_budget == 2000
    _refused(Asker(frames=frames).ask(pairs), "the row budget is 2,000 rows")
    assert Asker(frames=frames, row_budget=10**12).ask(HUGE).understood
    monkeypatch.setenv("ECOM_ASK_ROW_BUDGET", "lots")
    assert Asker(frames=frames).row_budget == MODEL.row_budget == 5_000_000


def test_filtering_each_side_to_one_key_value_narrows_the_bound(frames) -> None:
    asker = Asker(frames=frames, row_budget=50_000)
    triple = (
        "SELECT COUNT(*) AS n FROM monthly_sales AS a JOIN monthly_sales AS b "
        "ON a.product_id = b.product_id JOIN monthly_sales AS c ON b.product_id = c.product_id"
    )
    _refused(asker.ask(triple), "the row budget is 50,000 rows")
    one = " WHERE a.product_id = 'zephyr-tablet' AND b.product_id = 'zephyr-tablet'"
    answer = asker.ask(triple + one)
    months = frames["monthly_sales"].filter(pl.col("product_id") == "zephyr-tablet").height
    assert answer.understood and answer.rows == [[months**3]]


def test_a_table_larger_than_the_budget_cannot_be_read(frames) -> None:
    asker = Asker(frames=frames, row_budget=100)
    _refused(
        asker.ask("SELECT month FROM monthly_sales"),
        f"reading monthly_sales could produce up to {frames['monthly_sales'].height:,} rows",
    )
    assert asker.ask("Top 5 products by predicted revenue").understood
