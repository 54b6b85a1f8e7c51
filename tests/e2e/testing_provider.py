"""A small provider used only by the tests, served by the real protocol core.

`testing_thing` keeps its objects as JSON files in the provider's `store_dir`,
so tests can see what Terraform created and change it behind Terraform's back
(drift). `testing_slow` waits for a while, so tests can interrupt or time out.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from provider.cty import NUMBER, STRING, MapType
from provider.framework import (
    Attribute,
    Block,
    ConfigureRequest,
    ConfigureResponse,
    CreateRequest,
    CreateResponse,
    DataSource,
    DataSourceReadRequest,
    DataSourceReadResponse,
    DeleteRequest,
    DeleteResponse,
    ImportRequest,
    ImportResponse,
    Provider,
    ReadRequest,
    ReadResponse,
    Resource,
    Schema,
    UpdateRequest,
    UpdateResponse,
    timeouts_block,
)
from provider.framework.validators import dns_label
from provider.server.serve import serve_and_exit


class Store:
    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def put(self, object_id: str, data: dict[str, Any]) -> None:
        (self.directory / f"{object_id}.json").write_text(json.dumps(data))

    def get(self, object_id: str) -> dict[str, Any] | None:
        path = self.directory / f"{object_id}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def delete(self, object_id: str) -> None:
        (self.directory / f"{object_id}.json").unlink(missing_ok=True)


class Thing(Resource):
    type_name = "testing_thing"
    schema = Schema(
        Block(
            attributes={
                "name": Attribute(STRING, required=True, force_new=True, validators=(dns_label,)),
                "value": Attribute(STRING, optional=True),
                "tags": Attribute(MapType(STRING), optional=True),
                "size": Attribute(NUMBER, optional=True, computed=True, default=1),
                "id": Attribute(STRING, computed=True, stable=True),
                "revision": Attribute(NUMBER, computed=True),
                "secret": Attribute(STRING, computed=True, sensitive=True, stable=True),
            },
            blocks={"timeouts": timeouts_block(create="1m")},
        )
    )
    store: Store

    def configure(self, provider_data: Any) -> None:
        self.store = provider_data

    def _record(self, state: dict[str, Any]) -> None:
        self.store.put(
            state["id"],
            {k: state[k] for k in ("name", "value", "tags", "size", "revision", "secret")},
        )

    def create(self, req: CreateRequest, resp: CreateResponse) -> None:
        state = dict(req.plan)
        state.update(id=f"thing-{secrets.token_hex(4)}", revision=1, secret=secrets.token_hex(8))
        self._record(state)
        resp.state = state

    def read(self, req: ReadRequest, resp: ReadResponse) -> None:
        stored = self.store.get(req.state["id"])
        if stored is not None:
            resp.state = {**req.state, **stored}

    def update(self, req: UpdateRequest, resp: UpdateResponse) -> None:
        state = dict(req.plan)
        state["revision"] = req.prior_state["revision"] + 1
        self._record(state)
        resp.state = state

    def delete(self, req: DeleteRequest, resp: DeleteResponse) -> None:
        self.store.delete(req.state["id"])

    def import_state(self, req: ImportRequest, resp: ImportResponse) -> None:
        if self.store.get(req.id) is None:
            resp.diagnostics.add_error("Cannot import", f"No testing_thing has the id {req.id!r}.")
            return
        resp.state = {"id": req.id}


class Slow(Resource):
    type_name = "testing_slow"
    schema = Schema(
        Block(
            attributes={
                "seconds": Attribute(NUMBER, required=True, force_new=True),
                "id": Attribute(STRING, computed=True),
            },
            blocks={"timeouts": timeouts_block(create="10m")},
        )
    )

    def create(self, req: CreateRequest, resp: CreateResponse) -> None:
        req.context.sleep(float(req.plan["seconds"]), "the slow thing to finish")
        resp.state = {**req.plan, "id": "slow"}

    def read(self, req: ReadRequest, resp: ReadResponse) -> None:
        resp.state = dict(req.state)

    def delete(self, req: DeleteRequest, resp: DeleteResponse) -> None:
        pass


NULL_SCHEMA = Schema(
    Block(
        attributes={
            "triggers": Attribute(MapType(STRING), optional=True, force_new=True),
            "id": Attribute(STRING, computed=True),
        }
    )
)


class Null(Resource):
    """Does nothing, like the null provider's null_resource (for benchmarks).

    Its operations only compute, so they are coroutines, as the framework asks
    of operations that never block: they run on the event loop, with no
    hand-off to a worker thread (docs/threads.md)."""

    type_name = "testing_null"
    schema = NULL_SCHEMA

    async def create(self, req: CreateRequest, resp: CreateResponse) -> None:
        resp.state = {**req.plan, "id": secrets.token_hex(8)}

    async def read(self, req: ReadRequest, resp: ReadResponse) -> None:
        resp.state = dict(req.state)

    async def delete(self, req: DeleteRequest, resp: DeleteResponse) -> None:
        pass


class PlainNull(Resource):
    """`testing_null` with plain `def` operations, which the framework hands to
    a worker thread and back, as it must for an operation that may block: the
    benchmarks show what that hand-off costs beside `testing_null`."""

    type_name = "testing_null_plain"
    schema = NULL_SCHEMA

    def create(self, req: CreateRequest, resp: CreateResponse) -> None:
        resp.state = {**req.plan, "id": secrets.token_hex(8)}

    def read(self, req: ReadRequest, resp: ReadResponse) -> None:
        resp.state = dict(req.state)

    def delete(self, req: DeleteRequest, resp: DeleteResponse) -> None:
        pass


class Echo(DataSource):
    """A data source: `output` is `input` upper-cased."""

    type_name = "testing_echo"
    schema = Schema(
        Block(
            attributes={
                "input": Attribute(STRING, required=True),
                "output": Attribute(STRING, computed=True),
            }
        )
    )

    def read(self, req: DataSourceReadRequest, resp: DataSourceReadResponse) -> None:
        resp.state = {"input": req.config["input"], "output": req.config["input"].upper()}


class SecretSink(Resource):
    """Takes a secret through a write-only attribute (Terraform 1.11+) and keeps
    it in its store only, so tests can see what reached the provider."""

    type_name = "testing_secret_sink"
    schema = Schema(
        Block(
            attributes={
                "name": Attribute(STRING, required=True, force_new=True),
                "secret_wo": Attribute(STRING, required=True, sensitive=True, write_only=True),
                "id": Attribute(STRING, computed=True),
            }
        )
    )
    store: Store

    def configure(self, provider_data: Any) -> None:
        self.store = provider_data

    def create(self, req: CreateRequest, resp: CreateResponse) -> None:
        self.store.put(f"sink-{req.plan['name']}", {"secret": req.config["secret_wo"]})
        resp.state = {**req.plan, "secret_wo": None, "id": req.plan["name"]}

    def read(self, req: ReadRequest, resp: ReadResponse) -> None:
        resp.state = dict(req.state)

    def delete(self, req: DeleteRequest, resp: DeleteResponse) -> None:
        self.store.delete(f"sink-{req.state['name']}")


class TestingProvider(Provider):
    type_name = "testing"
    schema = Schema(
        Block(
            attributes={
                "store_dir": Attribute(STRING, required=True),
                # Written to <store_dir>/provider-token, to see what a provider block received.
                "token": Attribute(STRING, optional=True, sensitive=True),
            }
        )
    )

    def configure(self, req: ConfigureRequest, resp: ConfigureResponse) -> None:
        store = Store(req.config["store_dir"])
        if isinstance(req.config.get("token"), str):
            store.put("provider-token", {"token": req.config["token"]})
        resp.provider_data = store

    def resources(self) -> list[Resource]:
        return [Thing(), Slow(), Null(), PlainNull(), SecretSink()]

    def data_sources(self) -> list[DataSource]:
        return [Echo()]


def main() -> None:
    serve_and_exit(TestingProvider(), "registry.terraform.io/test/testing")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
