"""Turn protocol-neutral cases into real tfplugin5/6 requests, send them, and
judge the answers; plus a snapshot of everything in Vault's KV mounts, to
prove a refused request changed nothing."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import grpc
import requests

from provider.server.rpc_table import BY_NAME
from tests.fuzz.cases import Case, Dynamic
from tests.fuzz.plugin import RunningPlugin

# Every request is answered, never left hanging: a bound on liveness, not a speed
# target (the fuzz prints its slowest call; speed is measured in `make bench`).
# Two suite processes on a loaded two-core machine once took over 1 s for one call.
DEADLINE = 5.0


def rpc_name(protocol: int, name: str) -> str:
    return BY_NAME[name].method(protocol)


def build_request(plugin: RunningPlugin, case: Case) -> tuple[str, Any]:
    rpc = rpc_name(plugin.protocol, case.rpc)
    message = "GetProviderSchema" if rpc == "GetSchema" else rpc
    request = getattr(plugin.pb, message).Request()
    for name, value in case.fields.items():
        if isinstance(value, Dynamic):
            setattr(getattr(request, name), value.encoding, value.data)
        elif name == "raw_state":
            if "json" in value:
                request.raw_state.json = value["json"]
            else:
                request.raw_state.flatmap.update(value["flatmap"])
        else:
            setattr(request, name, value)
    return rpc, request


@dataclass
class Answer:
    case: Case
    rpc: str
    request: Any
    response: Any
    seconds: float
    error: str = ""

    @property
    def errors(self) -> list[str]:
        diagnostics = getattr(self.response, "diagnostics", ())
        return [f"{d.summary}: {d.detail}" for d in diagnostics if d.severity == d.ERROR]


def send(plugin: RunningPlugin, case: Case) -> Answer:
    rpc, request = build_request(plugin, case)
    started = time.monotonic()
    try:
        response = getattr(plugin.stub, rpc)(request, timeout=DEADLINE)
    except grpc.RpcError as err:
        return Answer(case, rpc, request, None, time.monotonic() - started, repr(err))
    return Answer(case, rpc, request, response, time.monotonic() - started)


def send_raw(plugin: RunningPlugin, case: Case, mutate: Any) -> Answer:
    """The case's request serialised, then its bytes changed by `mutate`, sent as they are."""
    rpc, request = build_request(plugin, case)
    message = "GetProviderSchema" if rpc == "GetSchema" else rpc
    call = plugin.channel.unary_unary(
        f"/tfplugin{plugin.protocol}.Provider/{rpc}",
        request_serializer=None,
        response_deserializer=getattr(plugin.pb, message).Response.FromString,
    )
    data = mutate(request.SerializeToString())
    started = time.monotonic()
    try:
        response = call(data, timeout=DEADLINE)
    except grpc.RpcError as err:
        return Answer(case, rpc, request, None, time.monotonic() - started, repr(err))
    return Answer(case, rpc, request, response, time.monotonic() - started)


def problems(answer: Answer) -> list[str]:
    """What is wrong with an answer (empty when it is what the issue demands)."""
    label = f"proto{answer.request.DESCRIPTOR.file.package[-1]} {answer.case.label}"
    if answer.error:
        return [f"{label}: gRPC error instead of an answer: {answer.error[:300]}"]
    found = []
    if answer.seconds > DEADLINE:
        found.append(f"{label}: answered after {answer.seconds:.2f}s")
    if answer.case.must_refuse and not answer.errors:
        found.append(f"{label}: accepted, but must be refused with an error diagnostic")
    whole_request_refused = any(e.startswith("Malformed request") for e in answer.errors)
    if (
        answer.case.must_refuse
        and answer.errors
        and _type_known(answer)
        and not whole_request_refused
    ):
        echoed = {
            "read_resource": ("new_state", "current_state"),
            "apply_resource_change": ("new_state", "prior_state"),
        }.get(answer.case.rpc)
        if echoed and not _same_state(
            getattr(answer.response, echoed[0]), getattr(answer.request, echoed[1])
        ):
            found.append(f"{label}: refused, but did not hand back the {echoed[1]} unchanged")
    for text in answer.errors:
        if "bug in the provider" in text or "Internal error" in text:
            found.append(f"{label}: blamed the provider: {text[:300]}")
    return found


def _type_known(answer: Answer) -> bool:
    return not any(e.startswith("Unknown resource type") for e in answer.errors)


def _same_state(response_value: Any, request_value: Any) -> bool:
    return (response_value.msgpack, response_value.json) == (
        request_value.msgpack,
        request_value.json,
    )


def vault_snapshot(address: str, token: str) -> dict[str, Any]:
    """Every mount, and every key with all its versions' metadata in every KV v2 mount."""
    session = requests.Session()
    session.headers["X-Vault-Token"] = token
    mounts = session.get(f"{address}/v1/sys/mounts", timeout=10).json()["data"]
    snapshot: dict[str, Any] = {"mounts": sorted(mounts)}
    for mount, info in sorted(mounts.items()):
        if info.get("type") != "kv":
            continue
        version = (info.get("options") or {}).get("version", "1")
        snapshot[mount] = _kv_tree(session, address, mount.rstrip("/"), version)
    return snapshot


def _kv_tree(session: requests.Session, address: str, mount: str, version: str) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    pending = [""]
    while pending:
        prefix = pending.pop()
        where = f"{mount}/metadata/{prefix}" if version == "2" else f"{mount}/{prefix}"
        listed = session.request("LIST", f"{address}/v1/{where}", timeout=10)
        if listed.status_code == 404:
            continue
        for key in listed.json()["data"]["keys"]:
            if key.endswith("/"):
                pending.append(prefix + key)
                continue
            path = f"{mount}/metadata/{prefix}{key}" if version == "2" else f"{mount}/{prefix}{key}"
            tree[prefix + key] = session.get(f"{address}/v1/{path}", timeout=10).json()["data"]
    return tree
