"""The hostname allocator's pieces against an in-memory KV v2 (check-and-set as
Vault does it): the counter, the claims, the process-local batch reserver."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from provider.tarmak.hostnames.allocator import Hostnaming
from provider.tarmak.hostnames.claims import Claims
from provider.tarmak.hostnames.counters import CounterStore, InvalidName
from provider.tarmak.hostnames.records import HostnameKey
from provider.tarmak.hostnames.reserver import BatchReserver
from provider.tarmak.hostnames.rules import DEFAULT_FORMAT
from provider.tarmak.vault_kv import CasConflict, Entry, VaultUnavailable
from tests.unit.provider.forked import in_forked_child

KEY = HostnameKey("web", "frontend", "prod")


@dataclass
class MemoryKV:
    """KV v2 semantics that matter here: versions, soft delete, check-and-set."""

    mount: str = "hostnaming"
    address: str = "memory://"
    keys: dict[str, list[dict[str, Any] | None]] = field(default_factory=dict)
    writes: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def read(self, path: str) -> Entry:
        with self.lock:
            versions = self.keys.get(path, [])
            return Entry(len(versions), versions[-1] if versions else None)

    def read_on_active(self, path: str) -> Entry | None:
        return self.read(path)

    def current_version(self, path: str) -> int:
        return len(self.keys.get(path, []))

    def versions(self, path: str) -> dict[int, dict[str, Any]]:
        return {i + 1: {} for i in range(len(self.keys.get(path, [])))}

    def read_version(self, path: str, version: int) -> dict[str, Any] | None:
        return self.keys[path][version - 1]

    def write(self, path: str, data: dict[str, Any], cas: int | None) -> int:
        with self.lock:
            versions = self.keys.setdefault(path, [])
            if cas is not None and cas != len(versions):
                raise CasConflict(path)
            versions.append(dict(data))
            self.writes.append(path)
            return len(versions)

    def delete_latest(self, path: str) -> None:
        with self.lock:
            if self.keys.get(path):
                self.keys[path][-1] = None

    def list(self, path: str) -> list[str]:
        return sorted({k[len(path) :].split("/")[0] for k in self.keys if k.startswith(path)})


def allocator(kv: MemoryKV, reserver: BatchReserver | None = None) -> Hostnaming:
    return Hostnaming(kv, sleep=lambda _: None, reserver=reserver or BatchReserver())


def test_a_counter_moves_by_the_batch_and_never_goes_back() -> None:
    kv = MemoryKV()
    counters = CounterStore(kv)
    assert counters.bump(KEY, DEFAULT_FORMAT, 3)[:2] == (1, "web-frontend-prod-vm1")
    assert counters.bump(KEY, DEFAULT_FORMAT, 1)[:2] == (4, "web-frontend-prod-vm4")
    Claims(kv).claim(KEY, 4, "web-frontend-prod-vm4", 0, DEFAULT_FORMAT)
    kv.delete_latest(f"counters/{KEY.path}")  # someone deleted the newest version
    # recovered from the older version (3) and the allocation records (4)
    assert counters.bump(KEY, DEFAULT_FORMAT, 1)[0] == 5


def test_a_remembered_write_moves_the_counter_without_reading_it() -> None:
    kv = MemoryKV()
    reads: list[str] = []
    read = kv.read
    kv.read = lambda path: reads.append(path) or read(path)  # type: ignore[method-assign]
    naming = allocator(kv, BatchReserver())
    numbers = [naming.allocate(KEY, DEFAULT_FORMAT, False).number for _ in range(3)]
    assert numbers == [1, 2, 3]
    assert reads.count(f"counters/{KEY.path}") == 1, "read once, then written against"


def test_a_counter_moved_elsewhere_is_read_again_and_nothing_is_given_twice() -> None:
    kv = MemoryKV()
    naming = allocator(kv, BatchReserver())
    assert naming.allocate(KEY, DEFAULT_FORMAT, False).number == 1
    other = allocator(kv, BatchReserver())  # another process: its own memory
    assert other.allocate(KEY, DEFAULT_FORMAT, False).number == 2
    # ours remembers version 1: its write is refused, it reads, and goes on from 2
    assert naming.allocate(KEY, DEFAULT_FORMAT, False).number == 3


def test_a_stale_counter_read_is_a_cas_conflict() -> None:
    kv = MemoryKV()
    CounterStore(kv).bump(KEY, DEFAULT_FORMAT, 1)
    path = f"counters/{KEY.path}"
    with pytest.raises(CasConflict):
        kv.write(path, {"last": 9}, cas=0)


def test_a_name_too_long_moves_nothing() -> None:
    kv = MemoryKV()
    with pytest.raises(InvalidName):
        CounterStore(kv).bump(KEY, "x" * 70 + "{number}", 1)
    assert kv.writes == []


def test_a_name_held_elsewhere_is_not_claimed_twice() -> None:
    kv = MemoryKV()
    claims = Claims(kv)
    assert claims.claim(KEY, 1, "shared-1", 0, DEFAULT_FORMAT)
    other = HostnameKey("db", "frontend", "prod")
    assert not claims.claim(other, 1, "shared-1", 0, DEFAULT_FORMAT)


def test_a_released_number_is_reused_lowest_first_only_on_request() -> None:
    kv = MemoryKV()
    naming = allocator(kv)
    first, second = (naming.allocate(KEY, DEFAULT_FORMAT, False) for _ in range(2))
    naming.release(KEY, first.number, first.name)
    assert naming.allocate(KEY, DEFAULT_FORMAT, False).number == 3
    assert naming.allocate(KEY, DEFAULT_FORMAT, True).number == first.number
    assert second.number == 2


def test_waiting_callers_share_one_counter_write() -> None:
    kv = MemoryKV()
    reserver = BatchReserver()
    naming = allocator(kv, reserver)
    holder_in = threading.Event()
    release_holder = threading.Event()
    counter_id = (kv.address, kv.mount, KEY)

    def hold() -> None:
        with reserver.turn(counter_id, lambda: None):
            holder_in.set()
            release_holder.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    holder_in.wait(5)
    numbers: list[int] = []
    callers = [
        threading.Thread(
            target=lambda: numbers.append(naming.allocate(KEY, DEFAULT_FORMAT, False).number)
        )
        for _ in range(5)
    ]
    for caller in callers:
        caller.start()
    while reserver.waiting(reserver._counters[counter_id]) < 6:
        threading.Event().wait(0.01)
    release_holder.set()
    for thread in (holder, *callers):
        thread.join(5)
    assert sorted(numbers) == [1, 2, 3, 4, 5]
    assert kv.writes.count(f"counters/{KEY.path}") == 1, "one batch for every waiting caller"


def test_a_cancelled_waiter_leaves_its_turn_and_the_count() -> None:
    reserver = BatchReserver()
    counter_id = ("memory://", "hostnaming", KEY)
    cancelled = threading.Event()

    def check() -> None:
        if cancelled.is_set():
            raise TimeoutError("late")

    errors: list[BaseException] = []

    def wait_turn() -> None:
        try:
            with reserver.turn(counter_id, check):
                pass
        except TimeoutError as err:
            errors.append(err)

    with reserver.turn(counter_id, lambda: None) as turn:
        waiter = threading.Thread(target=wait_turn)
        waiter.start()
        cancelled.set()
        waiter.join(5)
        assert not waiter.is_alive() and len(errors) == 1
        assert turn.batch_size() == 1


@dataclass
class NoCasKV(MemoryKV):
    """Writes that ignore check-and-set: what the allocator must never be given."""

    def write(self, path: str, data: dict[str, Any], cas: int | None) -> int:
        return super().write(path, data, None)


def _race(kv: MemoryKV) -> int:
    """Two allocators (two provider processes) that both read the counter before
    either writes it; the number the slower one gets."""
    path = f"counters/{KEY.path}"
    kv.write(path, {"last": 0}, cas=0)
    read = kv.read

    def both_read_first(p: str) -> Entry:
        entry = read(p)
        if p == path:
            kv.read = read  # type: ignore[method-assign]
            CounterStore(kv).bump(KEY, DEFAULT_FORMAT, 1)  # the other process, in between
        return entry

    kv.read = both_read_first  # type: ignore[method-assign]
    return CounterStore(kv).bump(KEY, DEFAULT_FORMAT, 1)[0]


def test_without_cas_two_processes_get_the_same_number() -> None:
    """Shows what check-and-set prevents, with a store that drops it (injected,
    not switched on in shipped code)."""
    assert _race(NoCasKV()) == 1  # number 1 a second time


def test_with_cas_the_slower_process_conflicts() -> None:
    with pytest.raises(CasConflict):
        _race(MemoryKV())


@dataclass
class MeetingKV(MemoryKV):
    """Holds each claim write until the claim's other write has arrived too (or
    a second passed): only writes sent at the same time both go through."""

    meeting: threading.Barrier = field(default_factory=lambda: threading.Barrier(2, timeout=5.0))
    met: list[str] = field(default_factory=list)

    def write(self, path: str, data: dict[str, Any], cas: int | None) -> int:
        if not path.startswith("counters/"):
            self.meeting.wait()  # BrokenBarrierError when the other never comes
            self.met.append(path)
        return super().write(path, data, cas)


def test_a_fresh_number_s_record_and_name_are_written_at_the_same_time() -> None:
    kv = MeetingKV()
    allocation = allocator(kv).allocate(KEY, DEFAULT_FORMAT, False)
    assert allocation.name == "web-frontend-prod-vm1"
    assert sorted(kv.met) == [f"allocations/{KEY.path}/1", "names/web-frontend-prod-vm1"]
    assert kv.read("names/web-frontend-prod-vm1").data == kv.read(f"allocations/{KEY.path}/1").data


def test_a_reclaimed_number_writes_its_record_before_its_name() -> None:
    """A released number may be reclaimed by another writer at the same moment:
    its record (CAS on the released version) decides before the name is touched."""
    kv = MemoryKV()
    naming = allocator(kv)
    first = naming.allocate(KEY, DEFAULT_FORMAT, False)
    naming.release(KEY, first.number, first.name)
    kv.writes.clear()
    assert naming.allocate(KEY, DEFAULT_FORMAT, True).number == first.number
    assert kv.writes == [f"allocations/{KEY.path}/1", f"names/{first.name}"]


def test_a_record_written_by_hand_gives_back_the_name_and_moves_on() -> None:
    """A fresh number whose record exists already (only by hand: the counter never
    hands a number out twice) is not taken, and the name written beside it is
    given back: released, so nothing holds it."""
    kv = MemoryKV()
    kv.write(f"allocations/{KEY.path}/1", {"by": "hand"}, cas=0)
    allocation = allocator(kv).allocate(KEY, DEFAULT_FORMAT, False)
    assert allocation.number == 2
    assert kv.read("names/web-frontend-prod-vm1").released
    assert kv.read(f"allocations/{KEY.path}/1").data == {"by": "hand"}
    assert kv.read("names/web-frontend-prod-vm2").exists


class Unavailable(Exception):
    pass


def test_a_failed_name_write_waits_for_the_record_and_raises() -> None:
    """The claim ends only after both writes have: a failure of one is raised
    once the other is done, with no write left running."""
    kv = MemoryKV()
    record_done = threading.Event()
    write = kv.write

    def failing_name(path: str, data: dict[str, Any], cas: int | None) -> int:
        if path.startswith("names/"):
            raise Unavailable(path)
        time.sleep(0.2)  # the record is still being written when the name fails
        version = write(path, data, cas)
        if path.startswith("allocations/"):
            record_done.set()
        return version

    kv.write = failing_name  # type: ignore[method-assign]
    with pytest.raises(Unavailable):
        Claims(kv).claim(KEY, 1, "web-frontend-prod-vm1", 0, DEFAULT_FORMAT)
    assert record_done.is_set()


def test_claims_one_after_another_reuse_one_thread_for_their_records() -> None:
    def claim_threads() -> int:
        return len([t for t in threading.enumerate() if t.name.startswith("hostname-claim")])

    naming = allocator(MemoryKV())
    naming.allocate(KEY, DEFAULT_FORMAT, False)
    before = claim_threads()
    for _ in range(20):
        naming.allocate(KEY, DEFAULT_FORMAT, False)
    assert claim_threads() == before >= 1


def _allocate_one_in_memory() -> str:
    return allocator(MemoryKV()).allocate(KEY, DEFAULT_FORMAT, False).name


def test_a_process_forked_after_claims_can_claim() -> None:
    """A forked child has none of its parent's threads, only a copy of the pool's
    count of idle ones: it must not queue its record write for a thread that is
    not there (tests and benches fork writers from processes that claimed)."""
    _allocate_one_in_memory()  # the pool now has an idle thread here
    assert in_forked_child(_allocate_one_in_memory) == "web-frontend-prod-vm1"


def test_a_forked_child_does_not_hand_out_its_parent_s_reserved_numbers() -> None:
    reserver = BatchReserver()
    counter_id = ("http://vault", "hostnaming", KEY)
    with reserver.turn(counter_id, lambda: None) as turn:
        turn.keep(range(2, 5))  # reserved by this process, not handed out yet

    def spare_in_child() -> int | None:
        with reserver.turn(counter_id, lambda: None) as turn:
            return turn.take_spare()

    assert in_forked_child(spare_in_child) is None
    with reserver.turn(counter_id, lambda: None) as turn:
        assert turn.take_spare() == 2  # the parent still has them


def test_a_record_vault_cannot_take_gives_back_the_name_and_raises() -> None:
    """A create that fails leaves no name held that no state knows of."""
    kv = MemoryKV()
    write = kv.write

    def record_unavailable(path: str, data: dict[str, Any], cas: int | None) -> int:
        if path.startswith("allocations/"):
            raise VaultUnavailable("the active node is down")
        return write(path, data, cas)

    kv.write = record_unavailable  # type: ignore[method-assign]
    with pytest.raises(VaultUnavailable):
        Claims(kv).claim(KEY, 1, "web-frontend-prod-vm1", 0, DEFAULT_FORMAT)
    assert kv.read("names/web-frontend-prod-vm1").released
