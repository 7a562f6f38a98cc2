"""Model: the backtest of the forecast model against the baselines, and where its run is."""

import streamlit as st

from ecom_assets.dashboard import charts, data, lake, ui

MLFLOW_COMMAND = "make mlflow"
MLFLOW_URL = "http://127.0.0.1:5000"


def render() -> None:
    revenue_model = lake.table("revenue_model")
    card = data.model_card(revenue_model)
    scores = data.model_scores(revenue_model)

    st.markdown(f"**The forecast is served by** {card.served_description or 'n/a'}")
    first, second, third, fourth = st.columns(4)
    first.metric("Served candidate", card.served_candidate or "n/a")
    second.metric("Registered version of this run", card.registered_version or "n/a")
    third.metric("Promoted to champion", "yes" if card.promoted else "no")
    fourth.metric("Best baseline", card.best_baseline or "n/a")

    st.subheader("Backtest")
    st.caption(
        "Every candidate scored on the same latest 90 days of cutoffs; the row that serves the "
        "forecast is marked. Read WAPE with bias: forecasting zero for sparse products lowers WAPE."
    )
    st.dataframe(
        scores,
        hide_index=True,
        column_config={
            "candidate": "Candidate",
            "kind": "Kind",
            "serves": st.column_config.CheckboxColumn("Serves"),
            "rmse": st.column_config.NumberColumn("RMSE", format="%.0f"),
            "mae": st.column_config.NumberColumn("MAE", format="%.0f"),
            "wape": st.column_config.NumberColumn("WAPE", format="%.3f"),
            "bias_pct": st.column_config.NumberColumn("Bias %", format="%+.1f"),
            "rank_corr": st.column_config.NumberColumn("Rank corr.", format="%.3f"),
            "bucket_agreement": st.column_config.NumberColumn("Bucket agreement", format="%.3f"),
        },
    )
    left, right = st.columns(2)
    with left:
        st.markdown("**WAPE** (lower is better)")
        st.altair_chart(charts.metric_bars(scores, "wape", "WAPE"))
    with right:
        st.markdown("**Bias %** (closer to zero is better)")
        st.altair_chart(charts.metric_bars(scores, "bias_pct", "Bias %"))

    st.subheader("In MLflow")
    st.markdown(
        f"MLflow run id: `{card.run_id or 'n/a'}` in the experiment `ecom-revenue-forecast`. "
        "The run holds the parameters, every candidate's metrics, the backtest plot and the "
        "feature-importance plot (permutation importance on the backtest)."
    )
    st.markdown(f"Open the MLflow UI with this command, then go to {MLFLOW_URL}:")
    st.code(MLFLOW_COMMAND, language="bash")


ui.run_page("Model", render)
