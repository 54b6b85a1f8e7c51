"""How the framework calls code that a provider author wrote.

Three rules hold for every kind (resources, data sources, ephemeral and list
resources): an exception in author code becomes an error diagnostic instead
of crashing the plugin (`guard`); an `async def` operation is awaited on the
event loop and a plain one is handed to a worker thread (`perform`, see
docs/threads.md); a state handed back gets every attribute and block of its
schema, null where unset (`complete`).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from provider.framework import handoff
from provider.framework.context import OperationInterrupted
from provider.framework.diagnostics import Diagnostics
from provider.framework.resource import State
from provider.framework.schema import Schema

log = logging.getLogger(__name__)
Req = TypeVar("Req")
Resp = TypeVar("Resp")


async def perform(
    operation: Callable[[Req, Resp], Awaitable[None] | None], req: Req, resp: Resp
) -> None:
    """Await an `async def` operation here, on the loop; hand a plain one to a worker thread."""
    if inspect.iscoroutinefunction(operation):
        pending = operation(req, resp)
        if pending is not None:
            await pending
    else:
        await handoff.run(operation, req, resp)


def complete(schema: Schema, state: State | None) -> State | None:
    """Give every attribute and block of the schema a value (null when unset)."""
    if state is None:
        return None
    names = (*schema.block.attributes, *schema.block.blocks)
    return {name: state.get(name) for name in names}


@contextmanager
def guard(diags: Diagnostics, doing: str) -> Iterator[None]:
    """Turn a wait that ended early, or a provider bug, into an error diagnostic."""
    try:
        yield
    except OperationInterrupted as err:
        diags.add_error(f"Stopped {doing}", str(err))
    except Exception as err:  # a resource bug must never crash the plugin
        log.exception("unexpected error while %s", doing)
        diags.add_error(
            f"Unexpected error while {doing}",
            f"{type(err).__name__}: {err}. This is a bug in the provider; "
            "the provider log (TF_LOG=debug) has the details.",
        )
