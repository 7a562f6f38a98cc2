"""Products: the decision table, filtered, sorted and downloadable, and one product in detail."""

import polars as pl
import streamlit as st

from ecom_assets.dashboard import charts, data, lake, ui
from ecom_assets.transforms.decisions import ACTIONS

TABLE_COLUMNS = [
    "product_name",
    "category",
    "performance_bucket",
    "recommended_action",
    "predicted_revenue",
    "predicted_lower",
    "predicted_upper",
    "revenue_last_period",
    "predicted_change_pct",
    "total_revenue",
    "total_orders",
    "avg_rating",
    "action_reason",
    "product_id",
]
SORT_LABELS = {
    "predicted_revenue": "Predicted revenue",
    "predicted_change_pct": "Predicted change %",
    "revenue_last_period": "Revenue, last period",
    "total_revenue": "Revenue to date",
    "total_orders": "Orders",
    "total_quantity": "Units",
    "avg_rating": "Rating",
    "product_name": "Product name",
    "category": "Category",
}


def _present(values: list[str], order: tuple[str, ...]) -> list[str]:
    return [v for v in order if v in values] + sorted(v for v in values if v not in order)


def _filtered(decisions: pl.DataFrame) -> pl.DataFrame:
    bucket, category, action, search = st.columns([2, 3, 3, 3])
    buckets = bucket.multiselect(
        "Bucket",
        _present(decisions["performance_bucket"].unique().to_list(), data.BUCKETS),
        key="products_bucket",
    )
    categories = category.multiselect(
        "Category", sorted(decisions["category"].unique().to_list()), key="products_category"
    )
    actions = action.multiselect(
        "Recommended action",
        _present(decisions["recommended_action"].unique().to_list(), ACTIONS),
        key="products_action",
    )
    text = search.text_input("Search products", placeholder="name or id", key="products_search")
    return data.filter_decisions(decisions, buckets, categories, actions, text)


def _sorted(rows: pl.DataFrame) -> pl.DataFrame:
    by, direction, _ = st.columns([3, 2, 6], vertical_alignment="bottom")
    column = by.selectbox(
        "Sort by",
        list(data.SORTABLE_COLUMNS),
        format_func=SORT_LABELS.__getitem__,
        key="products_sort",
    )
    descending = direction.toggle("Highest first", value=True, key="products_descending")
    return data.sort_decisions(rows, column, descending)


def _detail(rows: pl.DataFrame, monthly: pl.DataFrame) -> None:
    st.subheader("Product detail")
    if rows.height == 0:
        st.info("No product matches the filters.")
        return
    names = dict(zip(rows["product_id"], rows["product_name"], strict=True))
    product_id = st.selectbox(
        "Product", list(names), format_func=lambda p: f"{names[p]} ({p})", key="products_detail"
    )
    product = rows.filter(product_id=product_id).row(0, named=True)
    first, second, third, fourth, fifth = st.columns(5)
    first.metric(
        f"Predicted, next {product['horizon_days']} days",
        ui.amount(product["predicted_revenue"]),
        help=f"80% interval {ui.amount(product['predicted_lower'])} to "
        f"{ui.amount(product['predicted_upper'])}",
    )
    second.metric(
        "Interval",
        f"{ui.amount(product['predicted_lower'])} to {ui.amount(product['predicted_upper'])}",
    )
    third.metric("Last period", ui.amount(product["revenue_last_period"]))
    fourth.metric("Predicted change", ui.percent(product["predicted_change_pct"]))
    fifth.metric("Bucket", product["performance_bucket"])
    action = str(product["recommended_action"] or "no action").capitalize()
    st.info(f"**{action}.** {product['action_reason'] or ''}")
    st.caption(
        f"{product['category']} · revenue to date {ui.amount(product['total_revenue'])} · "
        f"{product['total_orders']:,} orders · rating {product['avg_rating'] or 'n/a'} · "
        f"model {product['model_version']}"
    )
    history = data.product_history(monthly, product_id)
    st.altair_chart(
        charts.product_history(
            history,
            data.forecast_midpoint(product["as_of_date"], product["horizon_days"]),
            product["predicted_revenue"],
            product["predicted_lower"],
            product["predicted_upper"],
        )
    )
    st.caption(
        "Monthly revenue; the diamond is the forecast for the next period, with its "
        "80% interval, drawn at the middle of that period."
    )
    with st.expander("Monthly history"):
        st.dataframe(history, hide_index=True)


def render() -> None:
    decisions = lake.table("product_decisions")
    monthly = lake.table("monthly_sales")
    rows = _sorted(_filtered(decisions))
    st.caption(f"{rows.height:,} of {decisions.height:,} products")
    st.dataframe(
        rows.select(TABLE_COLUMNS), hide_index=True, column_config=ui.DECISION_COLUMNS_CONFIG
    )
    st.download_button(
        "Download these rows as CSV",
        data.to_csv(rows),
        file_name="product_decisions.csv",
        mime="text/csv",
        key="products_download",
    )
    _detail(rows, monthly)


ui.run_page("Products", render)
