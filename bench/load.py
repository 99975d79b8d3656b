"""Load test: N concurrent chat sessions against the real app, the way browsers drive it.

`python bench/load.py --sessions 8 --duration 300` starts `streamlit run app.py` on a loopback port,
opens one websocket per session on /_stcore/stream and speaks Streamlit's own protocol to it: a
BackMsg `rerun_script` whose widget states hold the chat input's submitted text, then ForwardMsg
deltas until `script_finished`. Each answer is read back from the rendered markdown, so "answered"
means an assistant bubble with text in it, not just a finished run; "refused" is an st.error or
st.warning instead (busy, timeout), "failed" a traceback, a dropped socket or no end in --timeout.
Questions asked before --duration is up are waited for, so the measured time can be longer.
Needs `make data`, and an otherwise idle machine: llama.cpp takes every core, and any other CPU
load (a test run) slowed one answer from ~10 s to over 2 minutes here. Results go to bench/results/.

`--apps 2 --model-server` measures the way to serve one model to several app processes: one
`store-assistant model serve` (llama-cpp-python's server, the configured catalog model) and N
apps pointed at it, sessions spread over the apps. `--duration 1800` is the soak: the app's
resident memory is sampled every 10 s (after the warm-up vs at the end), and the answer log's
lines are counted against the questions asked.

Trade-off: speaking the protocol instead of running headless browsers exercises the same server
path (a session per socket, a script rerun per question, the one cached model behind its lock) at
a few MB per session, where eight Chromiums would not fit on two cores; it does not measure browser
rendering, and it leans on protocol details that Streamlit may change. So nothing is hard-coded:
widget ids and the Strategy options come from the first run's deltas, and the chat input's value
field (`chat_input_value`, formerly `string_trigger_value`) from the installed proto.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.Markdown_pb2 import Markdown
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, WebSocketException

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from store_assistant.files import write_atomic  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MAIN, ASSISTANT, USER = 0, "assistant", "user"  # RootContainer.MAIN; chat_message names
# Streamlit 1.5x sent chat input text as string_trigger_value; newer ones as chat_input_value.
CHAT_VALUE_FIELD = next(name for name in ("chat_input_value", "string_trigger_value")
                        if name in WidgetState.DESCRIPTOR.fields_by_name)


class Dropped(Exception):
    """The websocket closed or the run did not finish in time: this session must reconnect."""


# --- the app under test ----------------------------------------------------------------------

def scratch_data(source: Path) -> Path:
    """A copy of the prepared store data for the app under test: its answers must not land in the
    real answer log (the Operations page), and Qdrant local mode lets one process hold a folder."""
    if not (source / "inventory.db").exists():
        sys.exit(f"No store data in {source}. Run `make data` first.")
    scratch = Path(tempfile.mkdtemp(prefix="store-assistant-load-"))
    shutil.copytree(source, scratch / "data", ignore=shutil.ignore_patterns(
        "answer-log", "users.json", "accounts.db", ".lock", "*.tmp"))
    return scratch / "data"


def start_app(port: int, log: Path, data_dir: Path, extra_env: dict | None = None
              ) -> subprocess.Popen:
    with socket.socket() as probe:  # a leftover app on the port would be measured instead
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            sys.exit(f"Port {port} is already in use. Stop what runs there or pass --port.")
    # No file watcher: another checkout being edited must not mark the script changed mid-run.
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
               "--server.headless", "true", "--server.fileWatcherType", "none"]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:  # the child keeps its own copy of the descriptor
        env = {**os.environ, "STORE_ASSISTANT_DATA_DIR": str(data_dir), **(extra_env or {})}
        app = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                               start_new_session=True)  # Ctrl-C reaches us; we stop it in order
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if app.poll() is not None:
            sys.exit(f"The app exited with code {app.returncode} at start-up; see {log}.")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return app
        except OSError:
            time.sleep(0.5)
    stop_app(app)
    sys.exit(f"The app did not answer /_stcore/health within 120 s; see {log}.")


def stop_app(app: subprocess.Popen) -> None:
    if app.poll() is None:
        app.terminate()
        try:
            app.wait(timeout=15)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()


def start_model_server(port: int, log: Path) -> tuple[subprocess.Popen, str]:
    """`store-assistant model serve` (the configured catalog model) on loopback; (process, its
    model name)."""
    from store_assistant.config import load_settings

    name = load_settings().llm.removeprefix("local/")
    command = [str(Path(sys.executable).with_name("store-assistant")), "model", "serve", name,
               "--port", str(port)]
    with log.open("w") as out:
        server = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"The model server exited with code {server.returncode}; see {log}.")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2):
                return server, name
        except OSError:
            time.sleep(0.5)
    stop_app(server)
    sys.exit(f"The model server did not answer within 120 s; see {log}.")


def rss_mb(pid: int) -> float | None:
    """Resident memory of one process (MB), from /proc; None once it has exited."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


async def sample_memory(processes: dict[str, subprocess.Popen], samples: list[dict],
                        t0: dict) -> None:
    """Every 10 s: each process's RSS, stamped with seconds since the sessions started."""
    while True:
        start = t0.get("t0")
        samples.append({"t": None if start is None else round(time.monotonic() - start, 1),
                        **{name: rss_mb(p.pid) for name, p in processes.items()}})
        await asyncio.sleep(10)


def memory_summary(samples: list[dict], names: list[str]) -> dict:
    """RSS right after the warm-up (first sample once sessions started) vs the last sample."""
    timed = [s for s in samples if s["t"] is not None]
    out = {}
    for name in names:
        values = [s[name] for s in timed if s.get(name) is not None]
        if not values:
            continue
        first, last = values[0], values[-1]
        out[name] = {"after_warmup_mb": round(first, 1), "end_mb": round(last, 1),
                     "max_mb": round(max(values), 1),
                     "drift_pct": round((last - first) / first * 100, 2)}
    return out


# --- one browser-like session ----------------------------------------------------------------

class Render:
    """What one script run drew: the final element or block at each delta path of the main area."""

    def __init__(self) -> None:
        self.nodes: dict[tuple[int, ...], tuple[str, object]] = {}
        self.text_at: dict[tuple[int, ...], float] = {}  # when text first appeared at a path
        self.chat_inputs: list = []  # ChatInput protos, in the order they were drawn
        self.selectboxes: dict[str, object] = {}  # Selectbox protos by label

    def add(self, path: tuple[int, ...], delta) -> None:
        kind = delta.WhichOneof("type")
        if kind == "add_block":
            self.nodes[path] = ("block", delta.add_block)
        elif kind == "new_element":
            name = delta.new_element.WhichOneof("type")
            proto = getattr(delta.new_element, name)
            if name == "chat_input":
                self.chat_inputs.append(proto)
            elif name == "selectbox":
                self.selectboxes[proto.label] = proto
            elif name == "markdown" and proto.body:
                self.text_at.setdefault(path, time.monotonic())
            self.nodes[path] = (name, proto)

    def under(self, prefix: tuple[int, ...]) -> list[tuple[tuple[int, ...], str, object]]:
        return [(path, kind, node) for path, (kind, node) in sorted(self.nodes.items())
                if path[:len(prefix)] == prefix and len(path) > len(prefix)]

    def outcome(self, question: str) -> dict:
        """answered / refused / failed for `question`, with the answer text or the message."""
        exceptions = [n.message for kind, n in self.nodes.values() if kind == "exception"]
        if exceptions:  # a traceback on the page is a failure even if an answer is there too
            return {"outcome": "failed", "detail": f"exception: {exceptions[0]}"}
        bubble = self.reply_to(question)
        if bubble is not None:
            drawn = self.under(bubble)
            texts = [n.body for _, kind, n in drawn
                     if kind == "markdown" and n.element_type != Markdown.CAPTION]
            captions = [n.body for _, kind, n in drawn
                        if kind == "markdown" and n.element_type == Markdown.CAPTION]
            if texts and texts[0].strip():  # streamed words came first, at the bubble's child
                first = min(self.text_at.get(path, float("inf")) for path, _, _ in drawn)
                return {"outcome": "answered", "detail": texts[0], "first_text_at": first,
                        "caption": captions[0] if captions else ""}
        alerts = [n.body for _, (kind, n) in sorted(self.nodes.items())
                  if kind == "alert" and n.format in (Alert.ERROR, Alert.WARNING)]
        if alerts:
            return {"outcome": "refused", "detail": alerts[-1]}
        return {"outcome": "failed", "detail": "no answer or message rendered"}

    def reply_to(self, question: str) -> tuple[int, ...] | None:
        """The assistant bubble drawn right after the last user bubble, if that one is `question`.

        Every run redraws the whole conversation, so the newest turn is the last pair."""
        chats = [(path, node.chat_message.name) for path, kind, node in self.under((MAIN,))
                 if kind == "block" and node.WhichOneof("type") == "chat_message"]
        users = [i for i, (_, name) in enumerate(chats) if name == USER]
        if not users or users[-1] + 1 == len(chats) or chats[users[-1] + 1][1] != ASSISTANT:
            return None
        asked = [n.body for _, kind, n in self.under(chats[users[-1]][0]) if kind == "markdown"]
        shown = [_unescaped(body) for body in asked[:1]]
        return chats[users[-1] + 1][0] if shown == [question] else None


def _unescaped(markdown: str) -> str:
    """The app shows questions markdown-escaped ('$1,000' as '\\$1,000'): the text typed."""
    return re.sub(r"\\([\\`*_{}\[\]()<>#+\-.!|~$])", r"\1", markdown)


class ChatSession:
    def __init__(self, url: str, timeout: float) -> None:
        self.url, self.timeout = url, timeout
        self.socket = None
        self.page_hash = ""  # the page the server says we are on, sent back like a browser does
        self.strategy_state: WidgetState | None = None
        self.chat_input_id = ""

    async def open(self, strategy: str | None) -> None:
        # Browsers send no pings and accept any message size (Streamlit's limit is 200 MB).
        self.socket = await connect(self.url, subprotocols=["streamlit"], max_size=None,
                                    ping_interval=None)
        first = await self.run([])
        if not first.chat_inputs:
            raise Dropped("no chat input on the first page (is staff_login on?)")
        self.chat_input_id = first.chat_inputs[0].id
        if strategy:
            box = first.selectboxes.get("Strategy")
            if box is None or strategy not in box.options:
                sys.exit(f"--strategy {strategy}: not among {list(box.options) if box else []}.")
            self.strategy_state = WidgetState(id=box.id, string_value=strategy)
            await self.run([])  # load the chosen strategy now, not inside the first timed answer

    async def ask(self, question: str) -> Render:
        trigger = WidgetState(id=self.chat_input_id)
        getattr(trigger, CHAT_VALUE_FIELD).data = question
        return await self.run([trigger])

    async def run(self, widgets: list[WidgetState]) -> Render:
        """Send one rerun with these widget states and collect its deltas until it finishes."""
        message = BackMsg()
        message.rerun_script.page_script_hash = self.page_hash
        states = [self.strategy_state] if self.strategy_state else []
        message.rerun_script.widget_states.widgets.extend(states + widgets)
        await self.socket.send(message.SerializeToString())
        render, deadline = Render(), time.monotonic() + self.timeout
        while True:
            try:
                data = await asyncio.wait_for(self.socket.recv(),
                                              max(deadline - time.monotonic(), 0.01))
            except asyncio.TimeoutError:
                raise Dropped(f"no script_finished within {self.timeout:.0f} s") from None
            except ConnectionClosed as exc:
                raise Dropped(f"websocket closed by the server ({exc})") from None
            forward = ForwardMsg()
            forward.ParseFromString(data)
            kind = forward.WhichOneof("type")
            if kind == "delta":
                render.add(tuple(forward.metadata.delta_path), forward.delta)
            elif kind in ("new_session", "navigation"):
                self.page_hash = getattr(forward, kind).page_script_hash or self.page_hash
            elif kind == "script_finished":
                if forward.script_finished == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    raise Dropped("the script did not compile")
                if forward.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:  # st.rerun()
                    return render

    async def close(self) -> None:
        if self.socket is not None:
            socket, self.socket = self.socket, None
            await socket.close()


LOST = (Dropped, WebSocketException, OSError)  # the session is gone; a browser would reload


async def ask_once(session: ChatSession, question: str, strategy: str | None) -> dict:
    """One question, timed from its send; a lost session is closed, so the next one reopens."""
    start = time.monotonic()
    try:
        if session.socket is None:
            await session.open(strategy)
            start = time.monotonic()
        result = (await session.ask(question)).outcome(question)
    except LOST as exc:
        result = {"outcome": "failed", "detail": f"{type(exc).__name__}: {exc}"}
        await session.close()
    end, first = time.monotonic(), result.pop("first_text_at", None)
    return {"question": question, "start": start, "end": end, "latency": round(end - start, 3),
            "first_text": round(first - start, 3) if first else None, **result}


async def warm_up(url: str, args, question: str) -> dict:
    """One untimed answer first: it also loads the embedder and builds the BM25 index."""
    session = ChatSession(url, args.timeout)
    try:
        result = await ask_once(session, question, args.strategy)
    finally:
        await session.close()
    print(f"warm-up: {result['outcome']} in {result['latency']:.1f}s", flush=True)
    return {"latency": result["latency"], "outcome": result["outcome"],
            "detail": result["detail"][:300]}


async def drive(index: int, urls: list[str], args, questions: list[str], t0: float,
                records: list[dict]) -> None:
    """One session: ask the next question, wait for the run, repeat until the duration is up.
    Sessions are spread over the apps round-robin."""
    url = urls[index % len(urls)]
    session, turn = ChatSession(url, args.timeout), 0
    try:
        while time.monotonic() < t0 + args.duration:
            record = await ask_once(session, questions[(index + turn) % len(questions)],
                                    args.strategy)
            if session.socket is None:
                await asyncio.sleep(1)  # a broken app must not become a tight reconnect loop
            record.update(session=index, start=round(record["start"] - t0, 3),
                          end=round(record["end"] - t0, 3))
            records.append(record)
            print(f"[s{index}] {record['end']:6.1f}s {record['outcome']:8} "
                  f"{record['latency']:5.1f}s  {record['question'][:40]!r} -> "
                  f"{record['detail'][:90]!r}", flush=True)
            turn += 1
    finally:
        await session.close()


# --- results ---------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks: percentile([1, 2, 3, 4], 0.5) == 2.5."""
    if not values:
        return None
    ordered, position = sorted(values), (len(values) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarize(records: list[dict], sessions: int, elapsed: float, log: Path) -> dict:
    """`elapsed`: seconds from the first question to the last answer (or to Ctrl-C)."""
    answered = [r for r in records if r["outcome"] == "answered"]
    latencies = [r["latency"] for r in answered]
    first_texts = [r["first_text"] for r in answered]
    per_session = {}
    for index in range(sessions):
        own = [r for r in records if r["session"] == index]
        done = [r["latency"] for r in own if r["outcome"] == "answered"]
        per_session[index] = {"requests": len(own), "answered": len(done),
                              "median_latency": statistics.median(done) if done else None}
    counts = [s["answered"] for s in per_session.values()]
    medians = [s["median_latency"] for s in per_session.values() if s["median_latency"] is not None]
    logs = [log, *sorted(log.parent.glob(log.stem + ".*.log"))]  # every app's, with --apps
    app_log = "".join(p.read_text(errors="replace") for p in logs if p.exists())
    return {
        "requests": len(records),
        **{outcome: sum(r["outcome"] == outcome for r in records)
           for outcome in ("answered", "refused", "failed")},
        "latency_p50": percentile(latencies, 0.5), "latency_p95": percentile(latencies, 0.95),
        "latency_max": max(latencies, default=None),
        "first_text_p50": percentile(first_texts, 0.5),
        "first_text_p95": percentile(first_texts, 0.95),
        "elapsed_s": round(elapsed, 3),
        "answers_per_minute": len(answered) / elapsed * 60 if elapsed else 0.0,
        # Jain's index: 1.0 when every session got as many answers, 1/n when one got them all.
        "jain_fairness": (sum(counts) ** 2 / (len(counts) * sum(c * c for c in counts))
                          if any(counts) else None),
        "median_latency_max": max(medians, default=None),
        "median_latency_min": min(medians, default=None),
        "per_session": per_session,
        "app_log": str(log), "app_log_tracebacks": app_log.count("Traceback (most recent call"),
    }


def table(config: dict, s: dict) -> str:
    def f(value: float | None, digits: int = 1) -> str:
        return "n/a" if value is None else f"{value:.{digits}f}"

    rows = [("commit", (config.get("commit") or "unknown")[:12]),
            ("sessions", config["sessions"]),
            ("duration (s)", f"{config['duration']} (measured {f(s['elapsed_s'])}"
                             f"{', interrupted' if config['interrupted'] else ''})"),
            ("warm-up answer (s, untimed)", ", ".join(
                f(w.get("latency")) for w in config.get("warmup", [])) or "n/a"),
            ("strategy", config["strategy"] or "app default"),
            ("requests", s["requests"]),
            ("answered / refused / failed", f"{s['answered']} / {s['refused']} / {s['failed']}"),
            ("answer latency p50 / p95 / max (s)",
             f"{f(s['latency_p50'])} / {f(s['latency_p95'])} / {f(s['latency_max'])}"),
            ("first words p50 / p95 (s)",
             f"{f(s['first_text_p50'])} / {f(s['first_text_p95'])}"),
            ("throughput (answers/min)", f(s["answers_per_minute"], 2)),
            ("fairness: Jain's index of answers per session", f(s["jain_fairness"], 3)),
            ("per-session median latency max / min (s)",
             f"{f(s['median_latency_max'])} / {f(s['median_latency_min'])}"),
            ("tracebacks in the app log", s["app_log_tracebacks"]),
            ("apps (model server)", f"{config.get('apps', 1)} "
                                    f"({'shared' if config.get('model_server') else 'none'})"),
            ("lines in the app's answer log (requests + warm-up)",
             config.get("app_answer_log_lines", "n/a")),
            ("lost answer-log lines", s.get("lost_log_lines", "n/a")),
            *[(f"RSS {name}: after warm-up / end / max (MB), drift",
               f"{m['after_warmup_mb']:.0f} / {m['end_mb']:.0f} / {m['max_mb']:.0f}, "
               f"{m['drift_pct']:+.1f}%") for name, m in s.get("memory", {}).items()],
            ("app settings from the environment", ", ".join(
                f"{k}={v}" for k, v in sorted(config.get("app_env", {}).items())) or "none")]
    lines = ["| metric | value |", "| --- | --- |", *[f"| {k} | {v} |" for k, v in rows], "",
             "| session | requests | answered | median latency (s) |", "| --- | --- | --- | --- |"]
    lines += [f"| {i} | {p['requests']} | {p['answered']} | {f(p['median_latency'])} |"
              for i, p in s["per_session"].items()]
    return "\n".join(lines) + "\n"


# --- main ------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--duration", type=float, default=300, help="seconds to start requests for")
    parser.add_argument("--port", type=int, default=8531, help="first app's port (then +1, +2...)")
    parser.add_argument("--apps", type=int, default=1, help="app processes (default 1)")
    parser.add_argument("--model-server", action="store_true",
                        help="the apps share one `store-assistant model serve` process")
    parser.add_argument("--server-port", type=int, default=8591)
    parser.add_argument("--strategy", help="Strategy selectbox option (default: the app's)")
    parser.add_argument("--questions", type=Path, default=ROOT / "bench" / "load_questions.txt")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "load.json")
    parser.add_argument("--timeout", type=float, default=180, help="seconds per request")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data",
                        help="prepared store data, copied to a scratch folder for each app")
    parser.add_argument("--no-warmup", action="store_true", help="skip the untimed first answer")
    parser.add_argument("--warmup-all", action="store_true",
                        help="warm up with every question once (every answer path and cache "
                             "loaded), not just the first: the soak's memory baseline")
    args = parser.parse_args()
    questions = [line.strip() for line in args.questions.read_text(encoding="utf-8").splitlines()
                 if line.strip() and not line.lstrip().startswith("#")]
    if not questions or args.sessions < 1 or args.apps < 1:
        sys.exit(f"Need at least one app, one session and one question in {args.questions}.")
    log = args.out.with_suffix(".app.log")
    from store_assistant.evaluation.runner import source_commit

    config = {**vars(args), "questions": str(args.questions), "out": str(args.out),
              "chat_value_field": CHAT_VALUE_FIELD, "commit": source_commit()}
    records: list[dict] = []
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops the app like Ctrl-C
    config["app_env"] = {k: v for k, v in os.environ.items() if k.startswith("STORE_ASSISTANT_")}
    processes: dict[str, subprocess.Popen] = {}
    extra_env = {}
    if args.model_server:
        server, name = start_model_server(args.server_port, args.out.with_suffix(".server.log"))
        processes["model-server"] = server
        extra_env = {"STORE_ASSISTANT_LLM": f"openai/{name}", "OPENAI_API_KEY": "none",
                     "STORE_ASSISTANT_API_BASE": f"http://127.0.0.1:{args.server_port}/v1"}
        config["app_env"].update({k: v for k, v in extra_env.items() if k != "OPENAI_API_KEY"})
    data_dirs = [scratch_data(args.data_dir) for _ in range(args.apps)]
    config["data_dirs"] = [str(d) for d in data_dirs]
    for i, data_dir in enumerate(data_dirs):
        app_log = log if i == 0 else log.with_suffix(f".{i}.log")
        processes[f"app{i}"] = start_app(args.port + i, app_log, data_dir, extra_env)
    urls = [f"ws://127.0.0.1:{args.port + i}/_stcore/stream" for i in range(args.apps)]
    clock: dict = {}
    samples: list[dict] = []

    async def everyone() -> None:
        sampler = asyncio.create_task(sample_memory(processes, samples, clock))
        if not args.no_warmup:
            config["warmup"] = [await warm_up(url, args, question) for url in urls
                                for question in (questions if args.warmup_all else questions[:1])]
        t0 = clock["t0"] = time.monotonic()
        try:
            await asyncio.gather(*(drive(i, urls, args, questions, t0, records)
                                   for i in range(args.sessions)))
        finally:
            samples.append({"t": round(time.monotonic() - t0, 1),
                            **{name: rss_mb(p.pid) for name, p in processes.items()}})
            sampler.cancel()
    config["interrupted"] = False
    try:
        asyncio.run(everyone())
    except KeyboardInterrupt:
        config["interrupted"] = True
        print("Interrupted: writing what was measured so far.", file=sys.stderr)
    finally:
        elapsed = time.monotonic() - clock.get("t0", time.monotonic())
        for process in processes.values():
            stop_app(process)
        config["app_answer_log_lines"] = sum(
            len(p.read_text(encoding="utf-8").splitlines())
            for data_dir in data_dirs for p in (data_dir / "answer-log").glob("*.jsonl"))
        for data_dir in data_dirs:
            shutil.rmtree(data_dir.parent, ignore_errors=True)
    summary = summarize(records, args.sessions, elapsed, log)
    asked = len(records) + len(config.get("warmup", []))
    summary["lost_log_lines"] = asked - config["app_answer_log_lines"]
    summary["memory"] = memory_summary(samples, list(processes))
    report = {"config": config, "summary": summary, "memory_samples": samples,
              "requests": records}
    write_atomic(args.out, json.dumps(report, indent=2, default=str) + "\n")
    write_atomic(args.out.with_suffix(".md"), table(config, summary))
    print(table(config, summary), end="")


if __name__ == "__main__":
    main()
