"""Ask: plain-English questions about the tables, answered with the SQL that was run."""

from typing import Any

import streamlit as st

from ecom_assets.dashboard import asking, charts, data, lake, ui

VISIBLE_SAMPLES = 8
HISTORY_LIMIT = 20


def _queue(question: str) -> None:
    st.session_state["ask_pending"] = question


def _asker(root: str) -> asking.Asker:
    """This session's engine; a new one when the lake or its tables' version changes."""
    latest = lake.info("product_decisions", root)
    key = (root, latest.version, latest.written_at)
    held = st.session_state.get("ask_engine")
    if held is None or held[0] != key:
        held = (key, asking.new_asker(root))
        st.session_state["ask_engine"] = held
    engine: asking.Asker = held[1]
    return engine


def _ask(engine: asking.Asker, question: str) -> dict[str, Any]:
    try:
        return {"question": question, "answer": engine.ask(question)}
    except Exception as error:
        return {"question": question, "error": f"{type(error).__name__}: {error}"}


def _samples(questions: list[str]) -> None:
    st.caption("Try one of these, or type your own question below.")
    with st.container(horizontal=True, gap="small"):
        for index, question in enumerate(questions[:VISIBLE_SAMPLES]):
            st.button(question, key=f"ask_sample_{index}", on_click=_queue, args=(question,))
    with st.expander("More example questions"):
        for index, question in enumerate(questions[VISIBLE_SAMPLES:], start=VISIBLE_SAMPLES):
            st.button(question, key=f"ask_sample_{index}", on_click=_queue, args=(question,))


def _show(exchange: dict[str, Any], number: int) -> None:
    st.chat_message("user").markdown(exchange["question"])
    with st.chat_message("assistant"):
        if "error" in exchange:
            st.error(f"The Ask engine failed on this question ({exchange['error']}).")
            return
        answer: asking.Answer = exchange["answer"]
        if not answer.understood:
            st.warning(answer.answer or "I did not understand that question.")
            for index, suggestion in enumerate(answer.suggestions):
                st.button(
                    suggestion,
                    key=f"ask_suggestion_{number}_{index}",
                    on_click=_queue,
                    args=(suggestion,),
                )
            return
        st.markdown(answer.answer)
        st.caption(f"Understood as: {answer.interpretation}")
        if answer.sql:
            st.code(answer.sql, language="sql")
        frame = data.answer_frame(answer.columns, answer.rows)
        floats = [name for name, dtype in frame.schema.items() if dtype.is_float()]
        st.dataframe(
            frame,
            hide_index=True,
            column_config={name: st.column_config.NumberColumn(format="%.2f") for name in floats},
        )
        st.caption(f"{frame.height:,} rows · from {answer.source}")
        spec = data.chart_for(frame, answer.sql or "")
        if spec is not None:
            st.altair_chart(charts.answer(frame, spec))


def render() -> None:
    root = lake.lake_root()
    questions = asking.sample_questions(lake.table("product_decisions"))
    try:
        engine = _asker(root)
    except lake.TableUnavailable:
        raise
    except Exception as error:
        st.error(f"The Ask engine could not start ({type(error).__name__}: {error}).")
        return
    typed = st.chat_input("Ask about products, categories, forecasts and actions", key="ask_input")
    question = typed or st.session_state.pop("ask_pending", None)
    history: list[dict[str, Any]] = st.session_state.setdefault("ask_history", [])
    if question:
        history.append(_ask(engine, question))
        del history[:-HISTORY_LIMIT]
    _samples(questions)
    for number, exchange in enumerate(history):
        _show(exchange, number)


ui.run_page("Ask", render)
