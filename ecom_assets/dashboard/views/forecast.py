"""Actual vs predicted: last period against next period's forecast, per product and category."""

import streamlit as st

from ecom_assets.dashboard import charts, data, lake, ui

ALL = "All categories"


def render() -> None:
    decisions = lake.table("product_decisions")
    facts = data.provenance(decisions)
    horizon = facts.horizon_days[0] if facts.horizon_days else 0
    st.caption(
        f"Revenue in the last {horizon} days before {', '.join(map(str, facts.as_of_dates))} "
        f"against the forecast for the next {horizon} days, with its 80% interval."
    )
    categories = sorted(decisions["category"].unique().to_list())
    choice = st.selectbox("Category", [ALL, *categories], key="forecast_category")
    category = None if choice == ALL else choice
    rows = decisions if category is None else decisions.filter(category=category)

    st.subheader("Per product")
    st.altair_chart(charts.actual_vs_predicted(rows))
    st.caption("Points above the dashed line are expected to sell more than in the last period.")
    limit = st.slider("Products in the interval chart", 5, 50, 20, key="forecast_top")
    top = data.top_forecasts(decisions, limit, category)
    st.markdown(
        f"**Top {top.height} products by predicted revenue**: bar = forecast, line = "
        "80% interval, tick = last period"
    )
    st.altair_chart(charts.forecast_intervals(top))

    st.subheader("Per category")
    per_category = data.category_forecast(decisions)
    st.altair_chart(charts.category_comparison(per_category))
    st.dataframe(
        per_category,
        hide_index=True,
        column_config={
            "category": "Category",
            "products": "Products",
            "revenue_last_period": st.column_config.NumberColumn("Last period", format="%.0f"),
            "predicted_revenue": st.column_config.NumberColumn("Predicted", format="%.0f"),
            "predicted_change_pct": st.column_config.NumberColumn("Change %", format="%+.1f"),
        },
    )
    st.caption("Intervals are per product: they do not add up to an interval for a category.")


ui.run_page("Actual vs predicted", render)
