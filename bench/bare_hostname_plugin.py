"""`tarmak_hostname`'s schema served with no framework at all: the floor of
`make bench`'s hostname row for any provider written on grpcio and protobuf.

bench/bare_null_plugin.py's server and handlers, with one resource whose
schema is tarmak_hostname's own, byte for byte (bench/run.py writes it from
the provider's schema into BARE_HOSTNAME_SCHEMA before Terraform starts this),
planned as the real one plans it (defaults, unknown computed values, the
attributes that force a new resource) and numbered in memory. So what
Terraform spends on that schema, and what any Python provider must spend on
gRPC and msgpack for it, is measured apart from our framework and from Vault.

With BARE_HOSTNAME_WRITES=1 each create also sends the two check-and-set
writes that keep a number and a name from being held twice (the allocation
record and the name, cas=0, at once, to VAULT_ADDR's `hostnaming` mount) over
kept-alive http.client connections, and nothing else: no counter (the numbers
come from memory, and each run names a new environment), no mount check, no
retries. That is the least Vault traffic a hostname allocator with both
guarantees can send, so the row it makes bounds what any allocator can reach.

Bench-only: never packaged, never a template for resources.
"""

from __future__ import annotations

import datetime
import http.client
import itertools
import json
import os
import secrets
import sys
import threading
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bare_null_plugin import UNKNOWN, BareNull, _dump, _load, main, pb

RESOURCE = "tarmak_hostname"
MOUNT = "hostnaming"
WHO = f"bench/bare_hostname_plugin.py (pid {os.getpid()})"
DEFAULTS = {
    "format": "{application}-{role}-{environment}-vm{number}",
    "kv_mount": "hostnaming",
    "reuse_released_numbers": False,
}
FORCES_NEW = ("application", "role", "environment", "format", "kv_mount")
COMPUTED = ("name", "number", "id")


class Writes:
    """The two cas=0 writes of one allocation, sent at once on kept-alive connections."""

    def __init__(self, address: str, token: str) -> None:
        parts = urllib.parse.urlsplit(address)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 8200
        self.headers = {"X-Vault-Token": token, "Content-Type": "application/json"}
        self.local = threading.local()
        self.alongside = ThreadPoolExecutor(max_workers=16)

    def allocate(self, record: dict[str, Any], key: str) -> None:
        record_written = self.alongside.submit(
            self.write, f"allocations/{key}/{record['number']}", record
        )
        self.write(f"names/{record['name']}", record)
        record_written.result()

    def write(self, path: str, data: dict[str, Any]) -> None:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = self.local.connection = http.client.HTTPConnection(self.host, self.port)
        body = json.dumps({"options": {"cas": 0}, "data": data}).encode()
        connection.request("POST", f"/v1/{MOUNT}/data/{path}", body, self.headers)
        response = connection.getresponse()
        answer = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path}: {response.status} {answer[:200]!r}")


class BareHostname(BareNull):
    def __init__(self, schema: bytes, writes: Writes | None = None) -> None:
        self.schema = pb.Schema.FromString(schema)
        self.numbers = itertools.count(1)
        self.numbering = threading.Lock()
        self.writes = writes

    def GetMetadata(self, request: Any, context: Any) -> Any:
        return pb.GetMetadata.Response(
            resources=[pb.GetMetadata.ResourceMetadata(type_name=RESOURCE)]
        )

    def GetProviderSchema(self, request: Any, context: Any) -> Any:
        return pb.GetProviderSchema.Response(
            provider=pb.Schema(block=pb.Schema.Block()), resource_schemas={RESOURCE: self.schema}
        )

    def PlanResourceChange(self, request: Any, context: Any) -> Any:
        proposed = _load(request.proposed_new_state)
        prior = _load(request.prior_state)
        if proposed is None:  # destroy
            return pb.PlanResourceChange.Response(planned_state=request.proposed_new_state)
        replace = []
        if prior is None:
            for name, default in DEFAULTS.items():
                if proposed.get(name) is None:
                    proposed[name] = default
            proposed.update(dict.fromkeys(COMPUTED, UNKNOWN))
        else:
            for name in (*DEFAULTS, *COMPUTED):
                if proposed.get(name) is None:
                    proposed[name] = prior.get(name)
            replace = [
                pb.AttributePath(steps=[pb.AttributePath.Step(attribute_name=name)])
                for name in FORCES_NEW
                if prior.get(name) != proposed.get(name)
            ]
        return pb.PlanResourceChange.Response(
            planned_state=_dump(proposed), requires_replace=replace
        )

    def ApplyResourceChange(self, request: Any, context: Any) -> Any:
        planned = _load(request.planned_state)
        if planned is not None and planned.get("id") == UNKNOWN:
            with self.numbering:
                number = next(self.numbers)
            name = planned["format"].format(
                application=planned["application"],
                role=planned["role"],
                environment=planned["environment"],
                number=number,
            )
            planned.update(name=name, number=number, id=name)
            if self.writes is not None:
                self.writes.allocate(_record(planned), _key(planned))
        return pb.ApplyResourceChange.Response(new_state=_dump(planned))


def _key(planned: dict[str, Any]) -> str:
    return f"{planned['application']}/{planned['role']}/{planned['environment']}"


def _record(planned: dict[str, Any]) -> dict[str, Any]:
    """As many fields as the provider's allocation record, so as many bytes."""
    return {
        **{k: planned[k] for k in ("application", "role", "environment", "number", "name")},
        "format": planned["format"],
        "mount": MOUNT,
        "allocated_at": datetime.datetime.now(datetime.UTC).isoformat(),
        "allocated_by": WHO,
        "claim": secrets.token_hex(8),
    }


if __name__ == "__main__":
    writes = None
    if os.environ.get("BARE_HOSTNAME_WRITES") == "1":
        writes = Writes(os.environ["VAULT_ADDR"], os.environ["VAULT_TOKEN"])
    main(BareHostname(Path(os.environ["BARE_HOSTNAME_SCHEMA"]).read_bytes(), writes))
