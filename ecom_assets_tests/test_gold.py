"""Gold tables against totals computed by hand, row by row, in plain Python."""

import random
from collections import defaultdict
from datetime import date, timedelta

import polars as pl
import pytest

from ecom_assets.transforms import gold

AS_OF = date(2024, 6, 30)


def _silver(lines: int = 400, seed: int = 7) -> pl.DataFrame:
    rng = random.Random(seed)
    products = [(f"p{i}", f"Product {i}", ["Books", "Toys", "Garden"][i % 3]) for i in range(9)]
    rows = []
    for n in range(lines):
        product_id, name, category = rng.choice(products)
        quantity = rng.choice([1, 1, 2, 3, -1])
        price = rng.choice([4.99, 12.5, 30.0])
        rows.append(
            {
                "order_id": f"O{n // 2}",
                "line_id": f"O{n // 2}|{product_id}|{n}",
                "order_date": date(2024, 1, 1) + timedelta(days=rng.randrange(200)),
                "product_id": product_id,
                "product_name": name,
                "category": category,
                "price": price,
                "quantity": quantity,
                "revenue": price * quantity,
                "rating": rng.choice([None, 3.0, 4.0, 5.0]),
                "reviews": rng.randrange(100),
                "line_type": "return" if quantity < 0 else "sale",
                "_source_file": "f.csv",
                "_source_row": n + 1,
            }
        )
    return pl.DataFrame(rows)


def _by_hand(silver: pl.DataFrame, key) -> dict:
    totals: dict = defaultdict(lambda: {"revenue": 0.0, "quantity": 0, "orders": set()})
    for row in silver.iter_rows(named=True):
        if row["order_date"] > AS_OF:
            continue
        entry = totals[key(row)]
        entry["revenue"] += row["revenue"]
        entry["quantity"] += row["quantity"]
        if row["line_type"] == "sale":
            entry["orders"].add(row["order_id"])
    return totals


def test_default_as_of_date_is_the_last_order_date() -> None:
    silver = _silver()
    assert gold.default_as_of_date(silver.lazy()) == max(silver["order_date"])


def test_daily_product_sales_matches_a_hand_count() -> None:
    silver = _silver()
    table = gold.daily_product_sales(silver.lazy(), AS_OF).collect()
    expected = _by_hand(silver, lambda r: (r["order_date"], r["product_id"]))
    assert table.height == len(expected)
    for row in table.iter_rows(named=True):
        hand = expected[(row["date"], row["product_id"])]
        assert row["revenue"] == pytest.approx(hand["revenue"])
        assert row["quantity"] == hand["quantity"]
        assert row["orders"] == len(hand["orders"])
        assert row["as_of_date"] == AS_OF
    assert max(table["date"]) <= AS_OF


def test_monthly_sales_matches_a_hand_count() -> None:
    silver = _silver()
    table = gold.monthly_sales(silver.lazy(), AS_OF).collect()
    expected = _by_hand(silver, lambda r: (r["order_date"].replace(day=1), r["product_id"]))
    assert {(r["month"], r["product_id"]) for r in table.iter_rows(named=True)} == set(expected)
    for row in table.iter_rows(named=True):
        hand = expected[(row["month"], row["product_id"])]
        assert row["revenue"] == pytest.approx(hand["revenue"])
        assert row["orders"] == len(hand["orders"])


def test_product_metrics_match_a_hand_count() -> None:
    silver = _silver()
    table = gold.product_metrics(silver.lazy(), AS_OF).collect()
    expected = _by_hand(silver, lambda r: r["product_id"])
    assert sorted(table["product_id"]) == sorted(expected)
    for row in table.iter_rows(named=True):
        lines = [
            r
            for r in silver.iter_rows(named=True)
            if r["product_id"] == row["product_id"] and r["order_date"] <= AS_OF
        ]
        hand = expected[row["product_id"]]
        ratings = [r["rating"] for r in lines if r["rating"] is not None]
        sale_dates = [r["order_date"] for r in lines if r["line_type"] == "sale"]
        last_30 = sum(r["revenue"] for r in lines if r["order_date"] > AS_OF - timedelta(days=30))
        assert row["total_revenue"] == pytest.approx(hand["revenue"])
        assert row["total_quantity"] == hand["quantity"]
        assert row["total_orders"] == len(hand["orders"])
        assert row["avg_rating"] == pytest.approx(sum(ratings) / len(ratings), abs=0.005)
        assert row["first_sale_date"] == min(sale_dates)
        assert row["last_sale_date"] == max(sale_dates)
        assert row["revenue_last_30d"] == pytest.approx(last_30)
        assert row["category"] == lines[0]["category"]


def test_category_metrics_sum_their_products_and_shares_sum_to_100() -> None:
    silver = _silver()
    table = gold.category_metrics(silver.lazy(), AS_OF).collect()
    expected = _by_hand(silver, lambda r: r["category"])
    assert sorted(table["category"]) == sorted(expected)
    for row in table.iter_rows(named=True):
        assert row["total_revenue"] == pytest.approx(expected[row["category"]]["revenue"])
        assert row["products"] == 3
    assert table["revenue_share_pct"].sum() == pytest.approx(100.0)


def test_product_takes_its_latest_name_and_most_frequent_category() -> None:
    silver = _silver(lines=6).with_columns(
        pl.lit("p1").alias("product_id"),
        pl.Series("product_name", ["Old", "Old", "Old", "Old", "Old", "New"]),
        pl.Series("category", ["Toys", "Books", "Books", "Toys", "Books", "Toys"]),
        pl.Series("order_date", [date(2024, 1, d) for d in range(1, 7)]),
    )
    dimension = gold.product_dimension(silver.lazy()).collect()
    assert dimension.rows() == [("p1", "New", "Books")]
