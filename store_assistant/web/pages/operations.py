"""Managers' operations page: how the assistant did on the shop floor, from the answer log.

Questions per day, p95 latency, error and fallback rates, guard corrections and the 👎 rate, by
strategy; then the 👎 answers staff corrected, exported as candidate golden cases and fine-tuning
seeds. The exports are drafts for a person to review: nothing here changes the evaluation or the
training data by itself.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pandas as pd
import streamlit as st

from store_assistant.store.answer_log import candidate_cases, candidate_seeds, corrections
from store_assistant.web.figures import by_day, by_strategy, frame
from store_assistant.web.ui import answer_log_here, require_manager

PERIODS = {"Last 7 days": 7, "Last 30 days": 30, "Everything kept": None}


def operations_page() -> None:
    st.title("Operations")
    log = answer_log_here()
    period = st.segmented_control("Period", list(PERIODS), default="Last 7 days",
                                  key="operations_period") or "Last 7 days"
    days = PERIODS[period]
    today = datetime.now(timezone.utc).date()
    answers, unreadable = log.read(since=today - timedelta(days=days - 1) if days else None)
    st.caption(f"From the answer log in `{log.folder}` (kept {log.keep_days} days).")
    if unreadable:
        st.warning(f"{unreadable} line(s) of the log could not be read (cut short or edited by "
                   f"hand) and are left out.", icon=":material/warning:")
    if not answers:
        st.info("No answers logged in this period yet. Every answer given on the Chat page is "
                "logged here.", icon=":material/info:")
        return
    df = frame(answers)
    overall = by_strategy(df.assign(strategy="all")).iloc[0]
    cells = st.columns(5)
    cells[0].metric("Questions", f"{int(overall['questions']):,}")
    cells[1].metric("p95 latency", _seconds(overall["p95_s"]))
    cells[2].metric("Errors", _percent(overall["error_rate"]))
    cells[3].metric("Fallbacks", _percent(overall["fallback_rate"]))
    cells[4].metric("Thumbs down", _percent(overall["thumbs_down_rate"]),
                    help=f"of the {int(overall['rated'])} answers staff rated")

    daily = by_day(df)
    left, right = st.columns(2)
    with left:
        st.subheader("Questions per day")
        st.bar_chart(_pivot(daily, "questions"))
        st.subheader("Error and fallback rate per day")
        per_day = df.groupby("day")[["failed", "fallback"]].mean()  # over all questions of the day
        st.bar_chart(per_day.rename(columns={"failed": "errors", "fallback": "fallbacks"}),
                     stack=False)
    with right:
        st.subheader("p95 latency per day (s)")
        st.bar_chart(_pivot(daily, "p95_s"), stack=False)  # bars: one day is still visible
        st.subheader("Guard corrections per day")
        st.bar_chart(_pivot(daily, "guard_corrections"))

    st.subheader("By strategy")
    table = by_strategy(df)
    st.dataframe(table.assign(
        p50_s=table["p50_s"].map(_seconds), p95_s=table["p95_s"].map(_seconds),
        error_rate=table["error_rate"].map(_percent),
        fallback_rate=table["fallback_rate"].map(_percent),
        thumbs_down_rate=table["thumbs_down_rate"].map(_percent)),
        hide_index=True, use_container_width=True,
        column_config={"p50_s": "p50", "p95_s": "p95", "error_rate": "errors",
                       "fallback_rate": "fallbacks", "guard_corrections": "guard corrections",
                       "thumbs_down_rate": "thumbs down (of rated)"})
    _corrections(answers)


def _corrections(answers: list[dict]) -> None:
    st.subheader("Staff corrections")
    fixed = corrections(answers)
    if not fixed:
        st.caption("No 👎 answers with a correction in this period.")
        return
    st.dataframe(pd.DataFrame([{"time": a["time"][:16].replace("T", " "), "strategy": a["strategy"],
                                "question": a["question"], "answer": a["answer"],
                                "correction": a["correction"]} for a in fixed]),
                 hide_index=True, use_container_width=True)
    st.caption("Export them as drafts. Review each against the inventory and manuals before it "
               "becomes a golden case (eval/cases/) or a fine-tuning seed (finetune_data/).")
    stamp = date.today().strftime("%Y%m%d")
    left, right = st.columns(2)
    left.download_button("Candidate eval cases (YAML)", candidate_cases(answers),
                         file_name=f"feedback-cases-{stamp}.yaml", mime="application/x-yaml",
                         icon=":material/download:")
    right.download_button("Candidate fine-tuning seeds (qna.yaml)", candidate_seeds(answers),
                          file_name=f"feedback-seeds-{stamp}.yaml", mime="application/x-yaml",
                          icon=":material/download:")


def _pivot(daily: pd.DataFrame, column: str) -> pd.DataFrame:
    return daily.pivot_table(index="day", columns="strategy", values=column, aggfunc="sum")


def _seconds(value) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:.1f} s"


def _percent(value) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:.0%}"


require_manager()
operations_page()
