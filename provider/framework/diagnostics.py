"""Diagnostics: how resources report problems. Errors are data, not exceptions."""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum

from provider.framework.path import Path
from provider.prebuilt_dataclasses import dataclass, field


class Severity(Enum):
    ERROR = 1
    WARNING = 2


@dataclass(frozen=True)
class Diagnostic:
    severity: Severity
    summary: str
    detail: str = ""
    path: Path | None = None


@dataclass
class Diagnostics:
    items: list[Diagnostic] = field(default_factory=list)

    def add_error(self, summary: str, detail: str = "", path: Path | None = None) -> None:
        self.items.append(Diagnostic(Severity.ERROR, summary, detail, path))

    def add_warning(self, summary: str, detail: str = "", path: Path | None = None) -> None:
        self.items.append(Diagnostic(Severity.WARNING, summary, detail, path))

    def add_attribute_error(self, path: Path | str, summary: str, detail: str = "") -> None:
        self.add_error(summary, detail, Path.root(path) if isinstance(path, str) else path)

    def extend(self, other: Diagnostics) -> None:
        self.items.extend(other.items)

    def has_error(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.items)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)
