"""What a process keeps for itself and a forked child must not inherit.

The provider never forks, but tests and benches fork writer processes from
processes that have already talked to Vault (docs/threads.md, "A process forked
after allocating"). An object that keeps per-process state (kept connections,
reserved numbers, locks) registers here and is told to start over in every
forked child; it is held weakly, so registering keeps nothing alive.
"""

from __future__ import annotations

import os
import weakref
from typing import Protocol


class StartsOver(Protocol):
    def start_over_after_fork(self) -> None:
        """Drop what belongs to the parent process; called in the forked child."""


_OWNERS: weakref.WeakSet[StartsOver] = weakref.WeakSet()


def start_over_in_forked_children(owner: StartsOver) -> None:
    _OWNERS.add(owner)


def _after_fork_in_child() -> None:
    for owner in list(_OWNERS):
        owner.start_over_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
