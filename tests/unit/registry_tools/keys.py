"""Throwaway RSA signing keys for the registry tests, and a check that no
gpg-agent outlives the keyring it served."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from registry_tools.sign import SigningKey, describe_key, generate_key, stop_agents


@dataclass(frozen=True)
class Key:
    home: str  # its own GNUPGHOME
    key_id: str

    @property
    def public(self) -> SigningKey:
        return describe_key(self.home, self.key_id)


def gpg_daemons(home: str | Path) -> list[int]:
    """Live gpg daemons (agent, dirmngr, keyboxd) started for this GNUPGHOME."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            continue  # gone meanwhile
        program = Path(argv[0].decode(errors="replace")).name if argv and argv[0] else ""
        if program.startswith("gpg") and str(home).encode() in b" ".join(argv):
            found.append(int(entry))
    return found


def assert_no_daemons(home: str | Path, limit: float = 5.0) -> None:
    """gpgconf asks the agent to exit; give it a moment (bounded) to do so."""
    deadline = time.monotonic() + limit
    while gpg_daemons(home):
        assert time.monotonic() < deadline, f"gpg daemons left for {home}: {gpg_daemons(home)}"
        time.sleep(0.05)


@contextmanager
def throwaway_keys(base: Path, *names: str) -> Iterator[list[Key]]:
    """One RSA-2048 key per name, each in its own GNUPGHOME under `base`;
    their daemons are ended and the homes removed afterwards."""
    keys = []
    try:
        for name in names:
            home = base / f"gpg-{name}"
            home.mkdir(mode=0o700, parents=True)
            email = f"{name}@example.invalid"
            keys.append(Key(str(home), generate_key(str(home), f"Tarmak {name}", email, 2048)))
        yield keys
    finally:
        for key in keys:
            stop_agents(key.home)
        for key in keys:
            assert_no_daemons(key.home)
            shutil.rmtree(key.home, ignore_errors=True)
