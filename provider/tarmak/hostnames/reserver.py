"""Numbers of one counter, reserved in batches for the callers of this process.

Terraform creates up to -parallelism hostnames of one counter at once. Racing
each other on the counter would only turn all but one into CAS conflicts and
backoff, so this process moves a counter one caller at a time (its "turn"), and
the caller whose turn comes reserves numbers for every caller waiting behind it
in one write; the others take theirs from the batch without asking Vault. A
number a caller could not use stays for the next one. Numbers are reserved in
Vault before they are handed out, so no other writer can get them.

Waiting for a turn blocks on a condition that the turn's holder notifies when it
is done, not on a poll; a waiter wakes up on its own only to see whether its
operation was cancelled (Ctrl-C, the deadline), which `check` raises.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

from provider.prebuilt_dataclasses import dataclass, field
from provider.tarmak.forking import start_over_in_forked_children
from provider.tarmak.hostnames.counters import Written
from provider.tarmak.hostnames.records import HostnameKey

# How often a waiter looks whether its operation was cancelled while it waits its turn.
CANCEL_CHECK_SECONDS = 0.25

CounterId = tuple[str, str, HostnameKey]  # Vault address, mount, key


@dataclass
class Counter:
    """This process's side of one counter."""

    busy: bool = False  # someone holds the turn
    waiting: int = 0  # callers that want a number, the turn's holder included
    spare: list[int] = field(default_factory=list)  # reserved, not yet handed out
    written: Written | None = None  # this process's last write to it (counters.py)


class BatchReserver:
    def __init__(self) -> None:
        self.start_over_after_fork()
        start_over_in_forked_children(self)

    def start_over_after_fork(self) -> None:
        """Also what a new reserver does: in a forked child, the numbers reserved
        here are its parent's to hand out, and a lock another thread held at the
        fork would never be released."""
        self._lock = threading.Lock()
        self._turn_free = threading.Condition(self._lock)
        self._counters: dict[CounterId, Counter] = {}

    @contextlib.contextmanager
    def turn(self, counter_id: CounterId, check: Callable[[], None]) -> Iterator[Turn]:
        """Hold the counter's turn; `check` raises when the caller gives up waiting."""
        with self._lock:
            counter = self._counters.setdefault(counter_id, Counter())
            counter.waiting += 1
            try:
                while counter.busy:
                    check()
                    self._turn_free.wait(CANCEL_CHECK_SECONDS)
                counter.busy = True
            except BaseException:
                counter.waiting -= 1
                raise
        try:
            yield Turn(self, counter)
        finally:
            with self._lock:
                counter.busy = False
                counter.waiting -= 1
                self._turn_free.notify_all()

    def waiting(self, counter: Counter) -> int:
        with self._lock:
            return counter.waiting


@dataclass
class Turn:
    """What the turn's holder may do: take a spare number, or say how many to reserve."""

    reserver: BatchReserver
    counter: Counter

    def take_spare(self) -> int | None:
        return self.counter.spare.pop(0) if self.counter.spare else None

    def put_back(self, number: int) -> None:
        """A spare the holder could not use (its format makes too long a name)."""
        self.counter.spare.insert(0, number)

    def batch_size(self) -> int:
        """How many numbers to reserve: one for every caller waiting now."""
        return max(1, self.reserver.waiting(self.counter))

    def keep(self, numbers: range) -> None:
        self.counter.spare.extend(numbers)


# The provider process's reserver: every tarmak_hostname operation shares it.
PROCESS_RESERVER = BatchReserver()
