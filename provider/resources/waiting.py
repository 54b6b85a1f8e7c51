"""What the three blocking resources share: ask Tarmak, and wait for "ready".

Tarmak answers each call within a bounded wait ("not-ready" with what it saw,
or "ready"); we ask again until ready, the resource's timeout, or Ctrl-C. A
refresh never drops an object because Tarmak could not be asked: only an
explicit "gone" from Tarmak does.

Both helpers are coroutines: a resource awaits them from `async def`
create/read, so while Tarmak works the resource holds no thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from connector.methods import Method
from provider.framework import ModifyPlanRequest, ModifyPlanResponse, Resource, timeouts_block
from provider.framework.context import Context, OperationTimedOut
from provider.framework.diagnostics import Diagnostics
from provider.tarmak.settings import ProviderSettings

if TYPE_CHECKING:
    from provider.tarmak.client import TarmakClient

# Tarmak holds each call at most this long before answering "not-ready".
CALL_WAIT_SECONDS = 20.0
# The `timeouts` block of every waiting resource: long creates, refreshes that give up soon.
WAITING_TIMEOUTS = timeouts_block(create="30m", read="1m")


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

    def _client(self, diags: Diagnostics) -> TarmakClient | None:
        if self.settings is None:
            diags.add_error(
                "Provider not configured", "The tarmak provider block was not configured."
            )
            return None
        return self.settings.tarmak

    async def wait_ready(
        self,
        method: Method,
        params: dict[str, Any],
        ctx: Context,
        waiting_for: str,
        diags: Diagnostics,
    ) -> dict[str, Any] | None:
        """Ask until Tarmak says ready; None (with a diagnostic) when it cannot be."""
        from provider.tarmak.client import TarmakError  # loaded with the client

        client = self._client(diags)
        if client is None:
            return None
        seen = ""
        while True:
            remaining = ctx.remaining()
            wait = (
                CALL_WAIT_SECONDS
                if remaining is None
                else max(0.2, min(CALL_WAIT_SECONDS, remaining))
            )
            what = f"{waiting_for} (last seen: {seen})" if seen else waiting_for
            try:
                result = await client.call(
                    method, {**params, "wait": True, "wait_seconds": wait}, ctx, what
                )
            except TarmakError as err:
                diags.add_error(f"Tarmak could not make {waiting_for} ready", str(err))
                return None
            if result.get("status") == "ready":
                return result
            seen = str(result.get("detail", "not ready"))

    async def check_once(
        self, method: Method, params: dict[str, Any], ctx: Context, what: str, diags: Diagnostics
    ) -> dict[str, Any] | None:
        """Ask once, without waiting; None keeps the state as it is (with a warning)."""
        from provider.tarmak.client import TarmakError  # loaded with the client

        client = self._client(diags)
        if client is None:
            return None
        try:
            return await client.call(method, {**params, "wait": False}, ctx, what)
        except OperationTimedOut as err:
            diags.add_warning(f"Could not check {what}", f"{err} The state is kept as it was.")
        except TarmakError as err:
            diags.add_warning(f"Could not check {what}", f"{err}. The state is kept as it was.")
        return None
