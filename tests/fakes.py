"""A scripted stand-in for the gateway, for tests that need one specific model output.

It is a small real class, not a mock: it answers from a queue, remembers what it was sent, and
raises on any call nobody scripted, so a test cannot pass by accident.
"""

from __future__ import annotations

import time

from store_assistant.inference.gateway import Completion


class ScriptedGateway:
    model = "scripted/fake"
    is_local = False

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.sent: list[list[dict[str, str]]] = []

    def complete(self, messages: list[dict[str, str]], **params) -> Completion:
        if not self.replies:
            raise AssertionError(f"unscripted model call: {messages[-1]['content']!r}")
        self.sent.append(messages)
        text = self.replies.pop(0)
        return Completion(text=text, model=self.model, latency_ms=1.0, ttft_ms=None,
                          usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                          cost_usd=0.0, started=time.perf_counter())

    def stream(self, messages: list[dict[str, str]], **params) -> "_Stream":
        return _Stream(self.complete(messages))


class _Stream:
    restarted = False  # a scripted model never fails part-way

    def __init__(self, completion: Completion) -> None:
        self.completion = completion

    def __iter__(self):
        words = self.completion.text.split(" ")
        yield from [words[0], *(" " + word for word in words[1:])]


class ScriptedModelServer:
    """An OpenAI-compatible chat endpoint on loopback that gives every request the same reply,
    whole or streamed as server-sent events: a real remote model, for a process the test cannot
    reach into (the app run by Streamlit). `requests` counts what it was sent."""

    def __init__(self, reply: str) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                owner.requests += 1
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                usage = {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}
                if not body.get("stream"):
                    self._send("application/json", json.dumps({
                        "id": "scripted", "object": "chat.completion", "created": 0,
                        "model": body["model"], "usage": usage, "choices": [{
                            "index": 0, "finish_reason": "stop",
                            "message": {"role": "assistant", "content": reply}}]}).encode())
                    return
                words = reply.split(" ")
                pieces = [words[0], *(" " + word for word in words[1:])]
                events = [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": p},
                                        "finish_reason": None}]} for p in pieces]
                events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                               "usage": usage})
                stream = "".join(
                    "data: " + json.dumps({"id": "scripted", "object": "chat.completion.chunk",
                                           "created": 0, "model": body["model"], **event}) + "\n\n"
                    for event in events) + "data: [DONE]\n\n"
                self._send("text/event-stream", stream.encode())

            def _send(self, kind: str, payload: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
