"""Categories: revenue, share of revenue, orders, rating and the forecast of each category."""

import streamlit as st

from ecom_assets.dashboard import charts, data, lake, ui


def render() -> None:
    performance = data.category_performance(
        lake.table("category_metrics"), lake.table("product_decisions")
    )
    if performance.height == 0:
        st.info("The category table has no rows.")
        return
    leader = performance.row(0, named=True)
    first, second, third = st.columns(3)
    first.metric("Categories", f"{performance.height:,}")
    second.metric("Largest category", leader["category"], help="By revenue to date")
    third.metric("Its share of revenue", f"{leader['revenue_share_pct']:.1f}%")

    left, right = st.columns(2)
    with left:
        st.subheader("Share of revenue to date")
        st.altair_chart(charts.revenue_share(performance))
    with right:
        st.subheader("Last period and next period")
        forecast = performance.select(
            "category",
            performance["revenue_last_period"].fill_null(0.0),
            performance["predicted_revenue"].fill_null(0.0),
        )
        st.altair_chart(charts.category_comparison(forecast))

    st.subheader("Category performance")
    st.dataframe(
        performance,
        hide_index=True,
        column_config={
            "category": "Category",
            "products": st.column_config.NumberColumn("Products sold"),
            "total_revenue": st.column_config.NumberColumn("Revenue to date", format="%.0f"),
            "total_orders": "Orders",
            "total_quantity": "Units",
            "avg_rating": st.column_config.NumberColumn("Rating", format="%.2f"),
            "revenue_last_30d": st.column_config.NumberColumn("Last 30 days", format="%.0f"),
            "revenue_last_90d": st.column_config.NumberColumn("Last 90 days", format="%.0f"),
            "revenue_share_pct": st.column_config.NumberColumn("Share %", format="%.1f"),
            "products_forecast": st.column_config.NumberColumn("Products forecast"),
            "revenue_last_period": st.column_config.NumberColumn("Last period", format="%.0f"),
            "predicted_revenue": st.column_config.NumberColumn("Predicted", format="%.0f"),
            "predicted_change_pct": st.column_config.NumberColumn("Change %", format="%+.1f"),
        },
    )
    total = float(performance["total_revenue"].sum())
    st.caption(f"Revenue to date over all categories: {ui.amount(total)}")


ui.run_page("Categories", render)
