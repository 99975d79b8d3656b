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
