"""The provider's functions, one module each, named after the function."""

from __future__ import annotations

from provider.framework.function import Function


def all_functions() -> list[Function]:
    from provider.functions.parse_hostname import ParseHostname

    return [ParseHostname()]
