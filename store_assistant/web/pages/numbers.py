"""Managers' "Ask the numbers" page: a sales question in, the number, a table and a chart out.

The model (sql-semantic by default) only picks a metric, breakdowns, filters and a period from
the semantic layer; code writes and runs the SQL, read-only. Everything shown comes from the rows
the SQL returned: the sentence, the table, the chart (a time series as a line, a breakdown as
bars), the metric's versioned definition, and the SQL itself, with a CSV download.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from store_assistant.analytics.asking import NumbersAnswer, ask_numbers
from store_assistant.analytics.layer import TIME_DIMENSIONS, Layer, layer_for
from store_assistant.analytics.sales import ensure
from store_assistant.errors import StoreAssistantError
from store_assistant.files import spreadsheet_cell
from store_assistant.web.ui import cached_gateway, cached_settings, escape, require_manager

MODES = {"Semantic layer": "sql-semantic", "Model writes SQL (experimental)": "sql-raw"}
EXAMPLES = ("How many OLED TVs did Westside sell last month?",
            "Revenue by month for laptops this year",
            "Which 3 headphones had the highest return rate this quarter?",
            "Did the holiday deal lift Sony WH-1000XM5 sales?")


@st.cache_resource(show_spinner="Preparing the sales history (first start only)...")
def sales_database() -> Path:
    return ensure(cached_settings())


def numbers_page() -> None:
    st.title("Ask the numbers")
    try:
        database = sales_database()
        layer = layer_for(database)
    except StoreAssistantError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    first, last = layer.periods()["all"]
    st.caption(f"Sales, returns and promotions per store and SKU, {first:%b %-d, %Y} to "
               f"{last:%b %-d, %Y} (a generated history, consistent with the inventory). "
               f"\"Last month\" and \"this quarter\" are read from {layer.as_of:%b %-d, %Y}.")
    mode_label = st.segmented_control("How the question becomes SQL", list(MODES),
                                      default="Semantic layer", key="numbers_mode",
                                      help="Semantic layer: the model picks a defined metric and "
                                           "code writes the SQL. Model writes SQL: the model "
                                           "writes the query itself (measured as less "
                                           "accurate).") or "Semantic layer"
    picked = st.pills("Examples", EXAMPLES, key="numbers_example", label_visibility="collapsed")
    with st.form("numbers_form", border=False):
        question = st.text_input("Question", value=picked or "", max_chars=300,
                                 placeholder="e.g. revenue by store last quarter")
        asked = st.form_submit_button("Ask", icon=":material/query_stats:")
    if asked and question.strip():
        model = cached_settings().llm
        with st.spinner("Reading the question..."):
            try:
                st.session_state["numbers_answer"] = ask_numbers(
                    question, MODES[mode_label], cached_gateway(model), database, layer)
            except StoreAssistantError as exc:
                st.session_state.pop("numbers_answer", None)
                st.error(str(exc), icon=":material/error:")
    answer = st.session_state.get("numbers_answer")
    if answer is not None:
        show_answer(answer, layer)
    with st.expander("The metric catalog"):
        st.dataframe(pd.DataFrame([{"metric": m.name, "version": m.version, "unit": m.unit,
                                    "definition": m.description, "formula": m.formula}
                                   for m in layer.metrics.values()]), hide_index=True)


def show_answer(answer: NumbersAnswer, layer: Layer) -> None:
    st.markdown(f"**{escape(answer.question)}**")
    if answer.refusal:
        st.info(escape(answer.words), icon=":material/block:")
    elif answer.error:
        st.warning(escape(answer.words), icon=":material/warning:")
    else:
        st.success(escape(answer.words), icon=":material/check_circle:")
    who = answer.model if answer.path == "model" else "decided by code, no model asked"
    st.caption(f"{answer.mode} · {who} · {answer.latency_ms / 1000:.1f} s")
    if answer.result is not None and answer.result.rows:
        frame = pd.DataFrame(answer.result.rows, columns=answer.result.columns)
        if answer.result.truncated:
            st.caption(f"Only the first {len(frame)} rows are shown.")
        chart = chart_for(frame, answer)
        if chart is not None:
            st.altair_chart(chart, width="stretch")
        st.dataframe(frame, hide_index=True)
        st.download_button("Download CSV", csv_text(frame), file_name="numbers.csv",
                           mime="text/csv", icon=":material/download:")
    if answer.metric:
        st.markdown(f"**{escape(answer.metric.label)}** (metric `{answer.metric.name}`, "
                    f"version {answer.metric.version}): {escape(answer.metric.description)}")
    if answer.sql:
        st.code(answer.sql, language="sql", wrap_lines=True)


def chart_for(frame: pd.DataFrame, answer: NumbersAnswer) -> alt.Chart | None:
    """A line over time when the first column is a time breakdown, bars for another breakdown,
    nothing for a single number or a table the chart cannot read."""
    if len(frame.columns) < 2 or len(frame) < 2:
        return None
    label, value = frame.columns[0], frame.columns[-1]
    if not pd.api.types.is_numeric_dtype(frame[value]):
        return None
    over_time = answer.query is not None and answer.query.group_by[:1] and \
        answer.query.group_by[0] in TIME_DIMENSIONS
    colour = frame.columns[1] if len(frame.columns) == 3 else None
    base = alt.Chart(frame)
    if over_time:
        chart = base.mark_line(point=True).encode(x=alt.X(f"{label}:O", title=label),
                                                  y=alt.Y(f"{value}:Q", title=value))
    else:
        chart = base.mark_bar().encode(y=alt.Y(f"{label}:N", sort="-x", title=label),
                                       x=alt.X(f"{value}:Q", title=value))
    if colour:
        chart = chart.encode(color=alt.Color(f"{colour}:N"))
    return chart.properties(height=min(40 + 24 * len(frame), 420) if not over_time else 300)


def csv_text(frame: pd.DataFrame) -> str:
    """The table as CSV, each text cell safe to open in a spreadsheet (no formula runs)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([spreadsheet_cell(str(c)) for c in frame.columns])
    for row in frame.itertuples(index=False):
        writer.writerow([spreadsheet_cell(v) if isinstance(v, str) else v for v in row])
    return out.getvalue()


require_manager()
numbers_page()
