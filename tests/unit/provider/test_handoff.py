"""The hand-off of plain operations to worker threads (provider/framework/handoff.py)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from provider.framework import handoff


def _serve(test: Callable[[ThreadPoolExecutor], Awaitable[None]]) -> None:
    """Run `test` (a coroutine function taking the pool) with the hand-off installed."""

    async def main() -> None:
        pool = ThreadPoolExecutor(max_workers=4)
        handoff.install(asyncio.get_running_loop(), pool)
        try:
            await test(pool)
        finally:
            pool.shutdown(wait=True)

    asyncio.run(main())


def test_results_come_back_from_a_worker_thread() -> None:
    async def test(pool: ThreadPoolExecutor) -> None:
        loop_thread = threading.get_ident()
        results = await asyncio.gather(
            *(handoff.run(lambda i=i: (i, threading.get_ident())) for i in range(200))
        )
        assert [i for i, _ in results] == list(range(200))
        assert all(thread != loop_thread for _, thread in results)

    _serve(test)


def test_an_exception_reaches_the_awaiting_coroutine() -> None:
    def fails() -> None:
        raise KeyError("gone")

    async def test(pool: ThreadPoolExecutor) -> None:
        with pytest.raises(KeyError, match="gone"):
            await handoff.run(fails)
        assert await handoff.run(lambda: 7) == 7  # the drainer survived

    _serve(test)


def test_a_job_does_not_wait_behind_one_that_blocks() -> None:
    release = threading.Event()

    async def test(pool: ThreadPoolExecutor) -> None:
        blocked = asyncio.ensure_future(handoff.run(release.wait, 10))
        await asyncio.sleep(0.05)  # the first drainer is now inside release.wait
        started = time.monotonic()
        assert await handoff.run(lambda: "quick") == "quick"
        assert time.monotonic() - started < 1  # another drainer took it
        release.set()
        assert await blocked is True

    _serve(test)


def test_a_job_cancelled_before_it_starts_never_runs() -> None:
    release = threading.Event()
    ran: list[str] = []

    async def test(pool: ThreadPoolExecutor) -> None:
        # Keep every worker busy so the last job stays queued.
        busy = [asyncio.ensure_future(handoff.run(release.wait, 10)) for _ in range(4)]
        await asyncio.sleep(0.1)
        queued = asyncio.ensure_future(handoff.run(ran.append, "late"))
        await asyncio.sleep(0)
        queued.cancel()
        release.set()
        await asyncio.gather(*busy)
        await asyncio.sleep(0.05)
        assert ran == []

    _serve(test)


def test_without_install_the_default_executor_runs_it() -> None:
    async def main() -> int:
        result: int = await handoff.run(lambda: threading.get_ident())
        return result

    assert asyncio.run(main()) != threading.get_ident()
