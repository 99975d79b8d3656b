"""The circuit breaker: a model that failed too often just now is left alone for a while.

After `breaker_failures` failures in a row a model (at one address) is not called for
`breaker_cooldown_s`; then one trial call decides. A dead endpoint costs one timeout, not one per
question. Failures that say nothing about the endpoint (a prompt too long, a busy local queue, the
breaker itself) are not counted. Shared by every Gateway in the process.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from store_assistant.errors import ModelBusyError, ModelError, PromptTooLongError


class CircuitOpenError(ModelError):
    """The model failed too often just now and is being left alone for a while."""


@dataclass
class Circuit:
    """Failures in a row of one model at one address."""
    failures: int = 0
    opened: float | None = None  # time.monotonic() when it opened

    def check(self, model: str, cooldown_s: float) -> None:
        """Raise CircuitOpenError while the circuit is open; after the cool-down, let one through."""
        if self.opened is None:
            return
        wait = self.opened + cooldown_s - time.monotonic()
        if wait > 0:
            raise CircuitOpenError(f"{model} failed {self.failures} times in a row, so it is not "
                                   f"called again for {wait:.0f} s (circuit breaker). Check its "
                                   f"server, or set STORE_ASSISTANT_FALLBACK_LLM to a model that "
                                   f"answers, e.g. local/smollm2-135m.")
        # Cool-down over: this call is the trial; one more failure re-opens the circuit.

    def failed(self, exc: Exception, threshold: int) -> None:
        if isinstance(exc, (PromptTooLongError, CircuitOpenError, ModelBusyError)):
            return  # the endpoint is fine: the question was too long, or the queue too
        self.failures += 1
        if self.failures >= threshold:
            self.opened = time.monotonic()

    def succeeded(self) -> None:
        self.failures, self.opened = 0, None


CIRCUITS: dict[tuple[str, str | None], Circuit] = {}


def circuit_for(model: str, address: str | None) -> Circuit:
    return CIRCUITS.setdefault((model, address), Circuit())
