"""Seeded, protocol-neutral requests for every provider RPC, most of them hostile.

A case names an RPC (by its name in provider/server/rpc_table.py) and its fields. Fields that
hold values are built from the resource's real schema and then, for most
cases, broken in one of the ways the issue saw (and more): truncated or
trailing msgpack, a non-map where an object belongs, a map used as a map key,
nesting thousands deep, numbers such as "1e9999999", NaN, "sNaN" or
"Infinity", attributes of the wrong kind or that do not exist, invalid
UTF-8, a wholly unknown value, broken JSON. Such a case `must_refuse`: the
provider has to answer it with an error diagnostic and change nothing.

The rest are well-formed but random values, sent only where a valid request
neither writes nor waits (validation, plan, upgrade, reads and imports of
tarmak_hostname): there the provider may accept or refuse, but must answer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgpack

from provider.cty import (
    BOOL,
    NUMBER,
    STRING,
    UNKNOWN,
    CtyType,
    ListType,
    MapType,
    ObjectType,
    SetType,
    TupleType,
    msgpack_codec,
)
from provider.framework.schema import Schema

# The RPCs of both protocols, by their names in the RPC table.
RPCS = (
    "get_provider_schema",
    "validate_provider_config",
    "validate_resource_config",
    "validate_data_source_config",
    "configure",
    "upgrade_resource_state",
    "read_resource",
    "plan_resource_change",
    "apply_resource_change",
    "import_resource_state",
    "read_data_source",
)
# Valid requests of these never write to Vault nor wait for Tarmak, whatever the values.
_HARMLESS_WHEN_VALID = {
    "get_provider_schema",
    "validate_provider_config",
    "validate_resource_config",
    "validate_data_source_config",
    "upgrade_resource_state",
    "plan_resource_change",
}
# Reads and imports that stay harmless when valid: they only read Vault.
_HARMLESS_TYPES = {"tarmak_hostname"}
_NUMBER_BREAKERS: list[Any] = [
    "1e9999999",
    "-1e9999999",
    "1e-9999999",
    "9" * 5000,
    "NaN",
    "sNaN",
    "nan",
    "Infinity",
    "-Infinity",
    "0x10",
    "1_000",
    "",
    " 1",
    float("nan"),
    "1e" + "9" * 40,
]
_STRINGS = [
    "web",
    "frontend",
    "prod",
    "",
    "a" * 70,
    "../../sys",
    "x?y#z",
    "nul\x00byte",
    "name with spaces",
    "ünïcødé",
    "\u202e",
    "{number}",
    "{application}-{role}-{environment}-vm{number}",
    "{0}",
    "{",
    "hostnaming",
    "30s",
    "-1s",
    "1h",
    "9999999999999h",
]


@dataclass
class Case:
    number: int
    rpc: str
    fields: dict[str, Any] = field(default_factory=dict)
    must_refuse: bool = False
    label: str = ""


@dataclass
class Dynamic:
    """A DynamicValue's bytes, in its msgpack or its json field."""

    encoding: str  # "msgpack" | "json"
    data: bytes


class CaseMaker:
    def __init__(self, seed: int, provider_schema: Schema, resources: dict[str, Schema]) -> None:
        self.rng = random.Random(seed)
        self.provider_schema = provider_schema
        self.resources = resources

    def cases(self, count: int) -> list[Case]:
        return [self.case(n) for n in range(count)]

    # ---- one request ----------------------------------------------------------------

    def case(self, number: int) -> Case:
        rng = self.rng
        rpc = rng.choice(RPCS)
        type_name = self._type_name()
        harmless = rpc in _HARMLESS_WHEN_VALID or (
            rpc in ("read_resource", "import_resource_state") and type_name in _HARMLESS_TYPES
        )
        hostile = (not harmless) or rng.random() < 0.8
        case = Case(number, rpc)
        schema = self.resources.get(type_name)
        if type_name not in self.resources and rpc not in ("get_provider_schema",):
            case.must_refuse = rpc not in ("validate_provider_config", "configure")
        object_type = schema.cty_type() if schema else ObjectType.of({"x": STRING})

        if rpc in ("validate_provider_config", "configure"):
            object_type = self.provider_schema.cty_type()
        value_fields = {
            "validate_provider_config": ["config"],
            "validate_resource_config": ["config"],
            "validate_data_source_config": ["config"],
            "configure": ["config"],
            "read_resource": ["current_state"],
            "plan_resource_change": ["prior_state", "proposed_new_state", "config"],
            "apply_resource_change": ["prior_state", "planned_state", "config"],
            "read_data_source": ["config"],
        }.get(rpc, [])
        if rpc not in ("get_provider_schema", "validate_provider_config", "configure"):
            case.fields["type_name"] = type_name
        if rpc == "configure":
            case.fields["terraform_version"] = rng.choice(["1.11.4", "", "\u0000", "x" * 300])
        labels = []
        broken = rng.choice(value_fields) if (hostile and value_fields) else None
        for name in value_fields:
            allow_unknown = name not in ("prior_state", "current_state")
            if name == broken:
                dynamic, how = self.hostile_value(object_type, allow_unknown)
                case.must_refuse = True
                labels.append(f"{name}={how}")
            else:
                dynamic = self.valid_value(object_type, allow_unknown, null_ok=True)
            case.fields[name] = dynamic
        if rpc == "upgrade_resource_state":
            case.fields["version"] = rng.choice([0, 0, 0, 1, -1, 2**62])
            raw, how, refused = self.raw_state(object_type, hostile)
            case.fields["raw_state"] = raw
            case.must_refuse = case.must_refuse or refused
            labels.append(f"raw_state={how}")
        if rpc == "import_resource_state":
            case.fields["id"] = rng.choice(
                [*_STRINGS, "hostnaming/web-frontend-prod-vm1", "a/b/c", "/", "x" * 5000]
            )
            if not harmless:
                case.must_refuse = True  # an unknown type
        for name in ("private", "prior_private", "planned_private"):
            if (rpc, name) in (
                ("read_resource", "private"),
                ("plan_resource_change", "prior_private"),
                ("apply_resource_change", "planned_private"),
            ):
                case.fields[name] = rng.choice([b"", b"\xff\x00garbage", rng.randbytes(64)])
        if rpc in ("read_resource", "read_data_source") and broken is None and not harmless:
            # a valid read of a waiting resource may wait for Tarmak: keep reads harmless
            case.fields[value_fields[0]] = Dynamic("msgpack", b"~")
            case.must_refuse = True
            labels.append("not a map")
        case.label = f"#{number} {rpc}({type_name}) " + " ".join(labels)
        return case

    def _type_name(self) -> str:
        rng = self.rng
        if rng.random() < 0.85:
            return rng.choice(sorted(self.resources))
        return rng.choice(["", "tarmak_nothing", "tarmak_hostname\x00", "ü" * 100, "x" * 10000])

    # ---- values -----------------------------------------------------------------------

    def valid_value(self, type_: CtyType, allow_unknown: bool, null_ok: bool) -> Dynamic:
        if null_ok and self.rng.random() < 0.1:
            return Dynamic("msgpack", b"")
        value = self._value(type_, allow_unknown, depth=0, top=True)
        if self.rng.random() < 0.15 and not allow_unknown:
            from provider.cty import json_codec

            return Dynamic("json", json_codec.encode(value, type_))
        return Dynamic("msgpack", msgpack_codec.encode(value, type_))

    def _value(self, type_: CtyType, allow_unknown: bool, depth: int, top: bool = False) -> Any:
        rng = self.rng
        if not top:
            roll = rng.random()
            if roll < 0.15:
                return None
            if allow_unknown and roll < 0.2:
                return UNKNOWN
        if type_ == STRING:
            return rng.choice(_STRINGS)
        if type_ == NUMBER:
            return rng.choice([0, 1, 7, -3, 2**63, Decimal("0.5"), Decimal("Infinity")])
        if type_ == BOOL:
            return rng.random() < 0.5
        if isinstance(type_, ListType | SetType):
            count = rng.randint(0, 2 if depth < 3 else 0)
            items = [self._value(type_.element, allow_unknown, depth + 1) for _ in range(count)]
            return [i for i in items if i is not None] if isinstance(type_, SetType) else items
        if isinstance(type_, MapType):
            return {
                f"k{i}": self._value(type_.element, allow_unknown, depth + 1)
                for i in range(rng.randint(0, 2))
            }
        if isinstance(type_, TupleType):
            return [self._value(t, allow_unknown, depth + 1) for t in type_.elements]
        if isinstance(type_, ObjectType):
            return {k: self._value(t, allow_unknown, depth + 1) for k, t in type_.attributes}
        return None

    def hostile_value(self, type_: ObjectType, allow_unknown: bool) -> tuple[Dynamic, str]:
        rng = self.rng
        value = self._value(type_, allow_unknown, depth=0, top=True)
        wire = msgpack_codec.encode(value, type_)
        raw = msgpack.unpackb(wire, raw=False, strict_map_key=False)
        how = rng.choice(
            [
                "truncated",
                "not a map",
                "map key is a map",
                "deep msgpack",
                "deep json",
                "bad number",
                "wrong kind",
                "unsupported attribute",
                "invalid utf-8",
                "trailing bytes",
                "wholly unknown",
                "bad json",
                "random bytes in a map",
            ]
        )
        if how == "truncated":
            return Dynamic("msgpack", wire[: rng.randint(1, max(1, len(wire) - 1))]), how
        if how == "not a map":
            scalar = rng.choice([126, "~", 1.5, True, [1, 2], b"bin", -1, 2**64 - 1])
            return Dynamic("msgpack", msgpack.packb(scalar, use_bin_type=True)), how
        if how == "map key is a map":
            return Dynamic("msgpack", b"\x81\x81\xa1a\xa1b\xa1c"), how
        if how == "deep msgpack":
            depth = rng.choice([65, 200, 1000, 5000])
            return Dynamic("msgpack", b"\x91" * depth + b"\xc0"), f"{how} {depth}"
        if how == "deep json":
            depth = rng.choice([65, 1000, 100_000])
            opener = rng.choice([b"[", b'{"a":'])
            return Dynamic("json", opener * depth), f"{how} {depth}"
        if how == "bad number" or how == "wrong kind":
            name, attr_type = rng.choice(type_.attributes)
            if how == "bad number" and any(t == NUMBER for _, t in type_.attributes):
                name = rng.choice([n for n, t in type_.attributes if t == NUMBER])
                raw[name] = rng.choice(_NUMBER_BREAKERS)
            else:
                raw[name] = _wrong_kind(attr_type, rng)
            return Dynamic("msgpack", _pack(raw)), f"{how} at {name}: {raw[name]!r:.30}"
        if how == "unsupported attribute":
            raw[rng.choice(["zz", "", "\x00", "ID"])] = 1
            return Dynamic("msgpack", _pack(raw)), how
        if how == "invalid utf-8":
            strings = [n for n, t in type_.attributes if t == STRING]
            name = rng.choice(strings) if strings else "x"
            raw[name] = "PLACEHOLDER!"
            packed = _pack(raw).replace(b"PLACEHOLDER!", b"\xff\xfe\xfd" * 4)
            return Dynamic("msgpack", packed), f"{how} at {name}"
        if how == "trailing bytes":
            return Dynamic("msgpack", wire + rng.choice([b"\x00", b"\xc0", b"~~~"])), how
        if how == "wholly unknown":
            return Dynamic("msgpack", b"\xd4\x00\x00"), how
        if how == "bad json":
            data = rng.choice(
                [
                    b"{",
                    b'{"number": NaN}',
                    b'{"number": Infinity}',
                    b'{"number": 1e9999999}',
                    b'{"number": "1e9999999"}',
                    b"[1,2]",
                    b'"x"',
                    b"\xff\xfe",
                    b'{"a": 1} trailing',
                    b'{"number": ' + b"9" * 5000 + b"}",
                ]
            )
            return Dynamic("json", data), f"{how} {data[:24]!r}"
        # random bytes behind a map header: invalid for any object of these schemas
        body = rng.randbytes(rng.randint(0, 40))
        return Dynamic("msgpack", b"\xdf\xff\xff\xff\xff" + body), how

    def raw_state(self, type_: ObjectType, hostile: bool) -> tuple[dict[str, Any], str, bool]:
        """A RawState (json or flatmap), how it was made, and whether it must be refused."""
        rng = self.rng
        if not hostile:
            value = self._value(type_, False, depth=0, top=True)
            from provider.cty import json_codec

            return {"json": json_codec.encode(value, type_)}, "valid", False
        numbers = [n for n, t in type_.attributes if t == NUMBER]
        strings = [n for n, t in type_.attributes if t == STRING]
        if numbers:
            name = rng.choice(numbers).encode()
            broken_attribute = rng.choice(
                [
                    b'{"%s": "1e9999999"}' % name,
                    b'{"%s": 1e9999999}' % name,
                    b'{"%s": NaN}' % name,
                    b'{"%s": "sNaN"}' % name,
                    b'{"%s": "Infinity"}' % name,
                ]
            )
        else:
            broken_attribute = b'{"%s": {"nested": true}}' % rng.choice(strings).encode()
        data = rng.choice(
            [
                b"~",
                b"[" * 1000,
                b'{"a":' * 5000,
                b"[1, 2, 3]",
                b'"state"',
                b"null",
                broken_attribute,
                broken_attribute,
                b"\xff\xff",
                b"",
                b"{" + b'"k":1,' * 10 + b"}",
            ]
        )
        if data == b"":
            return {"flatmap": {"id": "x", "%": "1"}}, "flatmap", True
        return {"json": data}, f"json {data[:24]!r}", True


def _wrong_kind(type_: CtyType, rng: random.Random) -> Any:
    if type_ == STRING:
        return rng.choice([5, True, {"a": "b"}, [1], b"bytes", 1.5])
    if type_ == NUMBER:
        return rng.choice(["five", True, {"a": 1}, [1], b"\x01"])
    if type_ == BOOL:
        return rng.choice(["true", 1, 0, {"a": True}])
    if isinstance(type_, ListType | SetType | TupleType):
        return rng.choice(["list", 1, {"a": 1}])
    return rng.choice(["object", 1, [1, 2], True])


def _pack(raw: Any) -> bytes:
    return msgpack.packb(raw, use_bin_type=True)
