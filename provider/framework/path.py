"""Attribute paths, built step by step: Path.root("timeouts").at_name("create")."""

from __future__ import annotations

from provider.prebuilt_dataclasses import dataclass


@dataclass(frozen=True)
class AttributeName:
    name: str


@dataclass(frozen=True)
class ElementKey:
    key: str | int  # a map key (str) or a list/tuple index (int)


Step = AttributeName | ElementKey


@dataclass(frozen=True)
class Path:
    steps: tuple[Step, ...] = ()

    @classmethod
    def root(cls, name: str) -> Path:
        return cls((AttributeName(name),))

    def at_name(self, name: str) -> Path:
        return Path((*self.steps, AttributeName(name)))

    def at_key(self, key: str | int) -> Path:
        return Path((*self.steps, ElementKey(key)))

    def __str__(self) -> str:
        out = ""
        for step in self.steps:
            if isinstance(step, AttributeName):
                out += f".{step.name}" if out else step.name
            else:
                out += f"[{step.key!r}]" if isinstance(step.key, str) else f"[{step.key}]"
        return out
