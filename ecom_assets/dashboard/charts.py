"""Altair chart specifications for the dashboard's pages: frames in, charts out, no I/O."""

from __future__ import annotations

from datetime import date

import altair as alt
import polars as pl

from ecom_assets.dashboard.data import BUCKETS, ChartSpec

BUCKET_COLOURS = ("#2e7d32", "#f9a825", "#c62828")
AMOUNT = ",.0f"
PRODUCT_CHART_COLUMNS = (
    "product_name",
    "category",
    "performance_bucket",
    "recommended_action",
    "revenue_last_period",
    "predicted_revenue",
    "predicted_lower",
    "predicted_upper",
)


def _bucket_colour() -> alt.Color:
    return alt.Color(
        "performance_bucket:N",
        title="Bucket",
        scale=alt.Scale(domain=list(BUCKETS), range=list(BUCKET_COLOURS)),
    )


def revenue_trend(trend: pl.DataFrame, partial_month: date | None) -> alt.LayerChart:
    """Monthly revenue as a line; a month still in progress is drawn as a hollow point."""
    frame = trend.with_columns(
        (pl.col("month") == partial_month).alias("month_to_date")
        if partial_month
        else pl.lit(False).alias("month_to_date")
    )
    base = alt.Chart(frame).encode(
        x=alt.X("month:T", title="Month"),
        y=alt.Y("revenue:Q", title="Revenue", axis=alt.Axis(format="~s")),
        tooltip=[
            alt.Tooltip("month:T", format="%B %Y"),
            alt.Tooltip("revenue:Q", format=AMOUNT),
            alt.Tooltip("month_to_date:N", title="month to date"),
        ],
    )
    points = base.mark_point(size=50, filled=True).encode(
        fill=alt.condition("datum.month_to_date", alt.value("white"), alt.value("#4c78a8"))
    )
    return alt.LayerChart(layer=[base.mark_line(), points], height=320)


def counts(frame: pl.DataFrame, column: str, title: str, bucket_colours: bool = False) -> alt.Chart:
    """Horizontal bars of products per value, in the frame's order."""
    colour = _bucket_colour() if bucket_colours else alt.value("#4c78a8")
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("products:Q", title="Products"),
            y=alt.Y(
                f"{column}:N",
                title=None,
                sort=frame[column].to_list(),
                axis=alt.Axis(labelLimit=220),
            ),
            color=colour,
            tooltip=[alt.Tooltip(f"{column}:N", title=title), "products:Q"],
        )
        .properties(height=alt.Step(32))
    )


def actual_vs_predicted(decisions: pl.DataFrame) -> alt.LayerChart:
    """Scatter of last-period against predicted revenue per product, with the line y = x, on
    square-root scales so that small products stay visible next to the largest."""
    largest = decisions.select(
        pl.max_horizontal(pl.col("revenue_last_period").max(), pl.col("predicted_revenue").max())
    ).item()
    top = max(float(largest or 0.0), 1.0)
    scale = alt.Scale(type="sqrt", domain=[0, top], nice=False, clamp=True)
    points = (
        alt.Chart(decisions.select(PRODUCT_CHART_COLUMNS))
        .mark_circle(size=60, opacity=0.75)
        .encode(
            x=alt.X("revenue_last_period:Q", title="Revenue, last period", scale=scale),
            y=alt.Y("predicted_revenue:Q", title="Predicted revenue, next period", scale=scale),
            color=_bucket_colour(),
            tooltip=[
                "product_name:N",
                "category:N",
                alt.Tooltip("revenue_last_period:Q", format=AMOUNT, title="last period"),
                alt.Tooltip("predicted_revenue:Q", format=AMOUNT, title="predicted"),
                alt.Tooltip("predicted_lower:Q", format=AMOUNT, title="interval from"),
                alt.Tooltip("predicted_upper:Q", format=AMOUNT, title="interval to"),
                "recommended_action:N",
            ],
        )
    )
    diagonal = (
        alt.Chart(pl.DataFrame({"x": [0.0, top], "y": [0.0, top]}))
        .mark_line(strokeDash=[4, 4], color="grey")
        .encode(x="x:Q", y="y:Q")
    )
    return alt.LayerChart(layer=[diagonal, points], height=420)


def forecast_intervals(top: pl.DataFrame) -> alt.LayerChart:
    """Predicted revenue per product as bars with their interval, and the last period as a tick."""
    top = top.select(PRODUCT_CHART_COLUMNS)
    order = top["product_name"].to_list()
    y = alt.Y("product_name:N", title=None, sort=order)
    bars = (
        alt.Chart(top)
        .mark_bar(opacity=0.8)
        .encode(
            x=alt.X("predicted_revenue:Q", title="Revenue"),
            y=y,
            color=_bucket_colour(),
            tooltip=[
                "product_name:N",
                alt.Tooltip("predicted_revenue:Q", format=AMOUNT, title="predicted"),
                alt.Tooltip("predicted_lower:Q", format=AMOUNT, title="interval from"),
                alt.Tooltip("predicted_upper:Q", format=AMOUNT, title="interval to"),
                alt.Tooltip("revenue_last_period:Q", format=AMOUNT, title="last period"),
            ],
        )
    )
    whiskers = (
        alt.Chart(top)
        .mark_rule(color="black")
        .encode(x="predicted_lower:Q", x2="predicted_upper:Q", y=y)
    )
    last = (
        alt.Chart(top).mark_tick(color="black", thickness=3).encode(x="revenue_last_period:Q", y=y)
    )
    return alt.LayerChart(layer=[bars, whiskers, last], height=max(160, 24 * top.height))


def category_comparison(per_category: pl.DataFrame) -> alt.Chart:
    """Grouped bars of last-period and predicted revenue per category."""
    long = per_category.unpivot(
        on=["revenue_last_period", "predicted_revenue"],
        index="category",
        variable_name="period",
        value_name="revenue",
    ).with_columns(
        pl.col("period").replace_strict(
            {"revenue_last_period": "last period", "predicted_revenue": "predicted"}
        )
    )
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("category:N", title=None, sort=per_category["category"].to_list()),
            xOffset=alt.XOffset("period:N", sort=["last period", "predicted"]),
            y=alt.Y("revenue:Q", title="Revenue"),
            color=alt.Color("period:N", title=None, sort=["last period", "predicted"]),
            tooltip=["category:N", "period:N", alt.Tooltip("revenue:Q", format=AMOUNT)],
        )
        .properties(height=340)
    )


def product_history(
    history: pl.DataFrame,
    forecast_at: date,
    predicted: float,
    lower: float,
    upper: float,
) -> alt.LayerChart:
    """A product's monthly revenue and its forecast (a diamond with its interval)."""
    x = alt.X("month:T", title=None, scale=alt.Scale(padding=24))
    line = (
        alt.Chart(history)
        .mark_line(point=True)
        .encode(
            x=x,
            y=alt.Y("revenue:Q", title="Revenue"),
            tooltip=[
                alt.Tooltip("month:T", format="%B %Y"),
                alt.Tooltip("revenue:Q", format=AMOUNT),
            ],
        )
    )
    forecast = pl.DataFrame(
        {"month": [forecast_at], "revenue": [predicted], "lower": [lower], "upper": [upper]}
    )
    interval = (
        alt.Chart(forecast)
        .mark_rule(color="#c62828", strokeWidth=3, opacity=0.5)
        .encode(x=x, y="lower:Q", y2="upper:Q")
    )
    point = (
        alt.Chart(forecast)
        .mark_point(color="#c62828", filled=True, size=160, shape="diamond", opacity=1)
        .encode(
            x=x,
            y="revenue:Q",
            tooltip=[
                alt.Tooltip("revenue:Q", format=AMOUNT, title="predicted, next period"),
                alt.Tooltip("lower:Q", format=AMOUNT, title="interval from"),
                alt.Tooltip("upper:Q", format=AMOUNT, title="interval to"),
            ],
        )
    )
    return alt.LayerChart(layer=[line, interval, point], height=300)


def revenue_share(performance: pl.DataFrame) -> alt.Chart:
    """Bars of each category's share of revenue to date."""
    return (
        alt.Chart(performance)
        .mark_bar()
        .encode(
            x=alt.X("revenue_share_pct:Q", title="Share of revenue to date (%)"),
            y=alt.Y("category:N", title=None, sort=performance["category"].to_list()),
            tooltip=[
                "category:N",
                alt.Tooltip("revenue_share_pct:Q", format=".1f", title="share %"),
                alt.Tooltip("total_revenue:Q", format=AMOUNT, title="revenue"),
            ],
        )
        .properties(height=max(160, 30 * performance.height))
    )


def metric_bars(scores: pl.DataFrame, metric: str, title: str) -> alt.Chart:
    """One backtest metric per candidate; what serves the forecast is highlighted."""
    return (
        alt.Chart(scores)
        .mark_bar()
        .encode(
            x=alt.X("candidate:N", title=None, sort=scores["candidate"].to_list()),
            y=alt.Y(f"{metric}:Q", title=title),
            color=alt.condition("datum.serves", alt.value("#c62828"), alt.value("#4c78a8")),
            tooltip=["candidate:N", "kind:N", alt.Tooltip(f"{metric}:Q", format=".3f")],
        )
        .properties(height=280)
    )


def rejected_reasons(counts_by_reason: pl.DataFrame) -> alt.Chart:
    """Horizontal bars of rejected rows per reason."""
    return (
        alt.Chart(counts_by_reason)
        .mark_bar(color="#c62828")
        .encode(
            x=alt.X("rows:Q", title="Rejected rows"),
            y=alt.Y("reason:N", title=None, sort=counts_by_reason["reason"].to_list()),
            tooltip=["reason:N", "rows:Q", alt.Tooltip("share_pct:Q", format=".1f")],
        )
        .properties(height=max(120, 30 * counts_by_reason.height))
    )


def answer(frame: pl.DataFrame, spec: ChartSpec) -> alt.Chart:
    """The chart `chart_for` chose for an answer's result."""
    if spec.kind == "line":
        x_type = "T" if frame.schema[spec.x].is_temporal() else "O"
        return (
            alt.Chart(frame)
            .mark_line(point=True)
            .encode(
                x=alt.X(f"{spec.x}:{x_type}", title=spec.x),
                y=alt.Y(f"{spec.y}:Q", title=spec.y),
                tooltip=list(frame.columns),
            )
            .properties(height=300)
        )
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X(f"{spec.y}:Q", title=spec.y),
            y=alt.Y(
                f"{spec.x}:N",
                title=None,
                sort=frame[spec.x].to_list(),
                axis=alt.Axis(labelLimit=220),
            ),
            tooltip=list(frame.columns),
        )
        .properties(height=alt.Step(28))
    )
