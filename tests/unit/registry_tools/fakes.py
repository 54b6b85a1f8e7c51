"""Provider zips for the registry tests: a few lines of sh that answer go-plugin's
handshake like a real provider (or like a broken one), zipped as Terraform expects."""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

from provider.server.handshake import MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE

_HONEST = """#!/bin/sh
[ "${cookie_key}" = "{cookie}" ] || {{ echo "This binary is a plugin." >&2; exit 1; }}
for offered in {offers}; do
  if [ "$PLUGIN_PROTOCOL_VERSIONS" = "$offered" ]; then
    echo "1|$offered|unix|$PLUGIN_UNIX_SOCKET_DIR/p.sock|grpc|"
    exec sleep 60
  fi
done
echo "Terraform speaks plugin protocol $PLUGIN_PROTOCOL_VERSIONS; this provider offers {offers}" >&2
exit 1
"""
# go-plugin's servers answer their own default version when nothing matches.
_FALLBACK = """#!/bin/sh
echo "1|{offers}|unix|$PLUGIN_UNIX_SOCKET_DIR/p.sock|grpc|"
exec sleep 60
"""
_BROKEN = """#!/bin/sh
echo "ModuleNotFoundError: No module named 'grpc'" >&2
exit 1
"""


def provider_zip(
    directory: Path,
    version: str,
    platform: str = "linux_amd64",
    offers: Sequence[int] = (5, 6),
    style: str = "honest",
    extra: bytes = b"",
) -> Path:
    """`terraform-provider-tarmak_<version>_<platform>.zip` with one 0755 executable."""
    template = {"honest": _HONEST, "fallback": _FALLBACK, "broken": _BROKEN}[style]
    script = template.format(
        cookie_key=MAGIC_COOKIE_KEY, cookie=MAGIC_COOKIE_VALUE, offers=" ".join(map(str, offers))
    )
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"terraform-provider-tarmak_{version}_{platform}.zip"
    info = zipfile.ZipInfo(f"terraform-provider-tarmak_v{version}", date_time=(2020, 1, 1, 0, 0, 0))
    info.create_system = 3
    info.external_attr = 0o100755 << 16
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr(info, script.encode() + extra)
    return target
