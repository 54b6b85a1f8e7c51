"""The error a request field that cannot be used raises, named for the user.

Its own module, apart from from_proto.py (which raises it) and refusals.py
(which answers it), so that the adapter can refuse requests without
importing the codecs (rpc_table.py, `Later`).
"""

from __future__ import annotations

from provider.framework.path import Path

# What each request field holds, as a Terraform user would call it.
_FIELD_MEANING = {
    "config": "configuration",
    "current_state": "current state",
    "prior_state": "prior state",
    "proposed_new_state": "proposed new state",
    "planned_state": "planned state",
    "raw_state": "stored state",
}


class MalformedRequest(Exception):
    """A request field that cannot be decoded (or that breaks the protocol's rules)."""

    def __init__(self, field: str, reason: str, path: Path | None = None) -> None:
        meaning = _FIELD_MEANING.get(field, field)
        where = f" at {path}" if path is not None and path.steps else ""
        super().__init__(f"{field}{where}: {reason}")
        if field == "request":  # the message itself, not one of its fields
            self.summary = "Malformed request"
            self.detail = f"The request cannot be used: {reason}. The provider changed nothing."
        else:
            self.summary = f"Invalid {meaning} in the request"
            self.detail = (
                f"The request's {field}{where} cannot be used: {reason}. "
                "The provider changed nothing."
            )
        self.path = path if path is not None and path.steps else None
