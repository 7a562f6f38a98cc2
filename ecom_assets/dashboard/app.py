"""The dashboard's entry point, for `streamlit run`: page frame, navigation and provenance.

Start it with `make dashboard` or `ecom dashboard` (see `ecom_assets.dashboard.launch`). Every
page reads the latest Delta tables of the lake named by `ECOM_LAKE_ROOT` (default `data/lake`).
"""

from pathlib import Path

import streamlit as st

from ecom_assets.dashboard import data, lake

VIEWS = Path(__file__).parent / "views"
PAGES = [
    ("overview.py", "Overview", "overview", ":material/dashboard:"),
    ("forecast.py", "Actual vs predicted", "actual-vs-predicted", ":material/query_stats:"),
    ("products.py", "Products", "products", ":material/inventory_2:"),
    ("categories.py", "Categories", "categories", ":material/category:"),
    ("model.py", "Model", "model", ":material/model_training:"),
    ("quality.py", "Data quality", "data-quality", ":material/rule:"),
    ("ask.py", "Ask", "ask", ":material/chat:"),
]


def provenance() -> None:
    """The sidebar's note of what the pages show: as-of date, model and table version."""
    st.sidebar.markdown("### ecom-assets")
    try:
        latest = lake.info("product_decisions")
        facts = data.provenance(lake.table("product_decisions"))
    except lake.TableUnavailable as error:
        if not error.rebuild:
            st.sidebar.warning("The lake's storage cannot be used.")
        else:
            st.sidebar.warning(
                "No decision table yet." if error.missing else "The decision table is unreadable."
            )
            st.sidebar.code(lake.BUILD_COMMAND, language="bash")
    else:
        as_of = ", ".join(str(day) for day in facts.as_of_dates) or "n/a"
        models = ", ".join(facts.model_versions) or "n/a"
        st.sidebar.markdown(f"**Data as of** {as_of}  \n**Model** {models}")
        st.sidebar.caption(
            f"product_decisions version {latest.version}, "
            f"written {latest.written_at:%Y-%m-%d %H:%M}"
        )
    st.sidebar.caption(f"Lake: `{lake.lake_root()}`")


st.set_page_config(page_title="ecom-assets dashboard", page_icon=":bar_chart:", layout="wide")
navigation = st.navigation(
    [
        st.Page(VIEWS / file, title=title, url_path=url, icon=icon, default=index == 0)
        for index, (file, title, url, icon) in enumerate(PAGES)
    ]
)
provenance()
navigation.run()
