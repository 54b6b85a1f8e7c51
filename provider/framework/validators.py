"""Reusable attribute validators. Each reports a diagnostic naming the attribute."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from provider.framework.diagnostics import Diagnostics
from provider.framework.duration import DurationError, parse_duration
from provider.framework.path import Path
from provider.framework.schema import Validator

_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def one_of(choices: Iterable[str]) -> Validator:
    allowed = tuple(choices)

    def check(value: Any, path: Path, diags: Diagnostics) -> None:
        if value not in allowed:
            diags.add_attribute_error(
                path, "Invalid value", f"{path} must be one of {', '.join(allowed)}; got {value!r}."
            )

    return check


def non_empty(value: Any, path: Path, diags: Diagnostics) -> None:
    if len(value) == 0:
        diags.add_attribute_error(path, "Empty value", f"{path} must not be empty.")


def dns_label(value: Any, path: Path, diags: Diagnostics) -> None:
    """Lower-case letters, digits and inner hyphens, at most 63 characters (RFC 1123)."""
    if not _DNS_LABEL.match(value):
        diags.add_attribute_error(
            path,
            "Invalid DNS label",
            f"{path} is {value!r}, which cannot form part of a hostname: use lower-case "
            "letters, digits and hyphens (not at either end), at most 63 characters.",
        )


def duration(value: Any, path: Path, diags: Diagnostics) -> None:
    try:
        parse_duration(value)
    except DurationError as err:
        diags.add_attribute_error(path, "Invalid duration", f"{path}: {err}")
