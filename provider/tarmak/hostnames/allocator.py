"""Unique hostnames from a counter in Vault's KV v2 engine, with check-and-set.

Layout under the mount (default `hostnaming`):

    counters/<application>/<role>/<environment>          {"last": N}
    allocations/<application>/<role>/<environment>/<N>  who/when/name of number N
    names/<name>                                         the allocation a name belongs to

Allocating takes a number reserved by this process (reserver.py) or moves the
counter (counters.py), then claims the number and its name, both written at
once (claims.py). Only a CAS conflict is retried here, with jittered backoff;
every request is tried again while Vault is unavailable (patience.py), and any
other Vault error fails at once. With `reuse_released`, a released number is
claimed again first.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from provider.prebuilt_dataclasses import dataclass
from provider.tarmak.hostnames.claims import Claims
from provider.tarmak.hostnames.counters import CounterStore, InvalidName
from provider.tarmak.hostnames.patience import PatientKV
from provider.tarmak.hostnames.records import HostnameKey, NameLookup, lookup_name, render
from provider.tarmak.hostnames.reserver import PROCESS_RESERVER, BatchReserver, Turn
from provider.tarmak.hostnames.rules import hostname_problem
from provider.tarmak.hostnames.store import KVStore
from provider.tarmak.vault_kv import CasConflict

__all__ = ["Allocation", "Hostnaming", "InvalidName"]


@dataclass(frozen=True)
class Allocation:
    key: HostnameKey
    number: int
    name: str
    cas_retries: int = 0


class Hostnaming:
    def __init__(
        self,
        kv: KVStore,
        *,
        sleep: Callable[[float], None],
        check: Callable[[], None] = lambda: None,
        reserver: BatchReserver = PROCESS_RESERVER,
    ) -> None:
        self.kv = kv
        self._sleep = sleep  # cancellable and bounded by the caller's deadline
        self._check = check  # raises once the caller's operation is cancelled or late
        self._reserver = reserver
        self._patient = PatientKV(kv, sleep=sleep, check=check)
        self._counters = CounterStore(self._patient)
        self._claims = Claims(self._patient)

    def allocate(self, key: HostnameKey, name_format: str, reuse_released: bool) -> Allocation:
        """A number and name no one else holds; retries only CAS conflicts. Writing
        a number's records needs no turn (they are keyed by the number), so those
        writes of parallel callers overlap."""
        retries = 0
        backoff = 0.01
        counter_id = (self.kv.address, self.kv.mount, key)
        while True:
            try:
                with self._reserver.turn(counter_id, self._check) as turn:
                    if reuse_released:
                        reused = self._claims.claim_released(key, name_format)
                        if reused is not None:
                            return Allocation(key, *reused)
                    number, name = self._next_number(turn, key, name_format)
                if self._claims.claim(key, number, name, 0, name_format):
                    return Allocation(key, number, name, retries)
            except CasConflict:
                pass  # lost a race: read again
            retries += 1
            self._sleep(random.uniform(0, backoff))
            backoff = min(backoff * 2, 0.5)

    def _next_number(self, turn: Turn, key: HostnameKey, name_format: str) -> tuple[int, str]:
        """The lowest number reserved earlier, else a new batch for every waiting caller."""
        number = turn.take_spare()
        if number is not None:
            name = render(name_format, key, number)
            if problem := hostname_problem(name):
                turn.put_back(number)  # still good for a shorter format
                raise InvalidName(problem)
            return number, name
        wanted = turn.batch_size()
        counter = turn.counter
        try:
            first, name, counter.written = self._counters.bump(
                key, name_format, wanted, counter.written
            )
        except CasConflict:
            counter.written = None  # moved by someone else: read it next time
            raise
        turn.keep(range(first + 1, first + wanted))
        return first, name

    def lookup(self, name: str) -> NameLookup:
        """Whether `name` is held (and its record), released, or cannot be told."""
        return lookup_name(self._patient, name)

    def release(self, key: HostnameKey, number: int, name: str) -> None:
        self._claims.release(key, number, name)
