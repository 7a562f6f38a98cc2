"""The Ask page's link to the question-answering engine, and the sample questions it offers.

The page talks to `ecom_assets.ask.Asker` through the small protocol below. `asker_factory` is
a hook for tests that need an engine which answers without the lake; it is None in use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, Protocol

import polars as pl

QUESTION_TEMPLATES = (
    "Top 5 products by predicted revenue",
    "Which products require discount or optimization?",
    "How many products are in the High bucket?",
    "Total predicted revenue by category",
    "Show Low performing products in {category}",
    "Compare actual and predicted revenue for {product}",
    "Monthly revenue for {category} in {year}",
    "Number of products per recommended action",
    "Bottom 10 products by total revenue",
    "Which category has the highest average rating?",
    "What is the average rating of products that need a discount?",
    "Products with predicted revenue above 50000",
    "Which products are predicted to grow the most?",
    "Which products are predicted to decline?",
    "Top 3 categories by total quantity sold",
    "High performing products with a rating below 3.5",
    "How many orders did {category} have?",
    "What should we do about {product}?",
    "Which products should we increase inventory for?",
    "The 5 products with the largest drop from last period to predicted revenue",
    "top five best sellers",
)


class Answer(Protocol):
    """What the engine returns for one question."""

    @property
    def question(self) -> str: ...
    @property
    def interpretation(self) -> str: ...
    @property
    def sql(self) -> str | None: ...
    @property
    def columns(self) -> Sequence[str]: ...
    @property
    def rows(self) -> Any: ...
    @property
    def answer(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def understood(self) -> bool: ...
    @property
    def suggestions(self) -> Sequence[str]: ...


class Asker(Protocol):
    """An engine that answers plain-English questions about the lake's tables."""

    def ask(self, question: str) -> Answer: ...


asker_factory: Callable[[str], Asker] | None = None


def new_asker(lake_root: str) -> Asker:
    """The engine for a lake: `ecom_assets.ask.Asker`, unless a test set `asker_factory`."""
    if asker_factory is not None:
        return asker_factory(lake_root)
    from ecom_assets.ask import Asker as Engine

    engine: Asker = Engine(lake_root)
    return engine


def sample_questions(decisions: pl.DataFrame) -> list[str]:
    """The example questions, filled with the lake's top category and product and its year."""
    categories = (
        decisions.group_by("category")
        .agg(pl.col("predicted_revenue").sum())
        .sort(["predicted_revenue", "category"], descending=[True, False], nulls_last=True)
    )
    products = decisions.sort(
        ["predicted_revenue", "product_id"], descending=[True, False], nulls_last=True
    )
    as_of = decisions["as_of_date"].max()
    return [
        template.format(
            category=categories["category"][0] if categories.height else "Electronics",
            product=products["product_name"][0] if products.height else "a product",
            year=as_of.year if isinstance(as_of, date) else "2026",
        )
        for template in QUESTION_TEMPLATES
    ]
