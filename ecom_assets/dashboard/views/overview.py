"""Overview: revenue to date, next period's forecast, buckets, actions and the revenue trend."""

import streamlit as st

from ecom_assets.dashboard import charts, data, lake, ui
from ecom_assets.transforms.decisions import ACTIONS


def render() -> None:
    decisions = lake.table("product_decisions")
    products = lake.table("product_metrics")
    monthly = lake.table("monthly_sales")
    facts = data.provenance(decisions)
    numbers = data.kpis(decisions, products)
    horizon = facts.horizon_days[0] if facts.horizon_days else 0
    as_of = facts.as_of_dates[-1] if facts.as_of_dates else None

    st.caption(
        f"As of {as_of or 'n/a'} · model {', '.join(facts.model_versions) or 'n/a'} · "
        f"forecast horizon {horizon} days"
    )
    first, second, third, fourth = st.columns(4)
    first.metric("Revenue to date", ui.amount(numbers.revenue_to_date))
    second.metric(
        f"Predicted revenue, next {horizon} days",
        ui.amount(numbers.predicted_revenue),
        delta=ui.percent(numbers.predicted_change_pct),
        help=f"Against {ui.amount(numbers.revenue_last_period)} in the last {horizon} days",
    )
    third.metric(f"Revenue, last {horizon} days", ui.amount(numbers.revenue_last_period))
    fourth.metric(
        "Products forecast",
        f"{numbers.products_forecast:,}",
        help=f"Active products with a forecast, of {numbers.products_total:,} sold to date",
    )

    buckets = data.count_by(decisions, "performance_bucket", data.BUCKETS)
    actions = data.count_by(decisions, "recommended_action", ACTIONS)
    left, right = st.columns(2)
    with left:
        st.subheader("Products per bucket")
        for column, (bucket, count) in zip(st.columns(3), buckets.iter_rows(), strict=False):
            column.metric(f"{bucket} bucket", f"{count:,}")
        st.altair_chart(charts.counts(buckets, "performance_bucket", "Bucket", bucket_colours=True))
    with right:
        st.subheader("Products per action")
        st.altair_chart(charts.counts(actions, "recommended_action", "Action"))

    st.subheader("Revenue per month")
    trend = data.revenue_trend(monthly)
    partial = None
    if as_of is not None and trend.height and data.is_partial_month(trend["month"][-1], as_of):
        partial = trend["month"][-1]
        st.caption(f"The last month runs to {as_of} only (hollow point).")
    st.altair_chart(charts.revenue_trend(trend, partial))


ui.run_page("Overview", render)
