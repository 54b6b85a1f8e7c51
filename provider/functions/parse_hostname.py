"""provider::tarmak::parse_hostname: a hostname back into its parts.

Names made with the default format read `{application}-{role}-{environment}-vm{number}`;
monitoring rules, DNS records and inventories often get only the name and
need the parts back. A name is only split when the split is certain: with a
`-` inside a part the name is ambiguous, and the function says so instead of
guessing.
"""

from __future__ import annotations

import re
from typing import Any

from provider.cty import NUMBER, STRING, ObjectType
from provider.framework.function import Function, FunctionError, Parameter
from provider.tarmak.hostnames.rules import DEFAULT_FORMAT

_DEFAULT_NAME = re.compile(
    r"(?P<application>[^-]+)-(?P<role>[^-]+)-(?P<environment>[^-]+)-vm(?P<number>[0-9]+)"
)


class ParseHostname(Function):
    name = "parse_hostname"
    summary = "Split a hostname of the default format into its parts"
    description = (
        f"Returns `application`, `role`, `environment` and `number` of a name made with the "
        f"default format `{DEFAULT_FORMAT}` (e.g. `web-frontend-prod-vm7`). Fails for "
        "other names, and for names whose parts contain `-`, which cannot be split "
        "unambiguously."
    )
    parameters = (Parameter("hostname", STRING, "A name made by `tarmak_hostname`."),)
    returns = ObjectType.of(
        {"application": STRING, "role": STRING, "environment": STRING, "number": NUMBER}
    )

    def call(self, arguments: list[Any]) -> Any:
        (hostname,) = arguments
        match = _DEFAULT_NAME.fullmatch(hostname)
        if match is None:
            raise FunctionError(
                f"{hostname!r} is not a name of the default format {DEFAULT_FORMAT} "
                "with no '-' inside a part, so it cannot be split unambiguously.",
                argument=0,
            )
        return {
            "application": match["application"],
            "role": match["role"],
            "environment": match["environment"],
            "number": int(match["number"]),
        }
