"""Cooperative cancellation and deadlines for long-running operations.

Terraform's Ctrl-C reaches the provider as StopProvider, which sets the
provider-wide `StopSignal`. Every operation gets a Context that combines it
with the deadline from the resource's `timeouts` block.

A wait comes in one of two shapes, matching how the operation is written:
an `async def` operation awaits `Context.wait` or `Context.until` and holds no
thread; a plain `def` one pauses with `Context.sleep` on its worker thread.
Which to use, and how a stop reaches both, is in docs/threads.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from provider.framework.duration import format_duration
from provider.prebuilt_dataclasses import dataclass, field

T = TypeVar("T")


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


class StopSignal:
    """Provider-wide "Terraform was interrupted", seen by threads and coroutines.

    Threads block on a `threading.Event`; coroutines subscribe a callback that
    runs on their own event loop when the signal is set (docs/threads.md).
    `set` may be called from any thread, the event loop's included."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._subscribers: dict[asyncio.AbstractEventLoop, set[Callable[[], None]]] = {}

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block the calling thread until set (True) or `timeout` passes (False)."""
        return self._event.wait(timeout)

    def set(self) -> None:
        with self._lock:
            if self._event.is_set():
                return
            self._event.set()
            loops = list(self._subscribers)
        for loop in loops:
            # A closed loop raises RuntimeError: nobody waits there any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._notify, loop)

    def subscribe(
        self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]
    ) -> Callable[[], None]:
        """Run `callback` on `loop` once the signal is set (soon, if it already
        is). Returns the function that takes the subscription back."""
        with self._lock:
            if not self._event.is_set():
                self._subscribers.setdefault(loop, set()).add(callback)
                return lambda: self._unsubscribe(loop, callback)
        loop.call_soon(callback)
        return lambda: None

    def _unsubscribe(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
        with self._lock:
            callbacks = self._subscribers.get(loop)
            if callbacks is not None:
                callbacks.discard(callback)
                if not callbacks:
                    del self._subscribers[loop]

    def _notify(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            callbacks = self._subscribers.pop(loop, set())
        for callback in callbacks:
            callback()


@dataclass
class Context:
    stop: StopSignal = field(default_factory=StopSignal)
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
        """Block this thread up to `seconds`, waking at once on cancellation or
        at the deadline. For plain `def` operations; `async def` ones use `wait`."""
        self.check(waiting_for)
        remaining = self.remaining()
        if remaining is not None:
            seconds = min(seconds, remaining)
        self.stop.wait(seconds)
        self.check(waiting_for)

    async def wait(self, seconds: float, waiting_for: str) -> None:
        """Pause up to `seconds` without holding a thread; raises like `sleep`."""
        self.check(waiting_for)
        remaining = self.remaining()
        if remaining is not None:
            seconds = min(seconds, remaining)
        await self.until(asyncio.sleep(seconds), waiting_for)
        self.check(waiting_for)

    async def until(self, awaitable: Awaitable[T], waiting_for: str | Callable[[], str]) -> T:
        """Await `awaitable`, but give up when Terraform is interrupted or the
        deadline passes: it is cancelled then (so whoever made it can clean up)
        and OperationCancelled / OperationTimedOut raised. `waiting_for` may be
        a function, asked when the wait ends, for a message that says what was
        seen last (e.g. that no connector is attached)."""

        def describe() -> str:
            return waiting_for() if callable(waiting_for) else waiting_for

        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(awaitable)
        try:
            self.check(describe())
        except OperationInterrupted:
            task.cancel()
            raise
        ended: list[OperationInterrupted] = []

        def interrupt(reason: Callable[[], OperationInterrupted]) -> None:
            if not ended and not task.done():
                ended.append(reason())
                task.cancel()

        remaining = self.remaining()
        timer = None
        if remaining is not None:
            timer = loop.call_later(
                remaining, interrupt, lambda: OperationTimedOut(describe(), self.timeout or 0.0)
            )
        unsubscribe = self.stop.subscribe(
            loop, lambda: interrupt(lambda: OperationCancelled(describe()))
        )
        try:
            return await task
        except asyncio.CancelledError:
            if ended:
                raise ended[0] from None
            raise  # our own caller was cancelled
        finally:
            if timer is not None:
                timer.cancel()
            unsubscribe()
