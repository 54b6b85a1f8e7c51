"""What makes a tarmak hostname valid: its default format and mount, and the
DNS label rules it must follow. Plain rules with no Vault code, so schemas and
validation (on every provider start) need not load the allocator.
"""

from __future__ import annotations

import re

DEFAULT_FORMAT = "{application}-{role}-{environment}-vm{number}"
# A hostname here is one DNS label (RFC 1123): what every resolver and cloud accepts.
MAX_HOSTNAME_LENGTH = 63
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
DEFAULT_MOUNT = "hostnaming"


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
