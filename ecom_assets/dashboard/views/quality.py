"""Data quality: rejected order rows by reason with samples, and the latest asset checks."""

import streamlit as st

from ecom_assets.dashboard import charts, checks, lake, ui


def _rejected() -> None:
    counts, samples = lake.rejected_summary()
    total = int(counts["rows"].sum())
    st.subheader("Rejected order rows")
    if total == 0:
        st.success("No order row was rejected: every exported row is in silver/orders.")
        return
    st.metric("Rejected rows", f"{total:,}", help="Rows of the exports not in silver/orders")
    left, right = st.columns([3, 2])
    with left:
        st.altair_chart(charts.rejected_reasons(counts))
    with right:
        st.dataframe(
            counts,
            hide_index=True,
            column_config={
                "reason": "Reason",
                "rows": "Rows",
                "share_pct": st.column_config.NumberColumn("Share %", format="%.1f"),
            },
        )
    reason = st.selectbox("Sample rows of", counts["reason"].to_list(), key="quality_reason")
    sample = samples.filter(reason=reason).drop("reason")
    st.caption(
        f"The first {sample.height} rows rejected as `{reason}`, in file order; `field` is the "
        "export's column at fault, `raw_values` the whole original row."
    )
    st.dataframe(sample, hide_index=True)


def _asset_checks() -> None:
    st.subheader("Asset checks")
    home = checks.dagster_home()
    if home is None:
        st.info(
            "Set DAGSTER_HOME to the Dagster instance folder (the Makefile uses "
            "data/dagster_home) to see the latest asset-check results here."
        )
        return
    with st.spinner("Reading the Dagster instance"):
        results = checks.latest_check_results(home)
    if results.height == 0:
        st.info(f"No asset check has run in the Dagster instance at `{home}` yet.")
        return
    failed = results.filter(~results["passed"]).height
    st.metric("Checks failing", f"{failed} of {results.height}")
    st.dataframe(results, hide_index=True)


def render() -> None:
    try:
        _rejected()
    except lake.TableUnavailable as error:
        ui.not_built(error)
    _asset_checks()


ui.run_page("Data quality", render)
