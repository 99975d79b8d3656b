"""Answering in the staff's language (issue 17): the 24 hand-translated golden questions
(eval/languages/questions.yaml, 8 of them Korean) answered from the English manuals, with the
multilingual set-up: `languages` = every language there, `embeddings = multilingual-e5-small`.

    .venv/bin/python bench/multilingual_answers.py [--model local/qwen2.5-coder-0.5b] [--arms ...]

Arms: rag-hybrid (the product's default strategy) under the model, and control-extractive, the
same retrieval with code quoting the excerpts and no model, so what the model adds shows apart
from what retrieval and code do. Each question's English original is answered too, on the same
index: the ceiling for the translated one.

What is recorded per answer, none of it by the answering code's own readers:
- hit@5: a golden source in the top five of the answer's ranking (the evaluation's own metric);
- figures: each price and number fact of the golden case, by its value anywhere in the answer
  (units are words, and words change with the language);
- written in the question's language: for Korean, Japanese and Chinese, any letter of that
  script (Hangul; kana or Han; Han): the excerpts and facts the model reads are all Latin
  letters; for the Latin-script languages, at least 2 of that language's commonest words from
  the list below (not the detector's list), so a one-clause German answer can be missed. (The
  first version, half the letters in the script and 3 common words, counted "Samsung Galaxy
  S24에는 8GB 램이 있습니다." as not Korean: product names are Latin letters.);
- hand labels: eval/languages/labels.yaml, one per answer text (by its SHA-256), written after
  reading the answer against the golden reference. A label whose answer changed is reported as
  missing, never reused.

The index is built in data/multilingual/ (the app's data/ is left alone) the first time, with the
real `store-assistant ingest`. Results: bench/results/multilingual-answers-<model>.{json,md};
`--report-only [--model M]` re-reads the labels into them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import unicodedata
from datetime import datetime, timezone
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from store_assistant.config import load_settings  # noqa: E402
from store_assistant.evaluation.golden import AS_OF, load_cases  # noqa: E402
from store_assistant.evaluation.metrics import Reply, hit_at_5  # noqa: E402
from store_assistant.evaluation.reading import numbers, same  # noqa: E402
from store_assistant.evaluation.runner import source_commit  # noqa: E402
from store_assistant.files import write_atomic  # noqa: E402

QUESTIONS = ROOT / "eval" / "languages" / "questions.yaml"
LABELS = ROOT / "eval" / "languages" / "labels.yaml"
RESULTS = ROOT / "bench" / "results"


def out_path(model: str) -> Path:
    """bench/results/multilingual-answers-<model>.json: one file per model."""
    return RESULTS / f"multilingual-answers-{model.rsplit('/', 1)[-1]}.json"
DATA_DIR = ROOT / "data" / "multilingual"
EMBEDDINGS = "multilingual-e5-small"
SCRIPTS = {"ko": ("HANGUL",), "ja": ("HIRAGANA", "KATAKANA", "CJK"), "zh": ("CJK",)}
# The commonest words of each Latin-script language (articles, prepositions, "is"), chosen here
# for this check; the answering code's detector has its own list. None is also an English word
# ("a", "in", "no"), so an English answer does not pass.
COMMON = {"es": {"el", "la", "de", "que", "en", "y", "los", "las", "un", "una", "es", "con", "por",
                 "para", "se", "del", "puede", "tiene", "está"},
          "fr": {"le", "la", "de", "et", "les", "des", "un", "une", "est", "en", "du", "pour",
                 "pas", "avec", "peut", "il", "vous", "que"},
          "de": {"der", "die", "das", "und", "ist", "nicht", "mit", "ein", "eine", "den", "zu",
                 "auf", "für", "kann", "sie", "es", "von", "werden"},
          "pt": {"de", "que", "os", "um", "uma", "não", "com", "para", "é", "do", "da", "em",
                 "pode", "tem", "são", "mas"},
          "it": {"il", "la", "di", "che", "è", "un", "una", "non", "con", "per", "del",
                 "della", "ha", "può", "sono", "le"}}


def in_language(text: str, lang: str) -> bool:
    if lang == "en":
        return True
    if lang in SCRIPTS:  # the excerpts and product names are Latin letters: any of the script
        return any(unicodedata.name(c, "").split(" ")[0] in SCRIPTS[lang] for c in text)
    words = re.findall(r"[^\W\d_]+", text.lower())
    return sum(word in COMMON[lang] for word in words) >= 2


def figures(case, text: str) -> tuple[int, int]:
    """(stated, asked): the case's price and number facts whose value is in the answer."""
    asked = [f for f in case.facts if f.type in ("price", "number")]
    found = [value for value, _, _ in numbers(text)]
    return sum(any(same(v, float(f.value)) for v in found) for f in asked), len(asked)


def ensure_index(env: dict) -> None:
    manifest = DATA_DIR / "knowledge.json"
    if manifest.exists() and json.loads(manifest.read_text("utf-8")).get("embeddings") == EMBEDDINGS:
        return
    subprocess.run([str(ROOT / ".venv" / "bin" / "store-assistant"), "ingest", "--data-dir",
                    str(DATA_DIR)], env=env, check=True)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def read_labels() -> dict[str, dict]:
    if not LABELS.exists():
        return {}
    labels = yaml.safe_load(LABELS.read_text("utf-8")) or []
    if bad := [item for item in labels if not isinstance(item.get("answer"), str)
               or not isinstance(item.get("correct"), bool)]:
        sys.exit(f"{LABELS}: each label needs answer: '<16 hex digits, quoted>' and correct: "
                 f"true/false; not {bad[0]!r}")
    return {item["answer"]: item for item in labels}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="litellm model string (default: the "
                        "configured llm)")
    parser.add_argument("--arms", default="rag-hybrid,control-extractive")
    parser.add_argument("--report-only", action="store_true",
                        help="re-read the labels and rewrite the report from the last results")
    args = parser.parse_args()
    if args.report_only:
        model = args.model or load_settings().llm
        report(json.loads(out_path(model).read_text("utf-8")))
        return

    items = yaml.safe_load(QUESTIONS.read_text("utf-8"))
    langs = sorted({item["lang"] for item in items})
    env = {**os.environ, "STORE_ASSISTANT_LANGUAGES": ",".join(["en", *langs]),
           "STORE_ASSISTANT_EMBEDDINGS": EMBEDDINGS, "STORE_ASSISTANT_DATA_DIR": str(DATA_DIR)}
    ensure_index(env)
    settings = load_settings({"llm": args.model}, env=env)
    from store_assistant.answering.strategies import build_strategy
    from store_assistant.inference.gateway import Gateway

    golden = {case.id: case for case in load_cases()}
    rows = []
    for arm in [a.strip() for a in args.arms.split(",") if a.strip()]:
        strategy = build_strategy(arm, Gateway(settings, settings.llm), settings, today=AS_OF)
        strategy.answer("warm-up: what is the return window?")
        for item in items:
            case = golden[item["translates"]]
            for lang, question in ((item["lang"], item["question"]), ("en", case.question)):
                started = time.perf_counter()
                try:
                    answer = strategy.answer(question)
                    text, flags, listed = answer.text, answer.flags, answer.retrieved
                    model = answer.model
                except Exception as exc:  # counted, shown, never a silent zero
                    text, flags, listed, model = "", [f"error:{type(exc).__name__}: {exc}"], [], ""
                stated, asked = figures(case, text)
                hit = hit_at_5(case, Reply(case.id, arm, 0, text, model, retrieved=listed), None)
                rows.append({
                    "arm": arm, "model": model, "lang": lang, "translates": case.id,
                    "question": question, "answer": text, "answer_sha": sha(text),
                    "flags": flags, "seconds": round(time.perf_counter() - started, 1),
                    "hit5": hit.value,
                    "figures_stated": stated, "figures_asked": asked,
                    "in_language": in_language(text, lang), "reference": case.reference})
                print(f"{arm} {lang} {case.id} {rows[-1]['seconds']}s: {text[:100]!r}",
                      flush=True)
    report({"when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "commit": source_commit(), "model": settings.llm, "embeddings": EMBEDDINGS,
            "languages": ["en", *langs],
            "command": "python bench/multilingual_answers.py" + (
                f" --model {args.model}" if args.model else ""), "rows": rows})


def report(results: dict) -> None:
    results, text = render(results, read_labels())
    out = out_path(results["model"])
    write_atomic(out, json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    write_atomic(out.with_suffix(".md"), text)
    print("\n".join(text.splitlines()[:16]))


def render(results: dict, labels: dict[str, dict]) -> tuple[dict, str]:
    """The results with each answer's computed language check and hand label, and the report."""
    for row in results["rows"]:
        row["in_language"] = in_language(row["answer"], row["lang"])
        label = labels.get(row["answer_sha"])
        row["correct"] = None if label is None else bool(label["correct"])
        row["label_note"] = None if label is None else label.get("note")
    lines = [f"# Answering in the staff's language ({results['when']}, commit "
             f"{(results['commit'] or '?')[:12]})", "",
             f"`{results['command']}`: {results['model']}, embeddings {results['embeddings']}, "
             f"languages {','.join(results['languages'])}. Each translated golden question and its "
             f"English original, on the same index. Correct = hand label (eval/languages/"
             f"labels.yaml) against the golden reference; the other columns are computed.", "",
             "| arm | asked in | n | correct (hand) | unlabelled | hit@5 | figures stated | "
             "in its language | errors | median s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for arm in dict.fromkeys(r["arm"] for r in results["rows"]):
        for label, keep in (("translated", lambda r: r["lang"] != "en"),
                            ("Korean only", lambda r: r["lang"] == "ko"),
                            ("English originals", lambda r: r["lang"] == "en")):
            rows = [r for r in results["rows"] if r["arm"] == arm and keep(r)]
            labelled = [r for r in rows if r["correct"] is not None]
            hits = [r for r in rows if r["hit5"] is not None]
            asked = sum(r["figures_asked"] for r in rows)
            errors = sum(any(f.startswith("error:") for f in r["flags"]) for r in rows)
            seconds = sorted(r["seconds"] for r in rows)
            lines.append(
                f"| {arm} | {label} | {len(rows)} | {sum(r['correct'] for r in labelled)}/"
                f"{len(labelled)} | {len(rows) - len(labelled)} | "
                f"{sum(r['hit5'] for r in hits)}/{len(hits)} | "
                f"{sum(r['figures_stated'] for r in rows)}/{asked} | "
                f"{sum(r['in_language'] for r in rows)}/{len(rows)} | {errors} | "
                f"{seconds[len(seconds) // 2] if seconds else '-'} |")
    lines += ["", "Correct (hand) by the language asked in:", ""]
    for arm in dict.fromkeys(r["arm"] for r in results["rows"]):
        counts: dict[str, list[int]] = {}
        for r in results["rows"]:
            if r["arm"] == arm and r["correct"] is not None:
                count = counts.setdefault(r["lang"], [0, 0])
                count[0] += r["correct"]
                count[1] += 1
        lines.append(f"- {arm}: " + ", ".join(f"{lang} {right}/{n}"
                                                for lang, (right, n) in counts.items()))
    lines += ["", "## Every answer", ""]
    for r in results["rows"]:
        verdict = {True: "correct", False: "wrong", None: "unlabelled"}[r["correct"]]
        lines += [f"- **{r['arm']} / {r['lang']} / {r['translates']}** ({verdict}"
                  + (f": {r['label_note']}" if r["label_note"] else "") + f"; {r['seconds']} s)",
                  f"  - Q: {r['question']}", f"  - A: {r['answer']!r}"]
    return results, "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
