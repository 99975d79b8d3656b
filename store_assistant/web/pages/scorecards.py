"""Managers' scorecards page: pick an evaluation run, compare its arms, read every answer.

Every number comes from `scorecard()` on the run's results restricted to the chosen arms, so the
page, its downloads and the files `store-assistant eval` writes never disagree; the page only adds
charts and the per-question drill-down from answers.jsonl. Answers are model output, so they and
the questions are shown through `escape()`. A run folder that cannot be read is reported by name.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from store_assistant.errors import DataError
from store_assistant.evaluation import runner as evaluation
from store_assistant.evaluation.agreement import summary
from store_assistant.evaluation.report import (freshness_table, inference_table, main_table,
                                               pick_text, taught_table, to_csv, to_html,
                                               to_markdown)
from store_assistant.evaluation.runner import baseline_name, load_baseline
from store_assistant.evaluation.scorecard import scorecard
from store_assistant.files import spreadsheet_cell
from store_assistant.web.ui import escape, require_manager

# Not a STORE_ASSISTANT_* name: the settings loader rejects unknown variables with that prefix,
# and only tests and demos point the page at another folder.
RUNS_ENV = "EVAL_RUNS_DIR"
_PARTS = ("run", "arms", "metrics", "cases", "scores", "failures", "perf")
_RUN_PARTS = ("id", "arms", "cases", "model", "as_of")
OUTCOMES = ("all", "win", "loss", "tie")
SHARE = alt.Scale(domain=[0, 1])
BLUE = "#1f6feb"


def runs_dir() -> Path:
    return Path(os.environ.get(RUNS_ENV, evaluation.RUNS_DIR))


# --- reading runs ----------------------------------------------------------------------------
# The cached readers take the file's mtime only as part of the cache key: a re-written run is
# read again, an unchanged one is not re-parsed on every click.

def run_folders(folder: Path) -> list[Path]:
    """Finished runs, newest first (ids start with the start time); '.run-*' are unfinished."""
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")),
                  key=lambda p: p.name, reverse=True)


def _stamp(path: Path) -> float:
    return path.stat().st_mtime if path.exists() else 0.0


@st.cache_data(show_spinner=False, max_entries=64)
def _parsed(path: str, mtime: float, lines: bool = False) -> Any:
    """results.json (a dict with every part the scorecard reads) or answers.jsonl (lines)."""
    fix = f"Re-run `store-assistant eval`, or delete the folder {Path(path).parent.name}."
    try:
        text = Path(path).read_text(encoding="utf-8")
        data = [json.loads(line) for line in text.splitlines() if line.strip()] if lines \
            else json.loads(text)
    except FileNotFoundError:
        raise DataError(f"{path} is missing: the run did not finish. {fix}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not valid JSON ({exc}). {fix}") from None
    if lines:
        return data
    missing = [k for k in _PARTS if k not in data] if isinstance(data, dict) else list(_PARTS)
    if not missing and isinstance(data["run"], dict):
        missing = [f"run.{k}" for k in _RUN_PARTS if k not in data["run"]]
    if missing:
        raise DataError(f"{path} has no {', '.join(missing)}: it was not written by this version "
                        f"of `store-assistant eval`. {fix}")
    return data


def load_results(folder: Path) -> dict:
    return _parsed(str(folder / "results.json"), _stamp(folder / "results.json"))


def load_answers(folder: Path) -> list[dict]:
    return _parsed(str(folder / "answers.jsonl"), _stamp(folder / "answers.jsonl"), lines=True)


def run_label(folder: Path) -> str:
    """'2026-12-01 09:00 · pe-zero-shot, rag-hybrid · 40 cases · tag gate · <run id>'"""
    try:
        run = load_results(folder)["run"]
    except DataError:
        return f"{folder.name} · cannot be read"
    tags = f" · tag {','.join(run['tags'])}" if run.get("tags") else ""
    return (f"{str(run.get('started', ''))[:16].replace('T', ' ')} · {', '.join(run['arms'])} · "
            f"{run['cases']} cases{tags} · {run['id']}")


def restrict(results: dict, arms: list[str]) -> dict:
    """The results as if only `arms` had run: what the page's scorecard is computed on."""
    def keep(per_arm: dict) -> dict:
        return {arm: per_arm[arm] for arm in arms if arm in per_arm}

    out = dict(results, arms=list(arms), scores=keep(results["scores"]),
               failures=keep(results["failures"]), perf=keep(results["perf"]),
               run=dict(results["run"], arms=list(arms)))
    if results.get("freshness"):
        fresh = results["freshness"]
        out["freshness"] = dict(fresh, rows=[r for r in fresh["rows"] if r["arm"] in arms],
                                followed=keep(fresh.get("followed", {})))
    return out


def card_for(folder: Path, arms: list[str]) -> tuple[dict, bool]:
    """(scorecard, whether a committed baseline was found) for these arms of one run; computed
    again when the run's results or its baseline file change."""
    path = folder / "results.json"
    baseline = evaluation.BASELINES_DIR / f"{baseline_name(load_results(folder)['run'])}.json"
    return _card(str(path), _stamp(path), tuple(arms), _stamp(baseline))


@st.cache_data(show_spinner="Computing the scorecard...", max_entries=32)
def _card(path: str, mtime: float, arms: tuple[str, ...],
          baseline_mtime: float) -> tuple[dict, bool]:
    results = restrict(_parsed(path, mtime), list(arms))
    baseline = load_baseline(None, results)
    return scorecard(results, baseline), baseline is not None


def outcome(results: dict, arm: str, other: str, case_id: str) -> str | None:
    """'win' if `arm` was more correct than `other` here, 'loss', 'tie'; None if unscored."""
    a = results["scores"].get(arm, {}).get(case_id, {}).get("correct")
    b = results["scores"].get(other, {}).get(case_id, {}).get("correct")
    if a is None or b is None:
        return None
    return "win" if a > b + 1e-9 else "loss" if a < b - 1e-9 else "tie"


def shown(score: dict | None) -> str:
    """A metric's value as a cell: True -> 'yes', 0.5 -> '0.500', None -> 'n/a'."""
    value = (score or {}).get("value")
    text = ("yes" if value else "no") if isinstance(value, bool) else \
        "n/a" if value is None else f"{value:.3f}"
    return f"{text} (failed)" if (score or {}).get("failed") else text


# --- the page --------------------------------------------------------------------------------

def scorecards_page() -> None:
    st.title("Scorecards")
    folder = runs_dir()
    runs = {p.name: p for p in run_folders(folder)}
    if not runs:
        extra = "" if folder == evaluation.RUNS_DIR else f" --runs-dir {folder}"
        st.info(f"No evaluation runs in `{folder}` yet. Create one with "
                f"`store-assistant eval --tag gate{extra}` (a few minutes on the embedded model), "
                f"then reload this page.", icon=":material/query_stats:")
        return
    chosen = runs[st.selectbox("Run", list(runs), key="scorecard_run",
                               format_func=lambda name: run_label(runs[name]),
                               help="Newest first. Each run is one `store-assistant eval`.")]
    try:
        results = load_results(chosen)
        arms = st.multiselect("Arms", results["arms"], default=results["arms"],
                              key=f"scorecard_arms_{chosen.name}")
        if not arms:
            st.info("Pick at least one arm to compare.")
            return
        card, has_baseline = card_for(chosen, arms)
    except (DataError, KeyError, TypeError, ValueError) as exc:
        detail = str(exc) if isinstance(exc, DataError) else (
            f"Its results.json does not have the shape the scorecard reads "
            f"({type(exc).__name__}: {exc}). Re-run `store-assistant eval`.")
        st.error(f"Run {chosen.name} cannot be shown. {detail}", icon=":material/error:")
        return
    run = results["run"]
    st.caption(escape(f"{run['cases']} cases · split {run.get('split') or 'all'} · tags "
                      f"{','.join(run.get('tags') or []) or 'all'} · model {run['model']} · "
                      f"{run.get('repeats', 1)} repeat(s) · facts as of {run['as_of']}. Means "
                      f"with 95% bootstrap CIs; deltas are paired over the same cases."))
    headline(card, has_baseline)
    charts(card)
    drill_down(chosen, restrict(results, arms), arms)
    if card.get("agreement"):
        st.caption(escape("Agreement with hand labels (eval/labels.yaml): "
                          + summary(card["agreement"])))
    exports(card, run["id"])


def headline(card: dict, has_baseline: bool) -> None:
    for column, row in zip(st.columns(len(card["rows"])), card["rows"]):
        stats, delta = row["correct"], (row.get("vs_reference") or {}).get("correct")
        column.metric(f"{row['arm']}: correct", "n/a" if stats["mean"] is None else
                      f"{stats['mean']:.0%}", border=True, height="stretch",
                      delta=f"{delta['mean'] * 100:+.0f} points vs {card['reference_arm']}"
                      if delta else None,
                      help=None if stats["mean"] is None else
                      f"95% CI {stats['lo']:.0%} to {stats['hi']:.0%} over {stats['n']} cases")
    name = baseline_name(card["run"])
    if card["regressions"]:
        st.error("**Regressions against the baseline**\n\n" + "\n".join(
            f"- {escape(r)}" for r in card["regressions"]), icon=":material/trending_down:")
    elif has_baseline:
        st.success(f"No regressions against the committed `{name}` baseline.",
                   icon=":material/check_circle:")
    else:
        st.info(f"No committed `{name}` baseline to compare with yet: re-run this selection with "
                f"`store-assistant eval ... --update-baseline` to write "
                f"eval/baselines/{name}.json, then commit it.", icon=":material/info:")
    if card.get("baseline_problems"):
        st.warning("**The baseline is stale**\n\n" + "\n".join(
            f"- {escape(p)}" for p in card["baseline_problems"]), icon=":material/history:")
    lagging = [line for line in card.get("against_controls", []) if "does NOT beat" in line]
    if lagging:
        st.warning("**Against the controls (no language model in them)**\n\n" + "\n".join(
            f"- {escape(line)}" for line in lagging), icon=":material/balance:")
    st.subheader("Arms")
    st.dataframe(pd.DataFrame(main_table(card)), hide_index=True,
                 column_config={"arm": st.column_config.TextColumn(pinned=True)})
    st.subheader("What each answer costs")
    st.caption(f"Speeds over the answers the model wrote; peak memory with one model loaded; $ per "
               f"1,000 answers from the CPU-seconds measured (in-process models, at "
               f"${card['run'].get('core_hour_usd') or 0:g} per core-hour) or the provider's price.")
    st.dataframe(pd.DataFrame(inference_table(card)), hide_index=True,
                 column_config={"arm": st.column_config.TextColumn(pinned=True)})
    if card.get("default_pick"):
        st.info(pick_text(card), icon=":material/rule:")
    if card["targets"]:
        st.subheader("Targets (rag-hybrid)")
        st.dataframe(pd.DataFrame([{
            "target": t["target"], "value": "n/a" if t["value"] is None else f"{t['value']:.3f}",
            "goal": t["goal"], "n": t["n"], "met": "yes" if t["met"] else "NO"}
            for t in card["targets"]]), hide_index=True)
    if card.get("taught"):
        st.subheader("Taught and untaught heldout cases")
        st.caption("Taught: every fact the case asks for is in the fine-tuning data. A fine-tuned "
                   "arm's lead on taught cases is recall of its training data, not general skill.")
        st.dataframe(pd.DataFrame(taught_table(card)), hide_index=True)


def _chart(where, chart: alt.LayerChart, title: str, height: int = 260) -> None:
    where.altair_chart(chart.properties(title=title, height=height), width="stretch")


def _mean_with_ci(rows: list[dict], x: str, line: bool = False) -> alt.LayerChart:
    """Share correct per arm (a bar) or per ladder step (a line, labelled with its arm), the 95%
    CI as a whisker."""
    base = alt.Chart(pd.DataFrame(rows)).encode(
        x=alt.X(f"{x}:N", title=None, sort=None, axis=alt.Axis(labelAngle=0, labelLimit=0)),
        y=alt.Y("mean:Q", title="share correct", scale=SHARE),
        tooltip=list(dict.fromkeys([x, "arm"])) + ["n"]
        + [alt.Tooltip(f"{k}:Q", format=".2f") for k in ("mean", "lo", "hi")])
    mean = base.mark_line(point=True, color=BLUE) if line else base.mark_bar(color=BLUE, size=48)
    whisker = base.mark_rule(color="#374151", strokeWidth=1.5).encode(y="lo:Q", y2="hi:Q")
    label = base.mark_text(dy=-8).encode(  # above the whisker, clear of bar, line and CI
        y="hi:Q", text="label:N" if line else alt.Text("mean:Q", format=".2f"))
    return mean + whisker + label


def charts(card: dict) -> None:
    st.subheader("Charts")
    rows = [r for r in card["rows"] if r["correct"]["mean"] is not None]
    height = max(260, 80 + 24 * len(card["categories"]))  # a readable row per category
    left, right = st.columns(2)
    if rows:
        _chart(left, _mean_with_ci([{"arm": r["arm"], **r["correct"]} for r in rows], "arm"),
               "Share correct by arm (95% CI)", height)
    heat = alt.Chart(pd.DataFrame([
        {"category": cat, "arm": arm, "correct": cell["correct"], "n": cell["n"],
         "label": "n/a" if cell["correct"] is None else f"{cell['correct']:.2f}"}
        for cat, cells in card["categories"].items() for arm, cell in cells.items()])).encode(
        x=alt.X("arm:N", title=None, sort=None, axis=alt.Axis(labelAngle=0, orient="top")),
        y=alt.Y("category:N", title=None))
    if card["categories"]:
        _chart(right, heat.mark_rect().encode(
            color=alt.Color("correct:Q", scale=alt.Scale(domain=[0, 1], scheme="redyellowgreen"),
                            legend=None), tooltip=["category", "arm", "correct", "n"])
            + heat.mark_text(fontSize=12).encode(text="label:N", color=alt.condition(  # legible
                "datum.correct < 0.25 || datum.correct > 0.8", alt.value("white"),
                alt.value("#111"))),
            "Share correct: category × arm", height)
    left, right = st.columns(2)
    timed = [r for r in rows if r["latency_p50_ms"] is not None]
    if timed:
        slowest = max(r["latency_p50_ms"] for r in timed) / 1000  # x room for the last label
        dots = alt.Chart(pd.DataFrame([
            {"arm": r["arm"], "p50 latency (s)": r["latency_p50_ms"] / 1000,
             "share correct": r["correct"]["mean"]} for r in timed])).encode(
            x=alt.X("p50 latency (s):Q", scale=alt.Scale(domain=[0, slowest * 1.4])),
            y=alt.Y("share correct:Q", scale=SHARE))
        _chart(left, dots.mark_circle(size=140, color=BLUE).encode(
            tooltip=["arm", "p50 latency (s)", "share correct"])
            + dots.mark_text(align="left", dx=9).encode(text="arm"),
            "Latency vs accuracy (up and left is better)")
    steps = [{"step": s["step"], "arm": s["arm"], **s["correct"],
              "label": f"{s['arm']}: {s['correct']['mean']:.2f}"}
             for s in card["ladder"] if s["correct"]["mean"] is not None]
    if steps:
        _chart(right, _mean_with_ci(steps, "step", line=True),
               "The additive ladder: PE → + RAG → + fine-tuning")
    if card.get("freshness") and card["freshness"]["rows"]:
        st.subheader("Freshness: answers after an inventory change")
        fresh = card["freshness"]
        st.caption(" · ".join(f"{arm} followed {n} of {fresh['changes']} changes"
                              for arm, n in fresh.get("followed", {}).items()))
        st.dataframe(pd.DataFrame(freshness_table(card)), hide_index=True)


def drill_down(folder: Path, results: dict, arms: list[str]) -> None:
    st.subheader("Questions")
    cases = results["cases"]
    filters = st.columns(3)
    categories = filters[0].multiselect("Category", sorted({c["category"] for c in cases.values()}),
                                        key="scorecard_categories", placeholder="All categories")
    arm, other, wanted = arms[0], None, "all"
    if len(arms) > 1:
        arm = filters[1].selectbox("Arm", arms, index=len(arms) - 1, key="scorecard_arm")
        other = filters[2].selectbox("against", [a for a in arms if a != arm],
                                     key="scorecard_other")
        wanted = st.radio(f"Correct: {arm} against {other}", OUTCOMES, horizontal=True,
                          key="scorecard_outcome")
    try:
        answers = load_answers(folder)
    except DataError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    by_key = {(a["arm"], a["case_id"], a.get("repeat", 0)): a for a in answers}
    table = []
    for cid, case in cases.items():
        result = outcome(results, arm, other, cid) if other else None
        if (categories and case["category"] not in categories) or wanted not in ("all", result):
            continue
        row = {"case": cid, "category": case["category"], "question": case["question"]}
        if other:
            row[f"{arm} vs {other}"] = result or "n/a"
        for name in arms:
            reply = by_key.get((name, cid, 0), {})
            row[f"{name} correct"] = shown(reply.get("scores", {}).get("correct"))
            row[f"{name} answer"] = reply.get("error") or reply.get("text", "")
        table.append(row)
    frame = pd.DataFrame(table)
    st.caption(f"{len(table)} of {len(cases)} questions")
    st.dataframe(frame, hide_index=True, height=min(38 + 35 * len(table), 320),
                 column_config={"case": st.column_config.TextColumn(pinned=True),
                                "question": st.column_config.TextColumn(width="large")})
    st.download_button("Download these questions (CSV)",
                       frame.map(spreadsheet_cell).to_csv(index=False),
                       file_name=f"questions-{results['run']['id']}.csv", mime="text/csv",
                       icon=":material/download:", disabled=not table)
    if not table:
        return
    picked = st.selectbox("Question", [r["case"] for r in table], key="scorecard_case",
                          format_func=lambda cid: f"{cid} · {cases[cid]['question'][:90]}")
    repeats = int(results["run"].get("repeats") or 1)
    repeat = st.selectbox("Repeat", range(repeats), key="scorecard_repeat") if repeats > 1 else 0
    st.markdown(f"**{escape(cases[picked]['question'])}**  \n"
                f"{escape(cases[picked]['category'])} · {escape(picked)}")
    labels = {name: info["label"] for name, info in results["metrics"].items()}
    for column, name in zip(st.columns(len(arms)), arms):
        with column:
            answer_card(name, by_key.get((name, picked, repeat)), labels)


def answer_card(arm: str, reply: dict | None, labels: dict[str, str]) -> None:
    """One arm's answer, its sources, flags and timing, and every metric with its reason."""
    st.markdown(f"##### {escape(arm)}")
    if reply is None:
        st.warning("No answer recorded for this arm.")
        return
    with st.container(border=True):
        if reply.get("error"):
            st.error(escape(reply["error"]), icon=":material/error:")
        else:
            st.markdown(escape(reply["text"]) or "_(empty answer)_")
    latency = reply.get("latency_ms")
    st.caption(escape(" · ".join([
        f"{latency / 1000:.1f} s" if latency is not None else "no timing",
        "sources: " + (", ".join(reply.get("sources") or []) or "none"),
        "flags: " + (", ".join(f for f in reply.get("flags") or [] if not f.startswith("linked:"))
                     or "none")])))
    # st.table wraps long reasons and reads Markdown, so every cell is escaped ($ would be maths).
    st.table(pd.DataFrame([{"metric": escape(labels.get(name, name)), "value": escape(shown(score)),
                            "reason": escape(score.get("reason", ""))}
                           for name, score in reply.get("scores", {}).items()]).set_index("metric"),
             border="horizontal")


def exports(card: dict, run_id: str) -> None:
    st.subheader("Download the scorecard")
    st.caption("For the arms chosen above.")
    files = (("CSV", to_csv(card), "csv", "text/csv"),
             ("Markdown", to_markdown(card), "md", "text/markdown"),
             ("HTML report", to_html(card), "html", "text/html"))
    for column, (label, data, ext, mime) in zip(st.columns(len(files)), files):
        column.download_button(label, data, file_name=f"scorecard-{run_id}.{ext}", mime=mime,
                               icon=":material/download:", width="stretch")


require_manager()
scorecards_page()
