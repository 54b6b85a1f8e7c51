"""tarmak_hostname without Vault: which attribute a diagnostic blames, and when a
refresh may conclude that a name was released."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from provider.framework.runner import ProviderRunner
from provider.tarmak.hostnames.records import NameStatus, lookup_name
from provider.tarmak.provider import TarmakProvider
from provider.tarmak.vault_kv import Entry

CONFIG = {
    "application": "web",
    "role": "frontend",
    "environment": "prod",
    "format": None,
    "kv_mount": None,
    "reuse_released_numbers": None,
    "name": None,
    "number": None,
    "id": None,
    "timeouts": None,
}


def _errors(config: dict[str, Any]) -> list[tuple[str, str]]:
    diags = ProviderRunner(TarmakProvider()).validate_resource_config("tarmak_hostname", config)
    return [(d.summary, str(d.path)) for d in diags]


def test_an_invalid_application_is_blamed_on_application_only() -> None:
    errors = _errors({**CONFIG, "application": "Web_App"})
    assert errors == [("Invalid DNS label", "application")]


def test_a_format_that_makes_no_label_is_blamed_on_format() -> None:
    errors = _errors({**CONFIG, "format": "{application}_{number}"})
    assert errors == [("Invalid DNS label", "format")]


def test_a_valid_configuration_has_no_diagnostics() -> None:
    assert _errors(CONFIG) == []


@dataclass
class FakeKV:
    """What one node (`here`) and the active node (`active`, None: no leader) hold."""

    here: dict[str, Entry] = field(default_factory=dict)
    active: dict[str, Entry] | None = None
    asked_active: int = 0

    def read(self, path: str) -> Entry:
        return self.here.get(path, Entry(0, None))

    def read_on_active(self, path: str) -> Entry | None:
        self.asked_active += 1
        if self.active is None:
            return None
        return self.active.get(path, Entry(0, None))


LIVE = Entry(1, {"number": 1, "name": "web-frontend-prod-vm1"})


def test_a_live_name_needs_no_second_read() -> None:
    kv = FakeKV(here={"names/a": LIVE})
    assert lookup_name(kv, "a").status is NameStatus.LIVE  # type: ignore[arg-type]
    assert kv.asked_active == 0


def test_a_deleted_version_proves_the_release() -> None:
    kv = FakeKV(here={"names/a": Entry(2, None)})
    assert lookup_name(kv, "a").status is NameStatus.RELEASED  # type: ignore[arg-type]


def test_a_bare_absence_on_a_lagging_node_is_asked_of_the_active_node() -> None:
    kv = FakeKV(active={"names/a": LIVE})
    lookup = lookup_name(kv, "a")  # type: ignore[arg-type]
    assert lookup.status is NameStatus.LIVE and lookup.record == LIVE.data


def test_a_bare_absence_with_no_active_node_decides_nothing() -> None:
    assert lookup_name(FakeKV(), "a").status is NameStatus.UNCERTAIN  # type: ignore[arg-type]


def test_absence_on_the_active_node_is_a_release() -> None:
    assert lookup_name(FakeKV(active={}), "a").status is NameStatus.RELEASED  # type: ignore[arg-type]
