"""Provider versions as Terraform reads them: Semantic Versioning 2.0.

Terraform's registry client parses every version in the `versions` document
and skips (or, for a constraint, rejects) what is not SemVer, so a release
with a version such as `1.2` or `v1.2.3` would be published yet never
installable. We refuse such versions before anything is built or written,
and order the `versions` document the way SemVer orders precedence:
`0.2.0-rc.1` comes before `0.2.0`.

The whole string must match (`re.fullmatch`): with `re.match` and `$`,
`0.9.1\n` passed, and one such entry in `versions` makes Terraform refuse
the whole list. The version also names directories and URLs, so nothing
outside the grammar may reach a path (`0.9.0/../../x`).

Build metadata (`0.9.0+a`) is refused rather than ignored. SemVer and
Terraform give `0.9.0+a` and `0.9.0+b` the same precedence, so a constraint
cannot tell them apart, yet our store would hold both side by side with
different bytes: two packages for what every user sees as one version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)


class VersionError(ValueError):
    pass


@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...]

    @property
    def is_prerelease(self) -> bool:
        """Terraform selects a pre-release only when a constraint names it exactly."""
        return bool(self.prerelease)

    def precedence(self) -> tuple[object, ...]:
        """A sort key with SemVer's precedence (section 11)."""
        # A release sorts after all of its pre-releases; numeric identifiers sort
        # before alphanumeric ones and compare as numbers.
        pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, 0 if pre else 1, pre)


def parse_version(text: str) -> Version:
    match = _SEMVER.fullmatch(text)
    if not match:
        raise VersionError(
            f"version {text!r} is not a Semantic Version (MAJOR.MINOR.PATCH, optionally "
            "-PRERELEASE such as 0.2.0-rc.1); Terraform would never install it"
        )
    if match["build"] is not None:
        raise VersionError(
            f"version {text!r} has build metadata (+{match['build']}): Terraform cannot tell "
            "it from other builds of the same version; publish a new version instead"
        )
    prerelease = tuple(match[4].split(".")) if match[4] else ()
    return Version(int(match[1]), int(match[2]), int(match[3]), prerelease)


def sort_key(text: str) -> tuple[object, ...]:
    return parse_version(text).precedence()
