"""tarmak_bastion_instance: blocks until the wing API server on the bastion runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from connector.methods import Method
from provider.cty import STRING
from provider.framework import (
    Attribute,
    Block,
    CreateRequest,
    CreateResponse,
    DeleteRequest,
    DeleteResponse,
    ReadRequest,
    ReadResponse,
    Schema,
)
from provider.resources.waiting import (
    WAITING_TIMEOUTS,
    Poll,
    TarmakWaitingResource,
    check_once,
    poll,
)

if TYPE_CHECKING:
    from connector.protocol.contract import BastionParams


class BastionInstance(TarmakWaitingResource):
    type_name = "tarmak_bastion_instance"
    destroy_leaves = "The bastion instance is not deleted and wing keeps running."
    schema = Schema(
        Block(
            description=(
                "Waits until Tarmak has reached the bastion over SSH and its wing API server "
                "answers. Other instances check into wing, so they should depend on this. "
                "Destroying it only removes it from the state: the bastion itself is managed "
                "by the resource that created the instance."
            ),
            attributes={
                "hostname": Attribute(
                    STRING,
                    required=True,
                    force_new=True,
                    description="Bastion IP address or hostname.",
                ),
                "username": Attribute(
                    STRING,
                    required=True,
                    force_new=True,
                    description="User Tarmak logs in as over SSH.",
                ),
                "instance_id": Attribute(
                    STRING,
                    optional=True,
                    force_new=True,
                    description="ID of the bastion instance; referencing it orders this "
                    "after the instance. A change (a new bastion) replaces the resource, so "
                    "the new bastion is waited for again.",
                ),
                "status": Attribute(
                    STRING, computed=True, description="`ready` once wing answers."
                ),
                "id": Attribute(STRING, computed=True, stable=True, description="The hostname."),
            },
            blocks={"timeouts": WAITING_TIMEOUTS},
        )
    )

    def _params(self, state: dict[str, Any]) -> BastionParams:
        from connector.protocol.contract import BastionParams

        return BastionParams(state["hostname"], state["username"], state["instance_id"])

    async def create(self, req: CreateRequest, resp: CreateResponse) -> None:
        what = f"the wing API server on bastion {req.plan['hostname']}"
        wait = Poll(Method.BASTION_INSTANCE_STATUS, self._params(req.plan), what)
        result = await poll(self.settings, wait, req.context, resp.diagnostics)
        if result is not None:
            resp.state = {**req.plan, "status": result.status.value, "id": req.plan["hostname"]}

    async def read(self, req: ReadRequest, resp: ReadResponse) -> None:
        resp.state = dict(req.state)
        answer = await check_once(
            self.settings,
            Method.BASTION_INSTANCE_STATUS,
            self._params(req.state),
            req.context,
            f"bastion {req.state['hostname']}",
            resp.diagnostics,
        )
        if answer is None:
            return
        from connector.protocol.contract import Status

        status = answer.get("status")
        if status == Status.GONE:
            resp.state = None
        else:
            resp.state["status"] = status or req.state["status"]

    def delete(self, req: DeleteRequest, resp: DeleteResponse) -> None:
        """Nothing to undo in Tarmak: the wait is over, the bastion is not ours to remove."""
