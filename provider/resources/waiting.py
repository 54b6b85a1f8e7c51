"""What the waiting resources share: ask Tarmak, and wait for "ready".

Tarmak answers each call within a bounded wait (NOT_READY with what it saw, or
READY); `poll` asks again until READY, the resource's timeout, or Ctrl-C. A
refresh never drops an object because Tarmak could not be asked: only an
explicit GONE from Tarmak does.

Both helpers are coroutines: a resource awaits them from `async def`
create/read/open, so while Tarmak works the resource holds no thread.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Protocol

from connector.methods import Method
from provider.framework import ModifyPlanRequest, ModifyPlanResponse, Resource, timeouts_block
from provider.framework.context import Context, OperationTimedOut
from provider.framework.diagnostics import Diagnostics
from provider.prebuilt_dataclasses import dataclass
from provider.tarmak.settings import ProviderSettings

if TYPE_CHECKING:
    from connector.protocol.contract import PollResult
    from provider.tarmak.client import TarmakClient

log = logging.getLogger(__name__)
# Tarmak holds each call at most this long before answering NOT_READY.
CALL_WAIT_SECONDS = 20.0
# Between answers Tarmak gives at once (GONE, or NOT_READY from a call that only observes),
# so that waiting for something to appear does not become a stream of calls.
PAUSE_SECONDS = 2.0
# The `timeouts` block of every waiting resource: long creates, refreshes that give up soon.
WAITING_TIMEOUTS = timeouts_block(create="30m", read="1m")


class Params(Protocol):
    def to_params(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Poll:
    """One wait: which call, with what, and what the user is told it waits for."""

    method: Method
    params: Params
    waiting_for: str


def tarmak_client(settings: ProviderSettings | None, diags: Diagnostics) -> TarmakClient | None:
    if settings is None:
        diags.add_error("Provider not configured", "The tarmak provider block was not configured.")
        return None
    return settings.tarmak


async def poll(
    settings: ProviderSettings | None, wait: Poll, ctx: Context, diags: Diagnostics
) -> PollResult | None:
    """Ask until Tarmak says READY; None (with a diagnostic) when it cannot be."""
    from connector.protocol.contract import PollResult, Status, Waiting
    from provider.tarmak.client import TarmakError  # loaded with the client

    client = tarmak_client(settings, diags)
    if client is None:
        return None
    if not client.connected:
        # Once per wait: Terraform shows only "Still creating...", so say what we wait on.
        log.info(
            "waiting for tarmak-connector on %s… (for %s)", client.socket_path, wait.waiting_for
        )
    seen = ""
    while True:
        remaining = ctx.remaining()
        seconds = (
            CALL_WAIT_SECONDS if remaining is None else max(0.2, min(CALL_WAIT_SECONDS, remaining))
        )
        what = f"{wait.waiting_for} (last seen: {seen})" if seen else wait.waiting_for
        params = {**wait.params.to_params(), **Waiting(True, seconds).to_params()}
        asked = time.monotonic()
        try:
            answer = await client.call(wait.method, params, ctx, what)
        except TarmakError as err:
            diags.add_error(f"Tarmak could not provide {wait.waiting_for}", str(err))
            return None
        result = PollResult.from_result(answer)
        if result.status is Status.READY:
            return result
        seen = result.detail or "not ready"
        if result.status is Status.GONE or time.monotonic() - asked < PAUSE_SECONDS:
            await ctx.wait(PAUSE_SECONDS, what)


async def check_once(
    settings: ProviderSettings | None,
    method: Method,
    params: Params,
    ctx: Context,
    what: str,
    diags: Diagnostics,
) -> dict[str, Any] | None:
    """Ask once, without waiting; None keeps the state as it is (with a warning)."""
    from connector.protocol.contract import Waiting
    from provider.tarmak.client import TarmakError  # loaded with the client

    client = tarmak_client(settings, diags)
    if client is None:
        return None
    try:
        return await client.call(
            method, {**params.to_params(), **Waiting(wait=False).to_params()}, ctx, what
        )
    except OperationTimedOut as err:
        diags.add_warning(f"Could not check {what}", f"{err} The state is kept as it was.")
    except TarmakError as err:
        diags.add_warning(f"Could not check {what}", f"{err}. The state is kept as it was.")
    return None


class TarmakWaitingResource(Resource):
    settings: ProviderSettings | None = None
    # What a destroy leaves in place, said in the destroy plan's warning.
    destroy_leaves: str = "Nothing in Tarmak is deleted."

    def modify_plan(self, req: ModifyPlanRequest, resp: ModifyPlanResponse) -> None:
        """Warn in a destroy plan (Terraform 1.3+ plans destroys with us) that
        destroying only forgets the wait: nothing Tarmak made is removed."""
        if req.plan is None and req.prior_state is not None:
            resp.diagnostics.add_warning(
                f"Destroying {self.type_name} only removes it from the state",
                f"{self.destroy_leaves} Terraform forgets that it waited for it; "
                "remove the real thing with the resource or tool that created it.",
            )

    def configure(self, provider_data: Any) -> None:
        self.settings = provider_data


# What TarmakWaitingResource claims, checked by the type checker (as Go's `var _ X = ...`).
if TYPE_CHECKING:
    from provider.framework import ResourceWithModifyPlan

    _modifies_plans: type[ResourceWithModifyPlan] = TarmakWaitingResource
