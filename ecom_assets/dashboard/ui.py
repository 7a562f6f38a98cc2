"""Rendering pieces every page shares: the page frame, the not-built message and number formats."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl
import streamlit as st

from ecom_assets.dashboard import lake

DECISION_COLUMNS_CONFIG = {
    "product_id": st.column_config.TextColumn("Product id"),
    "product_name": st.column_config.TextColumn("Product"),
    "category": st.column_config.TextColumn("Category"),
    "performance_bucket": st.column_config.TextColumn("Bucket"),
    "recommended_action": st.column_config.TextColumn("Action"),
    "predicted_revenue": st.column_config.NumberColumn("Predicted", format="%.0f"),
    "predicted_lower": st.column_config.NumberColumn("Interval from", format="%.0f"),
    "predicted_upper": st.column_config.NumberColumn("Interval to", format="%.0f"),
    "revenue_last_period": st.column_config.NumberColumn("Last period", format="%.0f"),
    "predicted_change_pct": st.column_config.NumberColumn("Change %", format="%+.1f"),
    "total_revenue": st.column_config.NumberColumn("Revenue to date", format="%.0f"),
    "total_orders": st.column_config.NumberColumn("Orders"),
    "total_quantity": st.column_config.NumberColumn("Units"),
    "avg_rating": st.column_config.NumberColumn("Rating", format="%.2f"),
    "action_reason": st.column_config.TextColumn("Why", width="large"),
}


def amount(value: float | None) -> str:
    """A money amount as the pages print it: whole units with thousands separators."""
    return "n/a" if value is None else f"{value:,.0f}"


def percent(value: float | None) -> str:
    """A signed percentage with one decimal, or a dash when there is none."""
    return "n/a" if value is None else f"{value:+.1f}%"


def not_built(error: lake.TableUnavailable) -> None:
    """Say which table is missing or unreadable and, when rebuilding fixes it, the command."""
    if error.missing:
        st.warning(
            f"The pipeline has not run yet: table `{error.name}` does not exist in "
            f"`{lake.lake_root()}`. Build the tables with this command in the repository, then "
            "reload the page:"
        )
    else:
        st.error(error.detail)
        if not error.rebuild:
            return
        st.markdown("Rebuild the tables with this command in the repository, then reload the page:")
    st.code(lake.BUILD_COMMAND, language="bash")


def run_page(title: str, render: Callable[[], None]) -> None:
    """Draw a page's title and body; a missing, half-written or unexpected table becomes a
    message with the command that builds it, never a stack trace."""
    st.title(title)
    try:
        render()
    except lake.TableUnavailable as error:
        not_built(error)
    except pl.exceptions.PolarsError as error:
        st.error(
            "The lake's tables do not have the columns this dashboard expects "
            f"({type(error).__name__}: {str(error).splitlines()[0]}). They may come from an older "
            "version of the pipeline."
        )
        st.code(lake.BUILD_COMMAND, language="bash")
