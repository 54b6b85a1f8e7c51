"""The typed contract between the provider and the Tarmak side: what each method
takes and answers.

Both ends build and read these dataclasses instead of spelling `"wait"`,
`"wait_seconds"`, `"create"` and `"ready"` by hand. On the wire they stay the
JSON-RPC params and results they always were (StrEnum values, the same keys), so
a handler that still returns plain strings answers just the same. Dependency-free,
like connector/methods.py: the provider's resources import it on every start.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import asdict, dataclass, field
from enum import Enum, StrEnum
from typing import Any, TypeVar

T = TypeVar("T")

# Tarmak holds a waiting call at most this long before answering "not ready" when
# the caller gives no wait_seconds.
DEFAULT_WAIT_SECONDS = 30.0


class InvalidParams(ValueError):
    """A request's params break the contract; the message names the field and the
    type it must have, so the caller learns what to fix (JSON-RPC INVALID_PARAMS)."""


class _Missing(Enum):
    REQUIRED = "required"


def _param(params: dict[str, Any], name: str, kind: type[T], what: str, default: T | _Missing) -> T:
    """params[name] if it is a `kind` (`what` says that in words), else InvalidParams.
    A boolean is no number here, though Python counts it as an int."""
    value = params.get(name, default)
    if value is _Missing.REQUIRED:
        raise InvalidParams(f"param {name!r} is missing: it must be {what}")
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise InvalidParams(f"param {name!r} must be {what}")
    return value


def _required_str(params: dict[str, Any], name: str) -> str:
    return _param(params, name, str, "a string", _Missing.REQUIRED)


def _optional_str(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidParams(f"param {name!r} must be a string or null")
    return value


def _strings(params: dict[str, Any], name: str) -> tuple[str, ...]:
    """A list of strings (maybe empty: what an empty one means is the handler's to say)."""
    value = params.get(name, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidParams(f"param {name!r} must be a list of strings")
    return tuple(value)


def _seconds(params: dict[str, Any], name: str, default: float) -> float:
    """A finite number >= 0: infinity or NaN would hold a call for ever."""
    value = params.get(name, default)
    seconds = math.nan
    if isinstance(value, int | float) and not isinstance(value, bool):
        with contextlib.suppress(OverflowError):  # an integer of 400 digits
            seconds = float(value)
    if not (math.isfinite(seconds) and seconds >= 0):
        raise InvalidParams(f"param {name!r} must be a number >= 0")
    return seconds


class Status(StrEnum):
    READY = "ready"
    NOT_READY = "not-ready"  # not yet: ask again
    GONE = "gone"  # does not exist (and this call was not asked to make it)


@dataclass(frozen=True)
class Waiting:
    """How long Tarmak may hold a call before answering NOT_READY (`wait` False: at once)."""

    wait: bool = True
    wait_seconds: float = DEFAULT_WAIT_SECONDS

    def to_params(self) -> dict[str, Any]:
        return {"wait": self.wait, "wait_seconds": self.wait_seconds}

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Waiting:
        return cls(
            _param(params, "wait", bool, "a boolean", True),
            _seconds(params, "wait_seconds", DEFAULT_WAIT_SECONDS),
        )


@dataclass(frozen=True)
class BastionParams:
    hostname: str
    username: str
    instance_id: str | None = None

    def to_params(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> BastionParams:
        return cls(
            _required_str(params, "hostname"),
            _required_str(params, "username"),
            _optional_str(params, "instance_id"),
        )


@dataclass(frozen=True)
class VaultClusterParams:
    internal_fqdns: tuple[str, ...]
    vault_ca: str
    vault_kms_key_id: str | None = None
    vault_unseal_key_name: str | None = None
    create: bool = True  # converge: initialise (once) when nothing is stored yet

    def to_params(self) -> dict[str, Any]:
        return {**asdict(self), "internal_fqdns": list(self.internal_fqdns)}

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> VaultClusterParams:
        return cls(
            _strings(params, "internal_fqdns"),
            _required_str(params, "vault_ca"),
            _optional_str(params, "vault_kms_key_id"),
            _optional_str(params, "vault_unseal_key_name"),
            # Absent: never initialise (sys/init cannot be undone); every provider sends it.
            _param(params, "create", bool, "a boolean", False),
        )


@dataclass(frozen=True)
class InstanceRoleParams:
    internal_fqdns: tuple[str, ...]
    vault_ca: str
    vault_cluster_name: str
    role_name: str
    vault_unseal_key_name: str | None = None
    create: bool = False  # False: only observe whether the init token exists

    def to_params(self) -> dict[str, Any]:
        return {**asdict(self), "internal_fqdns": list(self.internal_fqdns)}

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> InstanceRoleParams:
        return cls(
            _strings(params, "internal_fqdns"),
            _required_str(params, "vault_ca"),
            _required_str(params, "vault_cluster_name"),
            _required_str(params, "role_name"),
            _optional_str(params, "vault_unseal_key_name"),
            _param(params, "create", bool, "a boolean", True),
        )

    def cluster(self) -> VaultClusterParams:
        """The cluster the role is in, to converge but never to initialise."""
        return VaultClusterParams(
            self.internal_fqdns,
            self.vault_ca,
            vault_unseal_key_name=self.vault_unseal_key_name,
            create=False,
        )


@dataclass(frozen=True)
class NodeUnsealParams:
    """VAULT_NODE_UNSEAL: one node (`host` or `host:port`) of a cluster Tarmak keeps keys for."""

    node: str
    vault_ca: str
    vault_kms_key_id: str | None = None
    vault_unseal_key_name: str | None = None

    def to_params(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> NodeUnsealParams:
        return cls(
            _required_str(params, "node"),
            _required_str(params, "vault_ca"),
            _optional_str(params, "vault_kms_key_id"),
            _optional_str(params, "vault_unseal_key_name"),
        )


class UnsealOutcome(StrEnum):
    UNSEALED = "unsealed"  # the stored shares were sent and the node is unsealed
    ALREADY_UNSEALED = "already-unsealed"  # nothing sent
    AUTO_UNSEAL = "auto-unseal"  # the node's seal unseals it (e.g. transit): nothing sent


@dataclass(frozen=True)
class NodeUnsealResult:
    """What VAULT_NODE_UNSEAL did to the node; `detail` names the seal for AUTO_UNSEAL."""

    node: str
    outcome: UnsealOutcome
    detail: str = ""

    def to_result(self) -> dict[str, Any]:
        return {"node": self.node, "outcome": self.outcome, "detail": self.detail}

    @classmethod
    def from_result(cls, result: dict[str, Any]) -> NodeUnsealResult:
        return cls(
            str(result.get("node", "")),
            UnsealOutcome(str(result.get("outcome"))),
            str(result.get("detail", "")),
        )

    def describe(self) -> str:
        """One progress line, e.g. `vault-1:8200: unsealed`."""
        said = {
            UnsealOutcome.UNSEALED: "unsealed",
            UnsealOutcome.ALREADY_UNSEALED: "already unsealed",
            UnsealOutcome.AUTO_UNSEAL: f"auto-unseal ({self.detail or 'seal'}), nothing sent",
        }[self.outcome]
        return f"{self.node}: {said}"


@dataclass(frozen=True)
class PollResult:
    """The answer to a waiting call: READY (with what it made), NOT_READY or GONE."""

    status: Status
    detail: str = ""
    # Left out of repr: a log line that shows the result must not show the token.
    init_token: str | None = field(default=None, repr=False)

    def to_result(self) -> dict[str, Any]:
        result: dict[str, Any] = {"status": self.status, "detail": self.detail}
        if self.init_token is not None:
            result["init_token"] = self.init_token
        return result

    @classmethod
    def from_result(cls, result: dict[str, Any]) -> PollResult:
        try:
            status = Status(str(result.get("status")))
        except ValueError:
            status = Status.NOT_READY
        token = result.get("init_token")
        return cls(status, str(result.get("detail", "")), None if token is None else str(token))


@dataclass(frozen=True)
class ClusterObservation:
    """What VAULT_CLUSTER_OBSERVE saw, without changing anything."""

    reachable: bool
    initialized: bool = False
    ready: bool = False
    detail: str = ""
    # The provider decides on the four above; these tell a reader of the answer more.
    keys_stored: bool = False
    sealed: bool = False
    nodes: dict[str, str] = field(default_factory=dict)  # node -> what its sys/health said

    def to_result(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_result(cls, result: dict[str, Any]) -> ClusterObservation:
        return cls(
            bool(result.get("reachable")),
            bool(result.get("initialized")),
            bool(result.get("ready")),
            str(result.get("detail", "")),
        )
