"""Cooperative cancellation and deadlines for long-running operations.

Terraform's Ctrl-C reaches the provider as StopProvider, which sets the
provider-wide stop event. Every operation gets a Context that combines it with
the deadline from the resource's `timeouts` block. Resources wait through
`Context.sleep` or `Context.wait_for`, so both interrupt a wait promptly.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from provider.framework.duration import format_duration


class OperationInterrupted(Exception):
    """Base of the ways a wait ends without a result."""


class OperationCancelled(OperationInterrupted):
    def __init__(self, waiting_for: str) -> None:
        super().__init__(f"Cancelled while waiting for {waiting_for} (Terraform was interrupted).")


class OperationTimedOut(OperationInterrupted):
    def __init__(self, waiting_for: str, timeout: float) -> None:
        super().__init__(
            f"Timed out after {format_duration(timeout)} waiting for {waiting_for}. "
            "Raise the limit in the resource's timeouts block if it needs longer."
        )
        self.timeout = timeout


@dataclass
class Context:
    stop: threading.Event = field(default_factory=threading.Event)
    timeout: float | None = None
    started: float = field(default_factory=time.monotonic)

    @property
    def cancelled(self) -> bool:
        return self.stop.is_set()

    def remaining(self) -> float | None:
        if self.timeout is None:
            return None
        return max(0.0, self.started + self.timeout - time.monotonic())

    def check(self, waiting_for: str) -> None:
        """Raise if the operation was cancelled or its deadline passed."""
        if self.stop.is_set():
            raise OperationCancelled(waiting_for)
        remaining = self.remaining()
        if remaining is not None and remaining <= 0:
            raise OperationTimedOut(waiting_for, self.timeout or 0.0)

    def sleep(self, seconds: float, waiting_for: str) -> None:
        """Sleep up to `seconds`, waking at once on cancellation or at the deadline."""
        self.check(waiting_for)
        remaining = self.remaining()
        if remaining is not None:
            seconds = min(seconds, remaining)
        self.stop.wait(seconds)
        self.check(waiting_for)
