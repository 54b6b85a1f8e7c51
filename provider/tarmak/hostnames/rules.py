"""What makes a tarmak hostname valid: its default format and mount, and the
DNS label rules it must follow. Plain rules with no Vault code, so schemas and
validation (on every provider start) need not load the allocator.
"""

from __future__ import annotations

import re
import string

DEFAULT_FORMAT = "{application}-{role}-{environment}-vm{number}"
# A hostname here is one DNS label (RFC 1123): what every resolver and cloud accepts.
MAX_HOSTNAME_LENGTH = 63
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
DEFAULT_MOUNT = "hostnaming"
# The attributes a name is made of besides its number: its counter's key.
KEY_ATTRIBUTES = ("application", "role", "environment")


def hostname_problem(name: object) -> str | None:
    """Why `name` is not a valid single-label hostname (None when it is)."""
    if not isinstance(name, str) or not name:
        return f"the name {name!r:.80} is empty or not a string"
    if len(name) > MAX_HOSTNAME_LENGTH:
        return (
            f"the name {name[:20]}... is {len(name)} characters long; a hostname label holds "
            f"at most {MAX_HOSTNAME_LENGTH}"
        )
    if not _LABEL.fullmatch(name):
        return (
            f"the name {name!r} is not a hostname: use lower-case letters, digits and "
            "hyphens (not at either end)"
        )
    return None


PLACEHOLDERS = frozenset({"application", "role", "environment", "number"})
# A Vault mount path: segments of letters, digits, '-', '_' and '.', never '..'.
_MOUNT_PATH = re.compile(r"(?!.*(?:^|/)\.\.?(?:/|$))[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*")


def mount_problem(mount: object) -> str | None:
    """Why `mount` is not a Vault mount path (None when it is)."""
    if not isinstance(mount, str) or len(mount) > 200 or not _MOUNT_PATH.fullmatch(mount):
        return (
            f"kv_mount is {str(mount)[:80]!r}, which is not a Vault mount path: use letters, "
            "digits, '-', '_' and '.', in segments separated by '/'"
        )
    return None


def format_problem(name_format: str) -> str | None:
    """Why `name_format` cannot make names (None when it can)."""
    try:
        parsed = [(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(name_format)]
    except ValueError as err:
        return f"format: {err}."
    if any(spec or conv for f, spec, conv in parsed if f is not None):
        return (
            f"format {name_format!r}: placeholders take no conversion or format "
            "specification (write {number}, not {number:03} or {number!r})."
        )
    fields = {f for f, _, _ in parsed if f is not None}
    if "number" not in fields or not fields <= PLACEHOLDERS:
        return (
            f"format {name_format!r} must contain {{number}} and may only use "
            "{application}, {role}, {environment} and {number}."
        )
    return None


def is_label(value: object) -> bool:
    return (
        isinstance(value, str)
        and len(value) <= MAX_HOSTNAME_LENGTH
        and bool(_LABEL.fullmatch(value))
    )
