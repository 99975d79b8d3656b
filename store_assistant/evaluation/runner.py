"""Run golden cases through strategy arms, score every answer, and keep the results.

    store-assistant eval --arms pe-zero-shot,rag-hybrid --split heldout

Each answer is cached under (arm config hash, model, case, data version, repeat), so a re-run
after an interruption picks up where it stopped and an unchanged arm costs nothing; a change to a
prompt, to strategy code, to a setting or to the data changes the key and is answered afresh.
A run is written to `eval/runs/<run-id>/` only when complete (a temp folder, then a rename):
answers with every metric's value and reason, the results the scorecard reads, and the scorecard.
"""

from __future__ import annotations

import ast
import hashlib
import json
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

from store_assistant.config import DEFAULT_LLM, PROJECT_DIR, Settings
from store_assistant.evaluation.report import write_scorecard
from store_assistant.files import atomic_folder, write_atomic
from store_assistant.errors import ConfigError, DataError, StoreAssistantError
from store_assistant.evaluation.freshness import freshness
from store_assistant.evaluation.golden import AS_OF, CASES_DIR, GoldenCase, load_cases, select
from store_assistant.evaluation.agreement import LABELS_FILE, agreement, load_labels
from store_assistant.evaluation.reading import taught
from store_assistant.store.answer_cache import AnswerCache
from store_assistant.store.inventory import Inventory, inventory_path
from store_assistant.evaluation.metrics import (CONSISTENCY_VERSION, JUDGE_METRICS, JUDGE_VERSION, METRICS,
                                     Reply, Score, World, consistency, score_reply)

RUNS_DIR = PROJECT_DIR / "eval" / "runs"
BASELINES_DIR = PROJECT_DIR / "eval" / "baselines"
ALL_ARMS = ("pe-zero-shot", "pe-few-shot", "pe-cot", "rag-dense", "rag-bm25", "rag-hybrid",
            "finetuned", "finetuned+rag", "control-null", "control-extractive")
# Arms with no language model: the floor every LLM arm is read against on the scorecard.
CONTROL_ARMS = ("control-null", "control-extractive")
# What the CI gate runs: the product's default arm (and the controls) on the default model, on
# the cases tagged `gate`, most of which reach the model (manual, policy and compatibility
# questions). Prompt-only against RAG is a finding of the full evaluation, not a regression check:
# a prompt-only arm on the default model would double the gate's run time.
GATE_ARMS = ("rag-hybrid",)
GATE_MODEL = DEFAULT_LLM
REFERENCE_ARM = "pe-zero-shot"
# The prompt files each kind of arm reads: adding an unrelated prompt re-answers nothing.
_ARM_PROMPTS = {"pe-": ("guidelines.md", "cot.md", "few_shot.yaml"),
                "rag-": ("guidelines.md", "rag.md"), "control-": ("guidelines.md", "rag.md"),
                "finetuned": ("finetuned.md", "guidelines.md", "rag.md")}
# The code whose content decides what an arm answers: the registry of strategies and every module
# of the package it imports, directly or not, read from the source (`answering_code`). Any change
# re-answers the arm's cases; a module split in two is followed, where a hand-kept list of paths
# would silently stop covering the new files. (Not the catalog and the adapter registry, which
# are data: the model's name and its file's pinned hash are in the answer's key instead.)
_ANSWERING = "store_assistant.answering.strategies"


def parse_arms(text: str | Iterable[str]) -> list[str]:
    """'rag-hybrid,pe-cot' -> the arms, or a ConfigError listing the valid ones."""
    from store_assistant.answering.strategies import STRATEGIES, check_strategy

    names = [a.strip() for a in (text.split(",") if isinstance(text, str) else text) if a.strip()]
    if not names:
        raise ConfigError(f"No arms given. Valid arms: {', '.join(STRATEGIES)}.")
    for name in names:
        check_strategy(name)
    return list(dict.fromkeys(names))


def parse_models(text: str | None, settings: Settings) -> list[str] | None:
    """'local/smollm2-135m,qwen2.5-coder-0.5b' -> litellm strings (a bare catalog name gets
    local/), each checked now against the catalog, [local_models], the adapters and litellm: a
    typo fails before an hour of answering, not after."""
    if text is None:
        return None
    from store_assistant.inference.catalog import CATALOG
    from store_assistant.inference.gateway import Gateway

    names = [m.strip() for m in text.split(",") if m.strip()]
    if not names:
        raise ConfigError("--models needs at least one model, e.g. local/smollm2-135m.")
    models = [f"local/{m}" if m in CATALOG else m for m in names]
    for model in models:
        Gateway(settings, model)  # registers this settings' local models, then checks the name
    return list(dict.fromkeys(models))


@dataclass
class EvalConfig:
    arms: list[str] = field(default_factory=lambda: list(GATE_ARMS))
    split: str | None = None
    categories: list[str] | None = None
    tags: list[str] | None = None
    repeats: int = 1
    model: str | None = None
    # The model ladder: every arm on each of these models (arms named "<arm>@<model>"); the
    # finetuned arms run on a model that has an adapter trained on it, and are skipped elsewhere.
    models: list[str] | None = None
    judge: str | None = None
    cases_dir: Path = CASES_DIR
    runs_dir: Path = RUNS_DIR
    cache_path: Path | None = None  # default: runs_dir/cache.sqlite
    freshness: bool = False
    controls: bool = True  # add the control arms: every scorecard shows what no model scores

    def __post_init__(self) -> None:
        if self.repeats < 1:
            raise ConfigError(f"--repeats must be at least 1, got {self.repeats}.")
        if self.models and (self.model or self.freshness):
            raise ConfigError("--models runs each arm on every model listed: use it without "
                              "--model and --freshness.")
        if self.split not in (None, "dev", "heldout"):
            raise ConfigError(f"--split must be dev or heldout, got {self.split!r}.")


def _sha(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def arm_hash(arm: str, settings: Settings) -> str:
    """What decides an arm's answers: its name, prompts, code and generation settings."""
    package = Path(__file__).parents[1]
    prompts = next((files for prefix, files in _ARM_PROMPTS.items() if arm.startswith(prefix)),
                   tuple(p.name for p in (package / "prompts").iterdir()))  # unknown arm: all
    texts = {name: (package / "prompts" / name).read_text(encoding="utf-8")
             for name in sorted(prompts) if (package / "prompts" / name).is_file()}
    texts.update({str(path.relative_to(package)): path.read_text(encoding="utf-8")
                  for path in answering_code(package)})
    knobs = {k: getattr(settings, k) for k in ("max_tokens", "temperature", "repeat_penalty",
                                               "n_ctx", "history_turns")}
    if settings.languages != ("en",):  # a question in another language is answered or not
        knobs["languages"] = list(settings.languages)
    if not settings.evidence_first:  # manual questions answered by the model's free text
        knobs["evidence_first"] = False
    if settings.embeddings != "minilm":  # another index: other excerpts
        knobs["embeddings"] = settings.embeddings
    return _sha(arm, texts, knobs, settings.local_models, _adapter(arm, settings))


def _adapter(arm: str, settings: Settings) -> str | None:
    """A fine-tuned arm's adapter hash: retraining under the same name re-answers its cases."""
    if not arm.startswith("finetuned"):
        return None
    from store_assistant.inference.models import active_model, load_registry

    name = (settings.finetuned_llm.removeprefix("local/") if settings.finetuned_llm
            else active_model(settings))
    entry = load_registry(settings)["models"].get(name)
    return entry["adapter_sha256"] if entry else None


def model_pin(model: str) -> str | None:
    """The pinned SHA-256 of a catalog model's file: new weights under the same name re-answer."""
    from store_assistant.inference.catalog import CATALOG

    entry = CATALOG.get(model.removeprefix("local/")) if model.startswith("local/") else None
    return entry.sha256 if entry else None


def short_model(model: str) -> str:
    """'local/qwen2.5-coder-0.5b' -> 'qwen2.5-coder-0.5b'; 'ollama/llama3.2' stays as it is."""
    return model.removeprefix("local/")


def rungs(settings: Settings, arms: list[str], models: list[str] | None,
          model: str | None = None) -> list[tuple[str, str, Settings, str | None]]:
    """(label, arm, settings, model) for every arm on every model of the ladder, model by model.

    Without a ladder each arm runs once under its own name. With one, an arm becomes
    "<arm>@<model>"; the control arms (no model) run once; a finetuned arm runs on a model only
    with an adapter trained on that model (the active one if it is, else the newest)."""
    if not models:
        return [(arm, arm, settings, model) for arm in arms]
    from store_assistant.inference.models import load_registry

    adapters = load_registry(settings)
    out = []
    for llm in models:
        for arm in arms:
            if arm in CONTROL_ARMS:
                continue
            at = settings
            if arm.startswith("finetuned"):
                on_base = [name for name, e in adapters["models"].items()
                           if e["base"] == short_model(llm)]
                if not on_base:
                    continue
                chosen = adapters["active"] if adapters["active"] in on_base else on_base[-1]
                at = settings.replace(finetuned_llm=f"local/{chosen}")
            out.append((f"{arm}@{short_model(llm)}", arm, at, llm))
    out += [(arm, arm, settings, None) for arm in arms if arm in CONTROL_ARMS]
    return out


def answering_code(package: Path) -> list[Path]:
    """The files of `_ANSWERING` and of every package module it imports, however deep, with the
    imports inside functions: 'from store_assistant.store import policy_rules' reaches
    store/policy_rules.py, and what that imports in turn. `package` is the folder of the
    `store_assistant` package (a copy of it, in the tests)."""
    prefix = _ANSWERING.split(".")[0]
    todo, seen = [_ANSWERING], {}
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        base = package.joinpath(*name.split(".")[1:])
        path = next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()), None)
        if path is None:  # 'from store_assistant.x import some_function': not a module
            continue
        seen[name] = path
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                todo += [a.name for a in node.names if a.name.split(".")[0] == prefix]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == prefix:
                todo += [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
    return sorted(seen.values())


def data_version(settings: Settings) -> str:
    """The inventory's content hash plus the indexed documents' and the policy rules' hashes."""
    from store_assistant.store.knowledge import read_manifest

    docs = {k: v["sha"] for k, v in read_manifest(settings)["documents"].items()}
    rules = settings.policies_dir / "rules.yaml"  # the computed policies' figures
    if rules.is_file():
        docs["rules.yaml"] = _sha(rules.read_text(encoding="utf-8"))
    return _sha(Inventory(inventory_path(settings)).data_version(), docs)


def case_key(case: GoldenCase) -> str:
    return _sha(case.question, case.history)


# --- running --------------------------------------------------------------------------------

def world_for(settings: Settings) -> World:
    from store_assistant.store.documents import read_folder

    chunks: dict[str, str] = {}
    titles: dict[str, str] = {}
    for folder, kind in ((settings.manuals_dir, "manual"), (settings.policies_dir, "policy")):
        for _, (_, doc_chunks) in read_folder(folder, kind).items():
            chunks.update({c.id: c.text for c in doc_chunks})
            titles.update({c.id: f"{c.title} > {c.heading}" for c in doc_chunks})
    return World(Inventory(inventory_path(settings)), AS_OF, chunks, chunk_titles=titles)


def answer_cases(settings: Settings, arms: list[str], cases: list[GoldenCase], repeats: int,
                 cache: AnswerCache, model: str | None = None,
                 progress: Callable[[str, bool], None] | None = None,
                 models: list[str] | None = None) -> list[Reply]:
    """Every (arm, case, repeat), from the cache when the key matches, else from the arm; with
    `models`, every arm on each model (see `rungs`)."""
    from store_assistant.inference.gateway import Gateway
    from store_assistant.inference.local import RUNTIME
    from store_assistant.answering.strategies import build_strategy

    if not inventory_path(settings).exists():
        raise DataError(f"No store data in {settings.data_dir}. Run `make data` or "
                        f"`store-assistant ingest` first.")
    version = data_version(settings)
    replies, previous = [], None
    for label, arm, at, llm in rungs(settings, arms, models, model):
        if models and llm != previous:
            RUNTIME.close()  # one model in memory at a time: each rung's RSS is its own
            previous = llm
        strategy = build_strategy(arm, Gateway(at, llm), at, today=AS_OF)
        config = arm_hash(arm, at)
        served = strategy.gateway.model
        for case in cases:
            for repeat in range(repeats):
                key = _sha(config, served, model_pin(served), case_key(case), version, repeat)
                cached = cache.get(key)
                if cached is not None and "raw_text" not in cached:
                    cached = None  # cached before the model's own text was kept: ask again
                if cached is not None:
                    replies.append(Reply(**{**cached, "arm": label}))
                else:
                    reply = _ask(strategy, label, case, repeat, served)
                    if reply.error is None:  # failures are retried on the next run
                        cache.put(key, reply.to_dict())
                    replies.append(reply)
                if progress:
                    progress(label, cached is not None)
    return replies


def _ask(strategy, arm: str, case: GoldenCase, repeat: int, model: str) -> Reply:
    started, cpu = time.perf_counter(), time.process_time()
    try:
        stream = strategy.stream(case.question, list(case.history))
        for _ in stream:
            pass
        answer = stream.answer
    except StoreAssistantError as exc:
        return Reply(case.id, arm, repeat, "", model, latency_ms=(time.perf_counter() - started) * 1000,
                     error=f"{type(exc).__name__}: {exc}")
    return Reply(case.id, arm, repeat, answer.text, answer.model,
                 sources=[s.id for s in answer.sources if s.read], retrieved=list(answer.retrieved),
                 latency_ms=answer.latency_ms, ttft_ms=answer.ttft_ms, usage=dict(answer.usage),
                 cost_usd=answer.cost_usd, flags=list(answer.flags), path=answer.path,
                 raw_text=None if answer.path == "data" else answer.raw_text,
                 cpu_s=time.process_time() - cpu, rss_mb=_rss_mb())


def _rss_mb() -> float | None:
    """Resident memory now (Linux /proc); None where there is no /proc."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            pages = int(handle.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def training_records(settings: Settings) -> list[dict]:
    """The chats the active fine-tuned model was trained on (its registry entry's train and
    valid files), or finetune_data/generated/ when no model is registered. [] when neither exists:
    every case is then untaught."""
    from store_assistant.inference.models import load_registry

    registry = load_registry(settings)
    entry = registry["models"].get(registry["active"] or "", {})
    files = [entry.get("data", {}).get(k) for k in ("train", "valid")]
    paths = [PROJECT_DIR / f for f in files if f] or [
        PROJECT_DIR / "finetune_data" / "generated" / f"{k}.jsonl" for k in ("train", "valid")]
    records = []
    for path in paths:
        if path.is_file():
            try:
                records += [json.loads(line) for line in
                            path.read_text(encoding="utf-8").splitlines() if line.strip()]
            except (ValueError, UnicodeDecodeError) as exc:
                raise DataError(f"{path} cannot be read to tag taught cases ({exc}).") from None
    return records


def score_all(cases: list[GoldenCase], replies: list[Reply],
              world: World) -> list[tuple[Reply, dict[str, Score]]]:
    """Per-answer metrics, then consistency across each paraphrase/persona group."""
    by_id = {c.id: c for c in cases}
    scored = [(r, score_reply(by_id[r.case_id], r, world)) for r in replies]
    groups: dict[tuple, list[tuple[GoldenCase, Reply, dict]]] = {}
    for reply, scores in scored:
        case = by_id[reply.case_id]
        if case.group:
            groups.setdefault((reply.arm, case.group, reply.repeat), []).append((case, reply, scores))
    for members in groups.values():
        verdicts = consistency([(c, r) for c, r, _ in members], world)
        for case, _, scores in members:
            scores["consistency"] = verdicts[case.id]
    for reply, scores in scored:
        scores.setdefault("consistency", Score(None, "not in a paraphrase or persona group"))
    return scored


def judge(settings: Settings, model: str, cases: list[GoldenCase],
          scored: list[tuple[Reply, dict[str, Score]]], world: World, progress: bool) -> None:
    """Add the optional LLM-judge scores to every answer (slow: two judge calls per answer)."""
    from tqdm import tqdm

    from store_assistant.evaluation.judge import judge_llm
    from store_assistant.evaluation.metrics import judge_scores

    llm = judge_llm(settings, model)
    by_id = {c.id: c for c in cases}
    for reply, scores in tqdm(scored, desc=f"judging ({model})", disable=not progress):
        scores.update(judge_scores(by_id[reply.case_id], reply, world, llm))


def results_from(scored: list[tuple[Reply, dict[str, Score]]], cases: list[GoldenCase],
                 meta: dict, records: list[dict] | None = None) -> dict:
    """The JSON the scorecard reads: per arm, per case, each metric averaged over repeats.

    `records` (the fine-tuning chats) tag each heldout case taught or untaught: was its answer in
    the training data? Without them the cases carry no tag."""
    by_id = {c.id: c for c in cases}
    arms = list(dict.fromkeys(r.arm for r, _ in scored))
    sums: dict[str, dict[str, dict[str, list]]] = {a: {} for a in arms}
    failures: dict[str, dict[str, int]] = {a: {} for a in arms}
    # Latency, tokens and cost of the answers the model wrote; answers built from data (no model
    # call, milliseconds) are kept apart, or they would make an arm look fast by not asking it.
    perf: dict[str, dict[str, list]] = {a: {"latency_ms": [], "ttft_ms": [], "tokens": [],
                                            "prompt_tokens": [], "cost_usd": [], "cpu_s": [],
                                            "rss_mb": []} for a in arms}
    perf_data: dict[str, dict[str, list]] = {a: {"latency_ms": [], "cpu_s": []} for a in arms}
    models: dict[str, str] = {}
    paths: dict[str, dict[str, str]] = {a: {} for a in arms}
    for reply, scores in scored:
        if reply.repeat == 0:
            paths[reply.arm][reply.case_id] = "error" if reply.error else (reply.path or "unknown")
        if reply.error is None:
            models.setdefault(reply.arm, reply.model)
        per_case = sums[reply.arm].setdefault(reply.case_id, {})
        for name, score in scores.items():
            per_case.setdefault(name, [])
            if score.value is not None:
                per_case[name].append(float(score.value))
            if score.failed:
                failures[reply.arm][name] = failures[reply.arm].get(name, 0) + 1
        if reply.error is None and reply.path == "data":
            perf_data[reply.arm]["latency_ms"].append(reply.latency_ms)
            perf_data[reply.arm]["cpu_s"].append(reply.cpu_s)
        elif reply.error is None:
            perf[reply.arm]["latency_ms"].append(reply.latency_ms)
            perf[reply.arm]["ttft_ms"].append(reply.ttft_ms)
            perf[reply.arm]["tokens"].append(reply.usage.get("completion_tokens", 0))
            perf[reply.arm]["prompt_tokens"].append(reply.usage.get("prompt_tokens", 0))
            perf[reply.arm]["cost_usd"].append(reply.cost_usd)
            perf[reply.arm]["cpu_s"].append(reply.cpu_s)
            perf[reply.arm]["rss_mb"].append(reply.rss_mb)
    values = {arm: {cid: {m: (sum(v) / len(v) if v else None) for m, v in ms.items()}
                    for cid, ms in per_case.items()} for arm, per_case in sums.items()}
    return {
        "run": meta,
        "arms": arms,
        "metrics": {**{n: {"version": m.version, "label": m.label,
                           "higher_is_better": m.higher_is_better} for n, m in METRICS.items()},
                    "consistency": {"version": CONSISTENCY_VERSION, "label": "Consistency",
                                    "higher_is_better": True},
                    **{n: {"version": JUDGE_VERSION, "label": label, "higher_is_better": True}
                       for n, label in JUDGE_METRICS.items()
                       if any(n in scores for _, scores in scored)}},
        "cases": {c.id: {"category": c.category, "split": c.split, "group": c.group,
                         "question": c.question,
                         **({"taught": taught(c, records)} if records and c.split == "heldout"
                            else {})} for c in cases},
        "scores": values,
        "failures": failures,
        "perf": perf,
        "perf_data": perf_data,
        "models": models,  # the model that wrote each arm's answers
        "paths": paths,
    }


def run_eval(settings: Settings, config: EvalConfig, progress: bool = True) -> Path:
    """Answer, score and write one run; returns its folder."""
    from tqdm import tqdm

    cases = select(load_cases(config.cases_dir), split=config.split,
                   categories=config.categories, tags=config.tags)
    if not cases:
        raise DataError("No golden cases match the given --split/--category/--tag.")
    arms = parse_arms(config.arms)
    if config.controls:
        arms += [arm for arm in CONTROL_ARMS if arm not in arms]
    if config.judge:
        from store_assistant.inference.gateway import check_model

        check_model(config.judge)  # a typo fails now, not after an hour of answering
    cache = AnswerCache(config.cache_path or config.runs_dir / "cache.sqlite")
    started = datetime.now(timezone.utc)
    plan = rungs(settings, arms, config.models, config.model)
    # What made the answers, taken before answering: an edit or commit during a long run must not
    # relabel it.
    commit = source_commit()
    hashes = {label: arm_hash(arm, at) for label, arm, at, _ in plan}
    total = len(plan) * len(cases) * config.repeats
    with tqdm(total=total, desc="answering", unit="answer", disable=not progress) as bar:
        hits = {"cached": 0}

        def tick(arm: str, cached: bool) -> None:
            hits["cached"] += cached
            bar.set_postfix(arm=arm, cached=hits["cached"])
            bar.update()

        replies = answer_cases(settings, arms, cases, config.repeats, cache, config.model, tick,
                               config.models)
    arms = [label for label, *_ in plan]  # with a ladder, "<arm>@<model>"
    world = world_for(settings)
    scored = score_all(cases, replies, world)
    if config.judge:
        judge(settings, config.judge, cases, scored, world, progress)
    meta = {"id": _run_id(started, arms, cases), "started": started.isoformat(timespec="seconds"),
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "arms": arms, "model": config.model or settings.llm, "models": config.models,
            "core_hour_usd": settings.core_hour_usd, "judge": config.judge,
            "split": config.split,
            "categories": config.categories, "tags": config.tags, "repeats": config.repeats,
            "cases": len(cases), "as_of": AS_OF.isoformat(), "data_version": data_version(settings),
            "arm_hashes": hashes, "commit": commit, "cached_answers": hits["cached"], "answers": len(replies)}
    results = results_from(scored, cases, meta, training_records(settings))
    if config.cases_dir == CASES_DIR and LABELS_FILE.exists():
        everything = {c.id: c for c in load_cases(config.cases_dir)}
        found = agreement(load_labels(cases=everything), everything, world)
        results["agreement"] = {**found, "misses": len(found["misses"])}
    if config.freshness:
        results["freshness"] = check_freshness(settings, arms, cases, cache, config.model, world)
    return write_run(config.runs_dir, results, scored)


def check_freshness(settings: Settings, arms: list[str], cases: list[GoldenCase],
                    cache: AnswerCache, model: str | None = None,
                    world: World | None = None) -> dict:
    """The freshness experiment (`freshness.py`), its answers asked and cached like any other."""
    return freshness(settings, arms, cases, world or world_for(settings),
                     lambda at, affected: answer_cases(at, arms, affected, 1, cache, model))


def source_commit() -> str | None:
    """The git commit the code was at ('…-dirty' with uncommitted changes), so every result
    names what made it; None outside a git checkout."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=PROJECT_DIR, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    try:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", "store_assistant")
    except (OSError, subprocess.SubprocessError):
        return None
    return (commit + ("-dirty" if dirty else "")) if commit else None


def _run_id(started: datetime, arms: list[str], cases: list[GoldenCase]) -> str:
    return f"{started:%Y%m%d-%H%M%S}-{_sha(arms, [c.id for c in cases])[:6]}"


def write_run(runs_dir: Path, results: dict, scored: list[tuple[Reply, dict[str, Score]]]) -> Path:
    """Write the run folder whole or not at all."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    base, n = results["run"]["id"], 1
    while (runs_dir / results["run"]["id"]).exists():  # two runs in the same second
        n += 1
        results["run"]["id"] = f"{base}-{n}"
    final = runs_dir / results["run"]["id"]
    with atomic_folder(final) as scratch:
        lines = [json.dumps({**reply.to_dict(), "scores": {k: v.to_dict() for k, v in scores.items()}},
                            ensure_ascii=False) for reply, scores in scored]
        (scratch / "answers.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (scratch / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
        write_scorecard(results, load_baseline(None, results), scratch)
    return final


# --- baselines ------------------------------------------------------------------------------

def baseline_name(run: dict) -> str:
    """The committed baseline a run is compared with: the CI gate subset, a split, or all cases."""
    if run.get("kind") == "analytics":
        return "analytics"
    if run.get("tags") == ["gate"]:
        return "gate"
    if run.get("models"):
        return "ladder"
    return run.get("split") or "all"


def load_baseline(name: str | None, results: dict, folder: Path | None = None) -> dict | None:
    path = (folder or BASELINES_DIR) / f"{name or baseline_name(results['run'])}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def update_baseline(results: dict, name: str, folder: Path = BASELINES_DIR) -> Path:
    """Commit a run's results as the named baseline: only ever on an explicit request."""
    path = folder / f"{name}.json"
    slim = {k: v for k, v in results.items() if k != "freshness"}
    write_atomic(path, json.dumps(slim, indent=1, sort_keys=True))
    return path
