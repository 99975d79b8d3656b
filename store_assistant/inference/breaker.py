"""The circuit breaker: a model that failed too often just now is left alone for a while.

Closed: calls go through, failures in a row are counted. After `breaker_failures` of them the
circuit opens: no call for `breaker_cooldown_s`. Then it is half-open: exactly one caller (the
trial) is let through, and every other caller is refused until the trial ends; a good trial
closes the circuit, a failed one opens it for another cool-down. A dead endpoint costs one timeout,
not one per session. Failures that say nothing about the endpoint (a prompt too long, a busy local
queue, the breaker itself) are not counted. Shared by every Gateway (and thread) in the process.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from store_assistant.errors import ModelBusyError, ModelError, PromptTooLongError

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class CircuitOpenError(ModelError):
    """The model failed too often just now and is being left alone for a while."""


@dataclass
class Circuit:
    """Failures in a row of one model at one address, and whether a trial call is out."""
    failures: int = 0
    opened: float | None = None  # time.monotonic() when it (last) opened
    trial: bool = False  # half-open: the one trial call is in flight
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def state(self, cooldown_s: float) -> str:
        with self._lock:
            return self._state(cooldown_s)

    def _state(self, cooldown_s: float) -> str:
        if self.opened is None:
            return CLOSED
        return OPEN if self.trial or time.monotonic() < self.opened + cooldown_s else HALF_OPEN

    def check(self, model: str, cooldown_s: float) -> bool:
        """Let the call through (True when it is the trial), or raise CircuitOpenError. After the
        cool-down the first caller is the trial and must report `failed(..., trial=True)` or
        `succeeded()` when its call ends."""
        with self._lock:
            if self.opened is None:
                return False
            wait = self.opened + cooldown_s - time.monotonic()
            if wait <= 0 and not self.trial:
                self.trial = True
                return True
        why = (f"a trial call to it is under way" if wait <= 0 else
               f"it is not called again for {wait:.0f} s")
        raise CircuitOpenError(f"{model} failed {self.failures} times in a row, so {why} "
                               f"(circuit breaker). Check its server, or set "
                               f"STORE_ASSISTANT_FALLBACK_LLM to a model that answers, e.g. "
                               f"local/smollm2-135m.")

    def failed(self, exc: Exception, threshold: int, trial: bool = False) -> None:
        if isinstance(exc, CircuitOpenError):
            return  # refused by check(): this caller was never let through
        with self._lock:
            if trial:
                self.trial = False
            if isinstance(exc, (PromptTooLongError, ModelBusyError)):
                return  # the endpoint is fine: the question was too long, or the queue too; a
                # trial that ended so decided nothing, and the next caller tries again
            self.failures += 1
            if trial or self.failures >= threshold:
                self.opened = time.monotonic()

    def succeeded(self) -> None:
        with self._lock:
            self.failures, self.opened, self.trial = 0, None, False


CIRCUITS: dict[tuple[str, str | None], Circuit] = {}
_CIRCUITS_LOCK = threading.Lock()


def circuit_for(model: str, address: str | None) -> Circuit:
    with _CIRCUITS_LOCK:
        return CIRCUITS.setdefault((model, address), Circuit())
