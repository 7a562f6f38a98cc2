"""Small deterministic tables for the assistant's tests, built here, never read from data/.

Five categories, 30 active products (plus two inactive ones that only `product_metrics` and
`monthly_sales` know) and 27 months of sales, with values drawn from a seeded generator so no
two products tie on a measure. The names include the ones the benchmark defaults to
(Electronics, Nimbus Electric Kettle) and look-alikes that make fuzzy matching work for its keep
(three electric kettles, two tablets, a name with an apostrophe).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from ecom_assets.ask import Asker

AS_OF = date(2026, 3, 31)
PRODUCTS = {
    "Home & Kitchen": [
        "Nimbus Electric Kettle",
        "Cedar Electric Kettle",
        "Orion Electric Kettle",
        "Aurora Chef's Knife",
        "Maple Table Lamp",
        "Kestrel Air Fryer",
    ],
    "Electronics": [
        "Ember Wireless Headphones",
        "Harbor Tablet",
        "Zephyr Tablet",
        "Atlas USB-C Charger",
        "Vertex Webcam",
        "Orion Smartwatch",
        "Lumen Bluetooth Speaker",
    ],
    "Books": [
        "Nimbus Sci-Fi Anthology",
        "Summit Poetry Collection",
        "Willow Fantasy Saga",
        "Atlas Mystery Novel",
        "Kestrel Travel Guide",
        "Maple History Atlas",
    ],
    "Toys & Games": [
        "Harbor Board Game",
        "Lumen RC Car",
        "Summit Jigsaw Puzzle",
        "Aurora Toy Train Set",
        "Solace Building Blocks",
    ],
    "Pet Supplies": [
        "Atlas Dog Food",
        "Orion Cat Tree",
        "Willow Dog Treats",
        "Vertex Pet Bed",
        "Harbor Aquarium Filter",
        "Cedar Bird Seed",
    ],
}
INACTIVE = {"Books": ["Atlas Poetry Collection"], "Electronics": ["Maple Phone Mount"]}
ACTIONS = (
    "maintain and monitor",
    "apply discount",
    "review product",
    "increase inventory",
    "optimise price",
)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _catalogue(products: dict[str, list[str]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(name, category) for category, names in products.items() for name in names],
        schema=["product_name", "category"],
        orient="row",
    ).with_columns(pl.col("product_name").map_elements(_slug, pl.String).alias("product_id"))


def build_frames(seed: int = 7) -> dict[str, pl.DataFrame]:
    """The four tables the assistant reads, small and deterministic."""
    rng = np.random.default_rng(seed)
    active = _catalogue(PRODUCTS)
    everything = pl.concat([active, _catalogue(INACTIVE)])
    count = everything.height
    history = everything.with_columns(
        total_revenue=np.round(rng.uniform(500, 180_000, count), 2),
        total_orders=rng.integers(20, 3_000, count),
        total_quantity=rng.integers(30, 6_000, count),
        avg_rating=np.round(rng.uniform(2.5, 5.0, count), 3),
        reviews=rng.integers(0, 900, count),
        avg_price=np.round(rng.uniform(5, 300, count), 2),
        current_price=np.round(rng.uniform(5, 300, count), 2),
        revenue_last_30d=np.round(rng.uniform(100, 9_000, count), 2),
        revenue_last_90d=np.round(rng.uniform(9_000, 25_000, count), 2),
    ).with_columns(
        revenue_last_30d=pl.when(pl.col("product_name") == "Harbor Aquarium Filter")
        .then(0.0)
        .otherwise(pl.col("revenue_last_30d")),
        first_sale_date=pl.lit(date(2024, 1, 3)),
        last_sale_date=pl.lit(AS_OF),
        as_of_date=pl.lit(AS_OF),
    )
    product_metrics = history.select(
        "product_id",
        "product_name",
        "category",
        "total_revenue",
        "total_orders",
        "total_quantity",
        "avg_rating",
        "reviews",
        "avg_price",
        "current_price",
        "first_sale_date",
        "last_sale_date",
        "revenue_last_30d",
        "revenue_last_90d",
        "as_of_date",
    )
    decided = history.filter(pl.col("product_id").is_in(active["product_id"].implode()))
    predicted = np.round(rng.uniform(20, 30_000, decided.height), 4)
    predicted[0] = 61_234.5
    predicted[7] = 52_000.25
    decisions = (
        decided.with_columns(
            revenue_last_period=pl.col("revenue_last_30d"),
            predicted_revenue=predicted,
        )
        .with_columns(
            predicted_lower=pl.col("predicted_revenue") * 0.7,
            predicted_upper=pl.col("predicted_revenue") * 1.3,
            predicted_change_pct=pl.when(pl.col("revenue_last_period") > 0).then(
                (
                    100
                    * (pl.col("predicted_revenue") - pl.col("revenue_last_period"))
                    / pl.col("revenue_last_period")
                ).round(2)
            ),
            performance_bucket=pl.when(
                pl.col("predicted_revenue") >= pl.col("predicted_revenue").quantile(0.7)
            )
            .then(pl.lit("High"))
            .when(pl.col("predicted_revenue") < pl.col("predicted_revenue").quantile(0.4))
            .then(pl.lit("Low"))
            .otherwise(pl.lit("Medium")),
            recommended_action=pl.Series([ACTIONS[index % 5] for index in range(decided.height)]),
        )
        .with_columns(
            action_reason=pl.format("Rule for {} ({}).", "product_name", "recommended_action"),
            model_version=pl.lit("test v1"),
            horizon_days=pl.lit(30, pl.Int64),
        )
        .select(
            "product_id",
            "product_name",
            "category",
            "total_revenue",
            "total_orders",
            "total_quantity",
            "avg_rating",
            "revenue_last_period",
            "predicted_revenue",
            "predicted_lower",
            "predicted_upper",
            "predicted_change_pct",
            "performance_bucket",
            "recommended_action",
            "action_reason",
            "model_version",
            "as_of_date",
            "horizon_days",
        )
    )
    category_metrics = (
        product_metrics.group_by("category")
        .agg(
            products=pl.len().cast(pl.Int64),
            total_revenue=pl.col("total_revenue").sum(),
            total_orders=pl.col("total_orders").sum(),
            total_quantity=pl.col("total_quantity").sum(),
            avg_rating=pl.col("avg_rating").mean().round(3),
            revenue_last_30d=pl.col("revenue_last_30d").sum(),
            revenue_last_90d=pl.col("revenue_last_90d").sum(),
        )
        .with_columns(
            revenue_share_pct=(100 * pl.col("total_revenue") / pl.col("total_revenue").sum()),
            as_of_date=pl.lit(AS_OF),
        )
        .sort("category")
    )
    months = pl.date_range(date(2024, 1, 1), date(2026, 3, 1), "1mo", eager=True).alias("month")
    grid = everything.join(months.to_frame(), how="cross")
    keep = rng.uniform(0, 1, grid.height) > 0.1
    monthly = (
        grid.with_columns(
            revenue=np.round(rng.uniform(50, 8_000, grid.height), 2),
            quantity=rng.integers(1, 300, grid.height),
            orders=rng.integers(1, 200, grid.height),
            as_of_date=pl.lit(AS_OF),
        )
        .filter(pl.Series(keep))
        .select(
            "month",
            "product_id",
            "product_name",
            "category",
            "revenue",
            "quantity",
            "orders",
            "as_of_date",
        )
    )
    return {
        "product_decisions": decisions,
        "product_metrics": product_metrics,
        "category_metrics": category_metrics,
        "monthly_sales": monthly,
    }


@pytest.fixture(scope="session")
def frames() -> dict[str, pl.DataFrame]:
    """The test tables."""
    return build_frames()


@pytest.fixture
def asker(frames: dict[str, pl.DataFrame]) -> Asker:
    """A fresh engine over the test tables."""
    return Asker(frames=frames)


@pytest.fixture
def executed(asker: Asker, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The SQL the `asker` fixture runs from now on, recorded at its one execution path."""
    run = asker.execute
    seen: list[str] = []

    def record(sql: str) -> pl.DataFrame:
        seen.append(sql)
        return run(sql)

    monkeypatch.setattr(asker, "execute", record)
    return seen


@pytest.fixture(scope="session")
def lake(tmp_path_factory: pytest.TempPathFactory, frames: dict[str, pl.DataFrame]) -> Path:
    """The test tables written as Delta tables in the lake's layout, in a temporary folder."""
    from ecom_assets import tables

    root = tmp_path_factory.mktemp("lake")
    for name, frame in frames.items():
        frame.write_delta(tables.table_uri(name, str(root)))
    return root
