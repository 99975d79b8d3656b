"""The scorecard written out: text tables, markdown, CSV and one self-contained HTML file.

`scorecard.py` computes; this module only formats and writes (atomically). The HTML has tables and
inline SVG charts, no scripts: a manager opens it from a shared folder or an e-mail, offline, so
no JavaScript, no CDN, no images on disk. The charts are the four decisions the scorecard
supports: accuracy by arm (with CIs), where each arm fails (category x arm heatmap), what
accuracy costs in latency, and whether each rung of the ladder (PE -> +RAG -> +FT) helped.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
from pathlib import Path
from typing import Any

from store_assistant.evaluation.agreement import summary
from store_assistant.evaluation.scorecard import TARGET_ARM, scorecard
from store_assistant.files import spreadsheet_cell, write_all_atomic

# --- text tables --------------------------------------------------------------------------------

def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, dict):
        if value.get("mean") is None:
            return "n/a"
        return f"{value['mean']:.{digits}f} [{value['lo']:.{digits}f}, {value['hi']:.{digits}f}]"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _delta(stats: dict | None) -> str:
    if not stats:
        return "n/a"
    return (f"{stats['mean']:+.3f} [{stats['lo']:+.3f}, {stats['hi']:+.3f}] "
            f"W/T/L {stats['wins']}/{stats['ties']}/{stats['losses']}")


def _paths(shares: dict | None) -> str:
    """{'model': 0.5, 'data': 0.5} -> 'model 50%, data 50%'; n/a for runs without paths."""
    if not shares:
        return "n/a"
    return ", ".join(f"{path} {share:.0%}" for path, share in shares.items())


def main_table(card: dict) -> list[dict[str, str]]:
    """The headline rows as text cells, shared by markdown, CSV and HTML."""
    if card["run"].get("kind") == "analytics":
        return analytics_table(card)
    out = []
    for row in card["rows"]:
        ref = row.get("vs_reference") or {}
        base = row.get("vs_baseline") or {}
        out.append({
            "arm": row["arm"], "cases": str(row["cases"]),
            "correct": _fmt(row["correct"]),
            "model asked (cases)": "n/a" if row.get("model_cases") is None else str(row["model_cases"]),
            "correct when the model was asked": _fmt(row.get("correct_model")),
            "paths": _paths(row.get("paths")),
            "fact accuracy": _fmt(row["fact_accuracy"]),
            "facts the model wrote": _fmt(row["model_facts"]),
            "unsupported (total)": str(row["unsupported_total"]),
            "unsupported claims (total)": ("n/a" if row.get("claims_total") is None
                                           else str(row["claims_total"])),
            "refusal": _fmt(row["refusal"]), "consistency": _fmt(row["consistency"]),
            "hit@5": _fmt(row["hit_at_5"]), "MRR": _fmt(row["mrr"]),
            "guidelines": _fmt(row["guideline_adherence"]),
            "price MAE ($)": _fmt(row["price_error"]["mean"], 2),
            "ROUGE-L": _fmt(row["rouge_l"]["mean"]), "similarity": _fmt(row["semantic_similarity"]["mean"]),
            "p50 ms (model)": _ms(row["latency_p50_ms"]), "p95 ms (model)": _ms(row["latency_p95_ms"]),
            "p50 ms (data)": _ms(row.get("latency_data_p50_ms")),
            "TTFT p50 ms": _ms(row["ttft_p50_ms"]),
            "tokens": _fmt(row["tokens_mean"], 1),
            "$ / 1k answers": _fmt(row["cost_per_1k_usd"], 2),
            **{info_label: _fmt(row[m]) for m, info_label in
               (("faithfulness", "faithfulness (judge)"),
                ("factual_correctness", "factual correctness (judge)")) if m in row},
            "failures": str(row["failures"]),
            f"Δ correct vs {card['reference_arm']}": _delta(ref.get("correct")),
            "McNemar p": _fmt(ref.get("mcnemar_p")),
            "Δ correct vs baseline": _delta(base.get("correct")),
        })
    return out


def analytics_table(card: dict) -> list[dict[str, str]]:
    """The analytics arms: execution accuracy, consistency and valid queries, the refusals, and
    each sql-semantic arm against sql-raw on the same model (paired over the same cases)."""
    out = []
    for row in card["rows"]:
        raw = row.get("vs_raw") or {}
        base = row.get("vs_baseline") or {}
        out.append({
            "arm": row["arm"], "cases": str(row["cases"]), "model": row.get("model") or "none",
            "correct": _fmt(row["correct"]),
            "execution accuracy": _fmt(row["execution_accuracy"]),
            "consistency": _fmt(row["consistency"]), "valid query": _fmt(row["valid_query"]),
            "refusal correct": _fmt(row["refusal"]),
            "Δ correct vs sql-raw": _delta(raw.get("correct")),
            "McNemar p": _fmt(raw.get("mcnemar_p")),
            "p50 ms": _ms(row["latency_p50_ms"] if row["latency_p50_ms"] is not None
                          else row.get("latency_data_p50_ms")),
            "p95 ms": _ms(row["latency_p95_ms"]),
            "$ / 1k answers": _fmt(row.get("cost_per_1k_usd"), 3),
            "failures": str(row["failures"]),
            "Δ correct vs baseline": _delta(base.get("correct")),
        })
    return out


def analytics_markdown(card: dict) -> str:
    run = card["run"]
    parts = [f"# Analytics scorecard {run['id']}\n",
             f"{run['cases']} manager questions (eval/analytics/cases.yaml), arms: "
             f"{', '.join(run['arms'])}; sales data {run.get('data_version')}, as of "
             f"{run['as_of']}; code at commit `{run.get('commit') or 'unknown'}`. Correct: the "
             f"result equals the hand-written gold SQL's, or a refusal where one is due. "
             f"Consistency counts paraphrase groups (1 only if every wording gave the same "
             f"result). Means with 95% bootstrap CIs; Δ are paired over the same cases.\n",
             "## Arms\n", markdown_table(analytics_table(card)),
             "## Cases to answer and cases to refuse\n", markdown_table(category_table(card))]
    if card.get("against_controls"):
        parts += ["## Against the controls (no language model)\n",
                  "\n".join(f"- {line}" for line in card["against_controls"]) + "\n"]
    parts += ["## Regressions against the baseline\n",
              "\n".join(f"- {r}" for r in card["regressions"]) + "\n" if card["regressions"]
              else "None.\n"]
    return "\n".join(parts)


def inference_table(card: dict) -> list[dict[str, str]]:
    """What each arm's answers cost: speed, memory and dollars, next to its accuracy."""
    return [{"arm": row["arm"], "model": row.get("model") or "n/a",
             "correct": _fmt(row["correct"]),
             "correct when the model was asked": _fmt(row.get("correct_model")),
             "p50 ms": _ms(row["latency_p50_ms"]), "p95 ms": _ms(row["latency_p95_ms"]),
             "TTFT p50 ms": _ms(row["ttft_p50_ms"]),
             "prompt tok/s": _fmt(row.get("prompt_tps_p50"), 0),
             "generation tok/s": _fmt(row.get("gen_tps_p50"), 1),
             "peak RSS MB": _fmt(row.get("peak_rss_mb"), 0),
             "CPU s / answer": _fmt(row.get("cpu_s_mean"), 2),
             "$ / 1k answers": _fmt(row.get("cost_per_1k_usd"), 3)} for row in card["rows"]]


def _price(run: dict) -> str:
    price = run.get("core_hour_usd")
    return "a price per core-hour this run did not record" if price is None else \
        f"${price:g} per core-hour"


def pick_text(card: dict) -> str:
    pick = card.get("default_pick")
    if not pick:
        return ""
    if not pick["arm"]:
        return f"No default: {pick['reason']}.\n"
    return (f"**Default by the rule: `{pick['model']}`** ({pick['arm']}, correct "
            f"{_fmt(pick['correct'])}, p95 {_ms(pick['latency_p95_ms'])} ms). Rule: accuracy first, "
            f"then the fastest model within the staff latency budget. "
            f"{pick['reason'][:1].upper()}{pick['reason'][1:]}.\n")


def markdown_table(rows: list[dict[str, str]]) -> str:
    if not rows:
        return "(none)\n"
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r[h].replace("|", "\\|") for h in header) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def to_markdown(card: dict) -> str:
    if card["run"].get("kind") == "analytics":
        return analytics_markdown(card)
    run = card["run"]
    parts = [f"# Scorecard {run['id']}\n",
             f"{run['cases']} cases (split: {run.get('split') or 'all'}, tags: "
             f"{','.join(run.get('tags') or []) or 'all'}), arms: {', '.join(run['arms'])}, model "
             f"`{run['model']}`, repeats {run['repeats']}, facts as of {run['as_of']}, code at "
             f"commit `{run.get('commit') or 'unknown'}`. "
             f"Means with 95% bootstrap CIs; Δ are paired differences over the same cases.\n",
             "## Arms\n", markdown_table(main_table(card)),
             "## Additive ladder\n", markdown_table([
                 {"step": s["step"], "arm": s["arm"], "correct": _fmt(s["correct"]),
                  "correct when the model was asked": _fmt(s.get("correct_model")),
                  "fact accuracy": _fmt(s["fact_accuracy"]), "p50 ms": _ms(s["latency_p50_ms"])}
                 for s in card["ladder"]]),
             "## Inference cost per arm\n",
             f"Speeds are medians over the model's answers (prompt tokens / time to first token; "
             f"generated tokens / the rest). Peak RSS is the largest resident memory after an "
             f"answer, one model loaded at a time. $ / 1k answers: a remote model's token price, "
             f"or an in-process model's CPU-seconds at {_price(card['run'])}.\n",
             markdown_table(inference_table(card))]
    if card.get("tuned_vs_bigger"):
        parts += ["## Fine-tuned vs untuned, alone and with RAG\n",
                  "The same cases: a fine-tuned model against an untuned one, each without the "
                  "store's data and each with RAG. Δ is the paired difference in correct "
                  "(fine-tuned minus untuned).\n", markdown_table(tuned_table(card))]
    if card.get("default_pick"):
        parts += ["## The default model\n", pick_text(card)]
    parts += ["## Correct by category\n", markdown_table(category_table(card))]
    if card.get("taught"):
        parts += ["## Taught and untaught heldout cases\n",
                  "Taught: every fact the case asks for is in an answer of the fine-tuning data "
                  "about the same product or document. A fine-tuned arm's lead on taught cases is "
                  "recall of the training data, not general skill.\n",
                  markdown_table(taught_table(card))]
    if card.get("against_controls"):
        parts += ["## Against the controls (no language model)\n",
                  "\n".join(f"- {line}" for line in card["against_controls"]) + "\n"]
    if card["targets"]:
        parts += [f"## Targets ({TARGET_ARM})\n", markdown_table([
            {"target": t["target"], "value": _fmt(t["value"]), "goal": t["goal"], "n": str(t["n"]),
             "met": {True: "yes", False: "**no**", None: "not measured"}[t["met"]]}
            for t in card["targets"]])]
    if card.get("freshness"):
        parts += ["## Freshness (answers after an inventory change)\n",
                  markdown_table(freshness_table(card))]
    parts += ["## Regressions against the baseline\n",
              "\n".join(f"- {r}" for r in card["regressions"]) + "\n" if card["regressions"]
              else "None.\n"]
    if card.get("baseline_problems"):
        parts += ["## The baseline is stale\n",
                  "\n".join(f"- {p}" for p in card["baseline_problems"]) + "\n"]
    if card.get("agreement"):
        parts += ["## Agreement with hand labels\n", summary(card["agreement"]) + "\n"]
    return "\n".join(parts)


def tuned_table(card: dict) -> list[dict[str, str]]:
    return [{"": t["how"], "fine-tuned": t["tuned"], "fine-tuned correct": _fmt(t["tuned_correct"]),
             "untuned": t["untuned"], "untuned correct": _fmt(t["untuned_correct"]),
             "Δ correct": _delta(t["delta"]),
             "McNemar p": _fmt(t["mcnemar_p"]) if t["mcnemar_p"] is not None else "n/a"}
            for t in card.get("tuned_vs_bigger", [])]


def taught_table(card: dict) -> list[dict[str, str]]:
    return [{"arm": row["arm"], "correct, taught (heldout)": _fmt(row["taught"]),
             "correct, untaught (heldout)": _fmt(row["untaught"])} for row in card.get("taught", [])]


def category_table(card: dict) -> list[dict[str, str]]:
    arms = [r["arm"] for r in card["rows"]]
    return [{"category": cat, **{arm: f"{_fmt(cell[arm]['correct'], 2)} (n={cell[arm]['n']})"
                                 for arm in arms}}
            for cat, cell in card["categories"].items()]


def freshness_table(card: dict) -> list[dict[str, str]]:
    return [{"arm": r["arm"], "change": r["change"], "SKU": r["sku"], "case": r["case"],
             "old → new": f"{r['old']:g} → {r['new']:g}" + (f" ({r['store']})" if r["store"] else ""),
             "before": r["before"], "after": r["after"]}
            for r in card["freshness"]["rows"]]


def to_csv(card: dict) -> str:
    rows = main_table(card)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["arm"])
    writer.writeheader()
    writer.writerows({k: spreadsheet_cell(v) for k, v in row.items()} for row in rows)
    return buffer.getvalue()


def write_scorecard(results: dict, baseline: dict | None, folder: Path) -> dict:
    """scorecard.md / .csv / .json / .html in `folder`; returns the scorecard."""
    card = scorecard(results, baseline)
    write_all_atomic(folder, {"scorecard.md": to_markdown(card), "scorecard.csv": to_csv(card),
                              "scorecard.json": json.dumps(card, indent=1),
                              "scorecard.html": to_html(card)})
    return card


def escape(text: str) -> str:
    return html.escape(str(text), quote=True)


# --- HTML ---

_W, _H = 640, 260
_PAD = 48
_COLOURS = ("#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#4b5563", "#db2777")


def _bars(card: dict, metric: str, title: str) -> str:
    """Mean per arm as a bar, the 95% CI as a whisker."""
    rows = [r for r in card["rows"] if r[metric]["mean"] is not None]
    if not rows:
        return ""
    step = (_W - 2 * _PAD) / len(rows)
    scale = _H - 2 * _PAD
    parts = [_axes(title, "0", "1")]
    for i, row in enumerate(rows):
        stats = row[metric]
        x = _PAD + i * step + step * 0.15
        width = step * 0.7
        y = _H - _PAD - stats["mean"] * scale
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" '
                     f'height="{stats["mean"] * scale:.1f}" fill="{_COLOURS[i % len(_COLOURS)]}">'
                     f'<title>{escape(row["arm"])}: {stats["mean"]:.3f} '
                     f'[{stats["lo"]:.3f}, {stats["hi"]:.3f}]</title></rect>')
        mid = x + width / 2
        lo, hi = _H - _PAD - stats["lo"] * scale, _H - _PAD - stats["hi"] * scale
        parts.append(f'<line x1="{mid:.1f}" x2="{mid:.1f}" y1="{lo:.1f}" y2="{hi:.1f}" '
                     f'stroke="#111" stroke-width="2"/>')
        parts.append(f'<text x="{mid:.1f}" y="{_H - _PAD + 16}" font-size="11" '
                     f'text-anchor="middle">{escape(row["arm"])}</text>')
        parts.append(f'<text x="{mid:.1f}" y="{y - 6:.1f}" font-size="11" '
                     f'text-anchor="middle">{stats["mean"]:.2f}</text>')
    return _svg(parts)


def _axes(title: str, low: str, high: str) -> str:
    return (f'<text x="{_PAD}" y="20" font-size="14" font-weight="bold">{escape(title)}</text>'
            f'<line x1="{_PAD}" y1="{_H - _PAD}" x2="{_W - _PAD}" y2="{_H - _PAD}" stroke="#888"/>'
            f'<line x1="{_PAD}" y1="{_PAD}" x2="{_PAD}" y2="{_H - _PAD}" stroke="#888"/>'
            f'<text x="{_PAD - 6}" y="{_H - _PAD}" font-size="11" text-anchor="end">{low}</text>'
            f'<text x="{_PAD - 6}" y="{_PAD + 4}" font-size="11" text-anchor="end">{high}</text>')


def _svg(parts: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
            f'viewBox="0 0 {_W} {_H}" role="img">' + "".join(parts) + "</svg>")


def _tradeoff(card: dict) -> str:
    """Latency p50 (x) against share correct (y), one dot per arm."""
    rows = [r for r in card["rows"] if r["latency_p50_ms"] is not None and r["correct"]["mean"] is not None]
    if not rows:
        return ""
    top = max(r["latency_p50_ms"] for r in rows) * 1.15 or 1.0
    parts = [_axes("Latency vs accuracy (up and left is better)", "0", "1"),
             f'<text x="{_W - _PAD}" y="{_H - _PAD + 30}" font-size="11" text-anchor="end">'
             f'p50 latency, ms (axis to {top:,.0f})</text>']
    for i, row in enumerate(rows):
        x = _PAD + row["latency_p50_ms"] / top * (_W - 2 * _PAD)
        y = _H - _PAD - row["correct"]["mean"] * (_H - 2 * _PAD)
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="{_COLOURS[i % len(_COLOURS)]}">'
                     f'<title>{escape(row["arm"])}</title></circle>'
                     f'<text x="{x + 9:.1f}" y="{y + 4:.1f}" font-size="11">{escape(row["arm"])}</text>')
    return _svg(parts)


def _cost(card: dict) -> str:
    """Dollars per 1,000 answers (x) against share correct (y), one dot per arm with a price."""
    rows = [r for r in card["rows"] if r.get("cost_per_1k_usd") is not None
            and r["correct"]["mean"] is not None and r.get("model")]
    if len(rows) < 2:
        return ""
    top = max(r["cost_per_1k_usd"] for r in rows) * 1.15 or 1.0
    parts = [_axes("Cost vs accuracy (up and left is better)", "0", "1"),
             f'<text x="{_W - _PAD}" y="{_H - _PAD + 30}" font-size="11" text-anchor="end">'
             f'$ per 1,000 answers (axis to {top:,.3f})</text>']
    for i, row in enumerate(rows):
        x = _PAD + row["cost_per_1k_usd"] / top * (_W - 2 * _PAD)
        y = _H - _PAD - row["correct"]["mean"] * (_H - 2 * _PAD)
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="{_COLOURS[i % len(_COLOURS)]}">'
                     f'<title>{escape(row["arm"])}</title></circle>'
                     f'<text x="{x + 9:.1f}" y="{y + 4:.1f}" font-size="11">{escape(row["arm"])}</text>')
    return _svg(parts)


def _ladder(card: dict) -> str:
    steps = [s for s in card["ladder"] if s["correct"]["mean"] is not None]
    if not steps:
        return ""
    step_w = (_W - 2 * _PAD) / len(steps)
    scale = _H - 2 * _PAD
    parts = [_axes("The additive ladder: share correct at each step", "0", "1")]
    points = []
    for i, step in enumerate(steps):
        x = _PAD + (i + 0.5) * step_w
        y = _H - _PAD - step["correct"]["mean"] * scale
        points.append(f"{x:.1f},{y:.1f}")
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="#2563eb"/>'
                     f'<text x="{x:.1f}" y="{y - 10:.1f}" font-size="11" text-anchor="middle">'
                     f'{step["correct"]["mean"]:.2f}</text>'
                     f'<text x="{x:.1f}" y="{_H - _PAD + 16}" font-size="11" text-anchor="middle">'
                     f'{escape(step["step"])} ({escape(step["arm"])})</text>')
    parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="#2563eb"/>')
    return _svg(parts)


def _heat(value: str) -> str:
    try:
        share = float(value.split()[0])
    except ValueError:
        return "#f3f4f6"
    red, green = int(255 * (1 - share)), int(200 * share)
    return f"rgb({red},{green + 40},90)"


def _table(rows: list[dict[str, str]], heat: bool = False) -> str:
    if not rows:
        return "<p>(none)</p>"
    header = "".join(f"<th>{escape(h)}</th>" for h in rows[0])
    body = []
    for row in rows:
        cells = []
        for i, (key, value) in enumerate(row.items()):
            style = f' style="background:{_heat(value)};color:#fff"' if heat and i else ""
            cells.append(f"<td{style}>{escape(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{header}</tr>{''.join(body)}</table>"


def to_html(card: dict) -> str:
    run = card["run"]
    targets = [{"target": t["target"], "value": "n/a" if t["value"] is None else f"{t['value']:.3f}",
                "goal": t["goal"], "n": str(t["n"]),
                "met": {True: "yes", False: "NO", None: "not measured"}[t["met"]]}
               for t in card["targets"]]
    sections = [
        f"<h1>Scorecard {escape(run['id'])}</h1>",
        f"<p>{run['cases']} cases, arms {escape(', '.join(run['arms']))}, model "
        f"<code>{escape(run['model'])}</code>, facts as of {escape(run['as_of'])}. Means with 95% "
        f"bootstrap CIs; deltas are paired over the same cases.</p>",
        _bars(card, "correct", "Share of answers fully correct, 95% CI"),
        _bars(card, "fact_accuracy", "Fact accuracy, 95% CI"),
        _tradeoff(card), _cost(card), _ladder(card),
        "<h2>Arms</h2>", _table(main_table(card)),
        "<h2>Inference cost per arm</h2>", _table(inference_table(card)),
        f"<p>{escape(pick_text(card))}</p>" if card.get("default_pick") else "",
        *(["<h2>Fine-tuned vs untuned, alone and with RAG</h2>", _table(tuned_table(card))]
          if card.get("tuned_vs_bigger") else []),
        "<h2>Correct by category x arm</h2>", _table(category_table(card), heat=True),
    ]
    if card.get("taught"):
        sections += ["<h2>Taught and untaught heldout cases</h2><p>Taught: every fact the case "
                     "asks for is in the fine-tuning data. A fine-tuned arm's lead there is recall, "
                     "not skill.</p>", _table(taught_table(card))]
    if targets:
        sections += ["<h2>Targets (rag-hybrid)</h2>", _table(targets)]
    if card.get("freshness"):
        sections += ["<h2>Freshness after an inventory change</h2>", _table(freshness_table(card))]
    if card.get("against_controls"):
        sections += ["<h2>Against the controls (no language model)</h2>",
                     "<ul>" + "".join(f"<li>{escape(line)}</li>"
                                      for line in card["against_controls"]) + "</ul>"]
    regressions = card["regressions"]
    sections += ["<h2>Regressions against the baseline</h2>",
                 "<ul>" + "".join(f"<li>{escape(r)}</li>" for r in regressions) + "</ul>"
                 if regressions else "<p>None.</p>"]
    if card.get("baseline_problems"):
        sections += ["<h2>The baseline is stale</h2>",
                     "<ul>" + "".join(f"<li>{escape(p)}</li>" for p in card["baseline_problems"])
                     + "</ul>"]
    if card.get("agreement"):
        sections += ["<h2>Agreement with hand labels</h2>", f"<p>{escape(summary(card['agreement']))}</p>"]
    sections += ["<details><summary>Markdown version</summary><pre>"
                 f"{escape(to_markdown(card))}</pre></details>"]
    style = ("body{font-family:system-ui,sans-serif;margin:24px;color:#111}"
             "table{border-collapse:collapse;font-size:12px;margin:8px 0 24px}"
             "td,th{border:1px solid #ddd;padding:4px 6px;text-align:left}"
             "th{background:#f3f4f6}svg{display:block;margin:12px 0}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Scorecard "
            f"{escape(run['id'])}</title><style>{style}</style></head><body>"
            + "\n".join(sections) + "</body></html>\n")
