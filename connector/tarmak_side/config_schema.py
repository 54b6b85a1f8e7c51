"""The shape of env.yaml as one declared table, and the checker that walks it.

Every setting the Tarmak side reads is declared in `SCHEMA`; anything else is
an error, so a misspelt key (`statedir:`) is reported instead of silently
falling back to a default. Errors name the key path (`vault.clusters.demo`)
and, for a near miss, the key meant. Paths are resolved against env.yaml's
directory here, once, and listed with the check each must pass on disk.
"""

from __future__ import annotations

import difflib
import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class SchemaError(Exception):
    """One line: the key path, what was expected and what was found."""


class PathCheck(enum.Enum):
    """What a path must be on disk (checked by config.py through safe_paths).

    Every path env.yaml names either holds a secret or decides what is trusted (the
    KMS's CA, the bastion's host keys, the PGP keys shares are encrypted to), so each
    kind is also refused when someone other than this user or root could change it,
    or a directory above it (safe_paths.check_trusted; the state directory: ours).
    """

    FILE = "file"  # an existing regular file; anyone may read it
    SECRET_FILE = "secret file"  # a file others cannot read (a private key, a token)
    DIRECTORY = "directory"  # an existing directory; anyone may read it
    STATE_DIR = "state directory"  # ours, writable by us alone; made if absent


@dataclass(frozen=True)
class Text:
    pattern: str | None = None
    hint: str = ""  # what a valid value looks like, for the error


@dataclass(frozen=True)
class Integer:
    low: int = 1
    high: int = 65535


@dataclass(frozen=True)
class Flag:
    pass


@dataclass(frozen=True)
class Choice:
    values: tuple[str, ...]


@dataclass(frozen=True)
class PathValue:
    check: PathCheck


@dataclass(frozen=True)
class ListOf:
    item: Kind


@dataclass(frozen=True)
class MapOf:
    """Any names (clusters, roles) mapping to values of one kind."""

    value: Kind
    what: str  # "cluster names", for "expected a mapping of cluster names"


@dataclass(frozen=True)
class Section:
    keys: Mapping[str, Kind]
    required: frozenset[str] = field(default_factory=frozenset)
    # value of `selector` -> keys that value requires (key_protection.kind)
    selector: str | None = None
    requires: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


Kind = Text | Integer | Flag | Choice | PathValue | ListOf | MapOf | Section

DURATION = Text(r"^[1-9][0-9]{0,8}[smh]$", "a duration such as 43800h, 720m or 86400s")
NAME = Text(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", "letters, digits, '.', '_' and '-'")
URL = Text(r"^https://[^/\s]+(/\S*)?$", "an https:// URL")
# The KMS may also be a plain-HTTP server on this machine's loopback (a `-dev` one).
KMS_URL = Text(
    r"^(https://[^/\s]+|http://(127\.[0-9.]+|localhost|\[::1\])(:[0-9]+)?)(/\S*)?$",
    "an https:// URL (or http:// to a loopback address)",
)

ROLE = Section({"policy": Text()})
KEY_PROTECTION = Section(
    {
        "kind": Choice(("transit", "pgp", "file")),
        "address": KMS_URL,
        "ca_cert": PathValue(PathCheck.FILE),
        "token_file": PathValue(PathCheck.SECRET_FILE),
        "mount": NAME,
        "pgp_keys": ListOf(PathValue(PathCheck.FILE)),
        "root_token_pgp_key": PathValue(PathCheck.FILE),
        "gnupg_home": PathValue(PathCheck.DIRECTORY),
    },
    required=frozenset({"kind"}),
    selector="kind",
    requires={
        "transit": ("address", "token_file"),
        "pgp": ("pgp_keys", "root_token_pgp_key"),
        "file": (),
    },
)

SCHEMA = Section(
    {
        "environment": NAME,
        "state_dir": PathValue(PathCheck.STATE_DIR),
        "follow_state_dir_symlink": Flag(),
        "bastion": Section(
            {
                "host": Text(),
                "port": Integer(),
                "username": Text(),
                "key_path": PathValue(PathCheck.SECRET_FILE),
                "known_hosts_path": PathValue(PathCheck.FILE),
                "wing_url": URL,
                "wing_ca_cert": PathValue(PathCheck.FILE),
            },
            required=frozenset({"key_path", "known_hosts_path"}),
        ),
        "vault": Section(
            {
                "port": Integer(),
                "init_tokens_mount": NAME,
                "init_token_period": DURATION,
                "key_shares": Integer(1, 255),
                "key_threshold": Integer(1, 255),
                "key_protection": KEY_PROTECTION,
                "clusters": MapOf(MapOf(ROLE, "role names"), "cluster names"),
            }
        ),
    },
    required=frozenset({"bastion"}),
)


@dataclass(frozen=True)
class PathSetting:
    """A path from env.yaml, resolved, with the key it came from and its check."""

    key: str
    path: Path
    check: PathCheck


def _type_name(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    return {dict: "a mapping", list: "a list", str: "a string", int: "a number"}.get(
        type(value), f"a {type(value).__name__}"
    )


def _where(path: str) -> str:
    return path or "the top level"


def _expected(kind: Kind) -> str:
    match kind:
        case Section():
            return "a mapping of settings"
        case MapOf(what=what):
            return f"a mapping of {what}"
        case ListOf():
            return "a list"
        case Integer(low=low, high=high):
            return f"a whole number from {low} to {high}"
        case Flag():
            return "true or false"
        case Choice(values=values):
            return "one of " + ", ".join(values)
        case PathValue():
            return "a path"
        case Text(hint=hint):
            return hint or "a string"


@dataclass
class _Walk:
    base: Path
    paths: list[PathSetting] = field(default_factory=list)

    def value(self, kind: Kind, value: object, at: str) -> Any:
        wrong = SchemaError(f"{_where(at)}: expected {_expected(kind)}, got {_type_name(value)}")
        match kind:
            case Section():
                if value is None:  # `vault:` with nothing under it
                    value = {}
                if not isinstance(value, dict):
                    raise wrong
                return self.section(kind, value, at)
            case MapOf(value=item):
                if value is None:
                    return {}
                if not isinstance(value, dict):
                    raise wrong
                return {
                    self.name(name, at): self.value(item, v, f"{at}.{name}")
                    for name, v in value.items()
                }
            case ListOf(item=item):
                if not isinstance(value, list):
                    raise wrong
                return [self.value(item, v, f"{at}[{i}]") for i, v in enumerate(value)]
            case Integer(low=low, high=high):
                if isinstance(value, bool) or not isinstance(value, int):
                    raise wrong
                if not low <= value <= high:
                    raise SchemaError(f"{at}: expected {_expected(kind)}, got {value}")
                return value
            case Flag():
                if not isinstance(value, bool):
                    raise wrong
                return value
            case Choice(values=values):
                if value not in values:
                    raise SchemaError(f"{at}: expected {_expected(kind)}, got {value!r}")
                return value
            case PathValue(check=check):
                if not isinstance(value, str) or not value:
                    raise wrong
                resolved = self.base / Path(value).expanduser()
                self.paths.append(PathSetting(at, resolved, check))
                return resolved
            case Text(pattern=pattern):
                if isinstance(value, bool) or not isinstance(value, str | int):
                    raise wrong
                text = str(value)
                if pattern is not None and not re.match(pattern, text):
                    raise SchemaError(f"{at}: expected {_expected(kind)}, got {text!r}")
                return text

    @staticmethod
    def name(name: object, at: str) -> str:
        """Cluster and role names become Vault paths and policy names: plain names only."""
        text = str(name) if isinstance(name, str | int) and not isinstance(name, bool) else ""
        if NAME.pattern is None or not re.match(NAME.pattern, text):
            raise SchemaError(f"{at}: {name!r} is not a name ({NAME.hint})")
        return text

    def section(self, section: Section, raw: dict[Any, Any], at: str) -> dict[str, Any]:
        prefix = f"{at}." if at else ""
        for key in raw:
            if key not in section.keys:
                near = difflib.get_close_matches(str(key), list(section.keys), n=1, cutoff=0.6)
                meant = f" (did you mean {prefix}{near[0]}?)" if near else ""
                known = ", ".join(section.keys)
                raise SchemaError(f"{prefix}{key}: unknown setting{meant}; known here: {known}")
        settings = {
            key: self.value(section.keys[key], value, f"{prefix}{key}")
            for key, value in raw.items()
        }
        missing = sorted(section.required - raw.keys())
        if section.selector is not None and section.selector in settings:
            needed = section.requires.get(settings[section.selector], ())
            missing += [k for k in needed if k not in raw and k not in missing]
        if missing:
            raise SchemaError(f"{prefix}{missing[0]}: required but not set")
        return settings


def check(raw: object, base: Path) -> tuple[dict[str, Any], list[PathSetting]]:
    """The settings with paths resolved against `base`, and the paths to check on disk;
    SchemaError for the first thing wrong."""
    walk = _Walk(base)
    if raw is None:
        raw = {}
    settings = walk.value(SCHEMA, raw, "")
    return settings, walk.paths
