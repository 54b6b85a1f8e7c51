"""GetProviderSchema's answer, written when the package is built.

Terraform starts a provider several times per run, and the first start of a
plan or an apply (and every start `terraform providers schema` makes) only
asks for the schema. Building that answer means importing the framework, cty
and every resource module the provider declares itself with: 5-14 ms of CPU
of a 120-140 ms start (docs/benchmarks.md, "A start that answers from a
prebuilt schema"). So `make` writes each provider's answer, serialized for
protocols 5 and 6, into `provider/_generated/schema_snapshots.py`, and a
server given its provider as an entry ("module:attribute", see `serve`)
answers from there, importing the provider only for the first RPC that
needs more.

A snapshot is used only while it is sure to be current, with the rule Python
applies to its own bytecode: `make` records the size and modification time of
every source file that was loaded while the answer was built, and a server
that finds any of them changed builds the answer itself, as if there were no
snapshot. The provider package, like its bytecode (registry_tools/bundle.py,
unchecked-hash .pyc), is built once and never edited, and an unzip does not
keep modification times: its snapshot is written unchecked.

    python -m provider.server.schema_snapshot [--unchecked] OUT ENTRY...
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SNAPSHOTS_MODULE = "provider._generated.schema_snapshots"
PROTOCOLS = (5, 6)
# The directory `provider` is in; source paths are recorded relative to it.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def prebuilt(entry: str, protocol: int) -> bytes | None:
    """The serialized GetProviderSchema response of `entry`, or None when there
    is none or a source it was built from has changed since."""
    try:
        snapshots: Any = importlib.import_module(SNAPSHOTS_MODULE)
        snapshot = snapshots.SNAPSHOTS.get(entry)
        if snapshot is None:
            return None
        if snapshots.CHECKED and not _unchanged(snapshot["sources"]):
            return None
        response = snapshot["responses"].get(protocol)
    except (ImportError, AttributeError, KeyError, TypeError, ValueError):
        return None  # none, or one an older `make` wrote in another shape
    return response if isinstance(response, bytes) else None


def _unchanged(sources: Sequence[tuple[str, int, int]]) -> bool:
    for relative, mtime_ns, size in sources:
        try:
            found = os.stat(os.path.join(ROOT, relative))
        except OSError:
            return False
        if found.st_mtime_ns != mtime_ns or found.st_size != size:
            return False
    return True


def load_entry(entry: str) -> Any:
    """What "module:attribute" names (a Provider class, or a function making one)."""
    module, _, attribute = entry.partition(":")
    return getattr(importlib.import_module(module), attribute)


def describe(entry: str) -> dict[str, Any]:
    """The answers for `entry` and the sources they were built from, as JSON.
    Run in a fresh interpreter (`write`), so that the sources are only those
    this provider's schema needs."""
    from provider.framework.catalog import Catalog
    from provider.server import schema_rpcs
    from provider.server.backend import Backend

    catalog = Catalog.of(load_entry(entry)())
    responses = {}
    for protocol in PROTOCOLS:
        pb = importlib.import_module(f"provider._generated.tfplugin{protocol}_pb2")
        response = pb.GetProviderSchema.Response()
        schema_rpcs.get_provider_schema(Backend(pb, protocol, catalog), None, response)
        # Deterministic: maps serialize in no fixed order otherwise, and the package
        # is built to the same bytes every time.
        answer = response.SerializeToString(deterministic=True)
        responses[protocol] = base64.b64encode(answer).decode()
    sources = []
    installed = (os.path.abspath(sys.prefix) + os.sep, os.path.abspath(sys.base_prefix) + os.sep)
    for module in list(sys.modules.values()):
        filename = getattr(module, "__file__", None)
        if not filename:
            continue
        filename = os.path.abspath(filename)
        if filename.startswith(ROOT + os.sep) and not filename.startswith(installed):
            found = os.stat(filename)
            relative = os.path.relpath(filename, ROOT)
            sources.append((relative, found.st_mtime_ns, found.st_size))
    return {"responses": responses, "sources": sorted(sources)}


def write(out: Path, entries: Sequence[str], checked: bool = True, root: str = ROOT) -> None:
    """Write the snapshots module `out` for `entries`, each described by a fresh
    interpreter from the sources under `root` (a checkout)."""
    described = {}
    for entry in entries:
        printed = subprocess.run(
            [sys.executable, "-m", "provider.server.schema_snapshot", "--describe", entry],
            cwd=root,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        described[entry] = json.loads(printed)
    lines = [
        '"""Written by `python -m provider.server.schema_snapshot`; never edit by hand."""\n\n',
        f"CHECKED = {checked!r}\n",
        "SNAPSHOTS = {\n",
    ]
    for entry, found in described.items():
        sources = [tuple(source) for source in found["sources"]] if checked else []
        lines.append(f"    {entry!r}: {{\n        'sources': (\n")
        lines.extend(f"            {source!r},\n" for source in sources)
        lines.append("        ),\n        'responses': {\n")
        for protocol, encoded in found["responses"].items():
            lines.append(f"            {int(protocol)}: {base64.b64decode(encoded)!r},\n")
        lines.append("        },\n    },\n")
    lines.append("}\n")
    out.write_text("".join(lines))


def main(argv: Sequence[str]) -> None:
    if argv[:1] == ["--describe"]:
        print(json.dumps(describe(argv[1])))
        return
    checked = "--unchecked" not in argv
    out, *entries = [arg for arg in argv if arg != "--unchecked"]
    write(Path(out), entries, checked)


if __name__ == "__main__":
    main(sys.argv[1:])
