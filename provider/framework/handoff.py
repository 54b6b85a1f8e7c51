"""Hands plain `def` operations from the event loop to the worker threads and back.

`loop.run_in_executor` wakes a sleeping worker thread for every call: with
many calls at once (Terraform sends one per resource), most of the cost of
a quick operation is waking threads and passing the GIL between them. Here
the loop queues jobs and a worker already draining the queue takes the
next one as soon as it is done, so a burst of quick jobs wakes one thread,
not one each; finished jobs go back to the loop with one wake-up per batch.
A drainer that runs out of jobs stays parked for `LINGER` before it gives
its thread back, so the next job wakes it with one lock release instead of
a new submission to the pool.

A job must never wait behind one that blocks (a Vault request): when a job
has waited `PATIENCE` seconds while no drainer took anything, another
drainer starts on another thread. The drainers run on the one bounded pool
of worker threads (docs/threads.md); they hold a thread only while jobs are
queued and for `LINGER` after, and a stop (StopProvider) reaches a blocked
job the same way as before (the `StopSignal` it waits on).
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

# How long a queued job may wait while no drainer makes progress.
PATIENCE = 0.002
# How long a drainer that ran out of jobs stays parked for the next before it
# gives its thread back to the pool. Waking a parked drainer is one release of
# a lock; starting one is a pool submission, whose bookkeeping (a Future, a
# work item, a semaphore, all in Python) was a large share of a hand-off.
LINGER = 0.002

_Job = tuple["asyncio.Future[Any]", Callable[..., Any], tuple[Any, ...]]
_Done = tuple["asyncio.Future[Any]", Any, BaseException | None]


class Handoff:
    """Runs plain functions on `pool` for coroutines on `loop`."""

    def __init__(self, loop: asyncio.AbstractEventLoop, pool: Executor) -> None:
        self._loop = loop
        self._pool = pool
        self._lock = threading.Lock()
        self._jobs: deque[_Job] = deque()
        self._drainers = 0
        self._parked = 0  # drainers waiting up to LINGER for `_wake`
        self._wake = threading.Lock()  # released to wake one parked drainer
        self._wake.acquire()
        self._wake_sent = False  # `_wake` released and not yet taken: a drainer is coming
        self._taken = 0  # jobs taken so far: tells a watchdog whether drainers progress
        self._watching = False
        self._done: deque[_Done] = deque()
        self._wake_pending = False

    def run(self, function: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """`function(*args)` on a worker thread; call on the loop's thread."""
        future = self._loop.create_future()
        with self._lock:
            self._jobs.append((future, function, args))
            start = self._drainers == 0
            if start:
                self._drainers = 1
            woken = not start and self._parked > 0 and not self._wake_sent
            if woken:  # a parked drainer takes it at once: no need to watch
                self._parked -= 1
                self._wake_sent = True
                self._wake.release()
        if start:
            self._pool.submit(self._drain)
        elif not woken and not self._watching:
            self._watching = True
            self._loop.call_later(PATIENCE, self._watch, self._taken)
        return future

    def _watch(self, taken_before: int) -> None:
        """On the loop: start another drainer if queued jobs wait on a blocked one."""
        with self._lock:
            waiting = bool(self._jobs)
            stuck = waiting and self._taken == taken_before
            if stuck:
                self._drainers += 1
        if stuck:
            self._pool.submit(self._drain)
        if waiting:
            self._loop.call_later(PATIENCE, self._watch, self._taken)
        else:
            self._watching = False

    def _drain(self) -> None:
        """On a worker thread: run queued jobs until none came for LINGER."""
        while True:
            with self._lock:
                job = self._jobs.popleft() if self._jobs else None
                if job is not None:
                    self._taken += 1
                else:
                    self._parked += 1
            if job is None:
                if not self._park():
                    return
                continue
            future, function, args = job
            if future.cancelled():  # its caller gave up before it started
                continue
            try:
                self._finished(future, function(*args), None)
            except BaseException as err:  # handed to the awaiting coroutine
                self._finished(future, None, err)

    def _park(self) -> bool:
        """Wait for `run` to hand a job over; False once LINGER passed without
        one (this drainer has then ended and gives its thread back)."""
        woken = self._wake.acquire(timeout=LINGER)
        with self._lock:
            # `run` may have released `_wake` just after the timeout.
            woken = woken or self._wake.acquire(blocking=False)
            if woken:
                self._wake_sent = False
                return True
            self._parked -= 1
            self._drainers -= 1
            return False

    def _finished(
        self, future: asyncio.Future[Any], result: Any, err: BaseException | None
    ) -> None:
        self._done.append((future, result, err))
        if not self._wake_pending:  # one wake-up of the loop per batch
            self._wake_pending = True
            self._loop.call_soon_threadsafe(self._settle)

    def _settle(self) -> None:
        """On the loop: hand every finished job's outcome to its coroutine."""
        self._wake_pending = False
        while self._done:
            future, result, err = self._done.popleft()
            if future.cancelled():
                continue
            if err is None:
                future.set_result(result)
            else:
                future.set_exception(err)


_HANDOFFS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Handoff] = (
    weakref.WeakKeyDictionary()
)


def install(loop: asyncio.AbstractEventLoop, pool: Executor) -> None:
    """Hand `loop`'s plain operations to `pool` (serve.py's one pool of workers)."""
    _HANDOFFS[loop] = Handoff(loop, pool)


async def run(function: Callable[..., Any], *args: Any) -> Any:
    """`function(*args)` on a worker thread, awaited without holding one.

    Without `install` (a test running the framework alone), the loop's
    default executor runs it."""
    loop = asyncio.get_running_loop()
    handoff = _HANDOFFS.get(loop)
    if handoff is None:
        return await loop.run_in_executor(None, function, *args)
    return await handoff.run(function, *args)
