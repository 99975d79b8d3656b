"""The Operations page's figures, from the answer log: per day and per strategy (pandas).

A rate with nothing to divide by is None (shown as "–"), never 0: a day without ratings is not a
day without complaints.
"""

from __future__ import annotations

import pandas as pd

from store_assistant.store.answer_log import guard_corrected


def frame(answers: list[dict]):
    """The shop floor's questions as a table, one row each, with the columns the charts group by.
    Answers given through the shell (door "cli") are left out: they are not the shop floor's."""
    columns = ["id", "time", "strategy", "model", "latency_ms", "flags", "error", "question",
               "answer", "rating", "correction"]
    shop = [a for a in answers if a.get("door", "app") == "app"]
    df = pd.DataFrame([{c: a.get(c) for c in columns} for a in shop], columns=columns)
    df["day"] = pd.to_datetime(df["time"], utc=True, format="ISO8601").dt.date
    df["failed"] = df["error"].notna()
    df["fallback"] = df["flags"].map(lambda flags: any(f.startswith("fallback:") for f in flags))
    df["guarded"] = df["flags"].map(guard_corrected)
    df["rated"] = df["rating"].notna()
    df["down"] = df["rating"] == "down"
    return df


def _p95(latencies) -> float | None:
    return float(latencies.quantile(0.95)) if len(latencies) else None


def _figures(group) -> dict:
    """The figures of one group of questions. A rate with nothing to divide by is None (shown
    as "–"), never 0: a day without ratings is not a day without complaints."""
    answered = group[~group["failed"]]
    rated = int(group["rated"].sum())
    return {"questions": len(group),
            "p50_s": float(answered["latency_ms"].median()) / 1000 if len(answered) else None,
            "p95_s": _p95(answered["latency_ms"]) / 1000 if len(answered) else None,
            "error_rate": float(group["failed"].mean()),
            "fallback_rate": float(group["fallback"].mean()),
            "guard_corrections": int(group["guarded"].sum()),
            "rated": rated,
            "thumbs_down_rate": float(group["down"].sum()) / rated if rated else None}


def by_strategy(df):
    """One row per strategy: questions, p50/p95 latency, error, fallback and 👎 rates."""
    rows = [{"strategy": name, **_figures(group)} for name, group in df.groupby("strategy")]
    return pd.DataFrame(rows, columns=["strategy", "questions", "p50_s", "p95_s", "error_rate",
                                       "fallback_rate", "guard_corrections", "rated",
                                       "thumbs_down_rate"])


def by_day(df):
    """One row per (day, strategy) with the same figures, for the charts."""
    rows = [{"day": day, "strategy": name, **_figures(group)}
            for (day, name), group in df.groupby(["day", "strategy"])]
    return pd.DataFrame(rows, columns=["day", "strategy", "questions", "p50_s", "p95_s",
                                       "error_rate", "fallback_rate", "guard_corrections",
                                       "rated", "thumbs_down_rate"])
