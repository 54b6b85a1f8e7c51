"""The allocator rides out a Vault that cannot answer for a while (patience.py):
requests are tried again, and a write whose answer was lost, found done when
tried again, is not lost (no name held in Vault that no state knows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from provider.tarmak.hostnames.allocator import Hostnaming
from provider.tarmak.hostnames.patience import PatientKV
from provider.tarmak.hostnames.reserver import BatchReserver
from provider.tarmak.hostnames.rules import DEFAULT_FORMAT
from provider.tarmak.vault_kv import CasConflict, VaultUnavailable
from tests.unit.provider.test_tarmak_hostnames import KEY, MemoryKV


@dataclass
class FlakyKV(MemoryKV):
    """Writes to paths starting with a prefix in `lose` are done, but their answer
    is lost once (the connection broke, the leader died after committing); reads
    fail `down` times first (an election)."""

    lose: set[str] = field(default_factory=set)
    down: int = 0

    def write(self, path: str, data: dict[str, Any], cas: int | None) -> int:
        version = super().write(path, data, cas)
        for prefix in list(self.lose):
            if path.startswith(prefix):
                self.lose.discard(prefix)
                raise VaultUnavailable(f"the connection broke after writing {path}")
        return version

    def read(self, path: str) -> Any:
        if self.down:
            self.down -= 1
            raise VaultUnavailable("local node not active but active cluster node not found")
        return super().read(path)


def allocator(kv: MemoryKV) -> Hostnaming:
    return Hostnaming(kv, sleep=lambda _: None, reserver=BatchReserver())


def live_names(kv: MemoryKV) -> list[str]:
    return sorted(p for p, versions in kv.keys.items() if p.startswith("names/") and versions[-1])


@pytest.mark.parametrize("lost", ["counters/", "allocations/", "names/"])
def test_a_write_whose_answer_was_lost_is_found_done_and_kept(lost: str) -> None:
    kv = FlakyKV(lose={lost})
    first = allocator(kv).allocate(KEY, DEFAULT_FORMAT, reuse_released=False)
    second = allocator(kv).allocate(KEY, DEFAULT_FORMAT, reuse_released=False)
    assert (first.number, second.number) == (1, 2), "no number burned or given twice"
    assert live_names(kv) == [f"names/{first.name}", f"names/{second.name}"]
    assert not kv.lose, "the answer was lost once"


def test_someone_else_s_write_is_still_a_conflict() -> None:
    kv = FlakyKV()
    patient = PatientKV(kv, sleep=lambda _: None)
    kv.write("names/x", {"claim": "theirs"}, cas=0)
    kv.lose = {"names/"}  # our attempt's answer lost: it met theirs, it was not done
    with pytest.raises(CasConflict):
        patient.write("names/x", {"claim": "ours"}, cas=0)
    assert kv.read("names/x").data == {"claim": "theirs"}


def test_an_election_is_waited_out() -> None:
    kv = FlakyKV(down=4)
    pauses: list[float] = []
    allocation = Hostnaming(kv, sleep=pauses.append, reserver=BatchReserver()).allocate(
        KEY, DEFAULT_FORMAT, reuse_released=False
    )
    assert allocation.number == 1
    assert len(pauses) == 4 and pauses == sorted(pauses), "growing pauses"
    assert all(0 < pause <= 2.0 for pause in pauses)


def test_patience_ends_with_the_operation_or_the_limit() -> None:
    class Stopped(Exception):
        pass

    def stopped() -> None:
        raise Stopped

    kv = FlakyKV(down=1_000)
    with pytest.raises(Stopped):
        PatientKV(kv, sleep=lambda _: None, check=stopped).read("names/x")
    with pytest.raises(VaultUnavailable, match="active cluster node not found"):
        PatientKV(kv, sleep=lambda _: None, limit=0.0).read("names/x")
