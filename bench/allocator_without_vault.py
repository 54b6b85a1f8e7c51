"""The tarmak provider with every hostname numbered in memory: the hostname row's floor.

`make bench` applies 100 `tarmak_hostname` through this provider beside the real
one. Everything Terraform and the provider do for the resource (its schema,
validation, plan, state, identity, the provider's configuration, even the one
mount check per process) stays as it is; only `Hostnaming.allocate`, the part
that sends the check-and-set writes, is replaced by a counter in this process.
So this row is what 100 hostnames cost before a single allocation reaches
Vault, and a target below it cannot be met by any allocator. Never shipped:
bench/run.py writes a launcher that calls `main` here.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any


def main() -> None:
    from provider.main import main as provider_main
    from provider.resources.hostname import Hostname

    real = Hostname._hostnaming
    numbers = itertools.count(1)
    lock = threading.Lock()

    def hostnaming(self: Hostname, *args: Any, **kwargs: Any) -> Any:
        """The real allocator object (the real imports and mount check), allocating
        from `numbers` instead of Vault."""
        made = real(self, *args, **kwargs)
        if made is None:
            return None
        from provider.tarmak.hostnames.allocator import Allocation
        from provider.tarmak.hostnames.records import render

        def allocate(key: Any, name_format: str, reuse_released: bool) -> Allocation:
            with lock:
                number = next(numbers)
            return Allocation(key, number, render(name_format, key, number))

        made.allocate = allocate
        return made

    Hostname._hostnaming = hostnaming  # type: ignore[method-assign]
    provider_main()
