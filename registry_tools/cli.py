"""`registry-tools` (and `make package-for-registry`): build, sign, publish, serve.

    registry-tools package --base-url https://registry.example.com [--platform linux_amd64 ...]
    registry-tools serve --dir dist/registry --cert cert.pem --key key.pem --port 8443

The signing key: --gpg-key-file (an armored private key, imported into a
throwaway keyring) or --gpg-key-id from the keyring in GNUPGHOME; the
environment variables TARMAK_GPG_KEY_FILE and TARMAK_GPG_KEY_ID work too.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import urllib.parse
from pathlib import Path

from provider import __version__
from registry_tools.build import BuildError, build_executable
from registry_tools.platforms import DEFAULT_TARGETS, Target, parse_target
from registry_tools.registry import PublishError, RegistryTree, publish, publish_mirror
from registry_tools.release import make_release
from registry_tools.serve import RegistryServer
from registry_tools.sign import SigningError, keyring


def required_providers_snippet(hostname: str, namespace: str, version: str) -> str:
    return (
        "terraform {\n"
        "  required_providers {\n"
        "    tarmak = {\n"
        f'      source  = "{hostname}/{namespace}/tarmak"\n'
        f'      version = "{version}"\n'
        "    }\n"
        "  }\n"
        "}\n"
    )


def package(args: argparse.Namespace) -> int:
    targets: list[Target] = [parse_target(p) for p in args.platform] or list(DEFAULT_TARGETS)
    key_file = args.gpg_key_file or os.environ.get("TARMAK_GPG_KEY_FILE")
    key_id = args.gpg_key_id or os.environ.get("TARMAK_GPG_KEY_ID")
    hostname = args.hostname or urllib.parse.urlsplit(args.base_url).netloc
    out = Path(args.out)
    with tempfile.TemporaryDirectory() as scratch:
        executables = {}
        for target in targets:
            print(f"building {target.name} ...", flush=True)
            executables[target] = build_executable(target, Path(scratch) / target.name)
        with keyring(Path(key_file) if key_file else None, os.environ.get("GNUPGHOME")) as home:
            release = make_release(
                args.version, executables, out / "release" / args.version, home, key_id
            )
    tree = RegistryTree(out / "registry", args.namespace, args.base_url)
    publish(release, tree)
    mirror = publish_mirror(release, out / "mirror", hostname, args.namespace)
    print(f"published {args.version} to {tree.root} and the network mirror {mirror}")
    print("\nUse it with:\n")
    print(required_providers_snippet(hostname, args.namespace, args.version))
    return 0


def serve(args: argparse.Namespace) -> int:
    server = RegistryServer(Path(args.dir), Path(args.cert), Path(args.key), args.host, args.port)
    print(f"serving {args.dir} on https://{args.host}:{server.port}/", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="registry-tools", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    pkg = commands.add_parser("package", help="build, sign and publish a version")
    pkg.add_argument("--version", default=__version__)
    pkg.add_argument("--platform", action="append", default=[], help="e.g. linux_amd64 (repeat)")
    pkg.add_argument("--namespace", default="jetstack")
    pkg.add_argument("--base-url", required=True, help="where dist/registry will be served")
    pkg.add_argument("--hostname", help="registry host in source addresses (default: base URL's)")
    pkg.add_argument("--out", default="dist")
    pkg.add_argument("--gpg-key-id")
    pkg.add_argument("--gpg-key-file")
    pkg.set_defaults(run=package)
    srv = commands.add_parser("serve", help="serve a registry tree over HTTPS")
    srv.add_argument("--dir", default="dist/registry")
    srv.add_argument("--cert", required=True)
    srv.add_argument("--key", required=True)
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=8443)
    srv.set_defaults(run=serve)
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except (BuildError, SigningError, PublishError, ValueError) as err:
        print(f"registry-tools: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
