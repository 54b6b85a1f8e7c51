"""A function run in a child forked from the test process, bounded in time: what
tests of fork safety need (the child must never be left behind, hung)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def in_forked_child(work: Callable[[], T], timeout: float = 10.0) -> T:
    """`work()`'s result, computed in a forked child; fails if the child hangs or fails."""
    fork = multiprocessing.get_context("fork")
    answers = fork.SimpleQueue()
    child = fork.Process(target=lambda: answers.put(work()))
    child.start()
    child.join(timeout)
    if child.is_alive():
        child.kill()
        child.join()
        raise AssertionError(f"the forked child did not finish within {timeout:.0f} s")
    assert child.exitcode == 0, f"the forked child failed (exit code {child.exitcode})"
    result: T = answers.get()
    return result
