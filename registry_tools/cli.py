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
import time
import urllib.parse
from pathlib import Path

from provider import __version__
from registry_tools.build import (
    DARWIN_REQUIREMENT,
    BuildError,
    build_package,
    package_warnings,
    self_contained,
)
from registry_tools.platforms import DEFAULT_TARGETS, Target, parse_target
from registry_tools.registry import PublishError, RegistryTree, publish, publish_mirror
from registry_tools.release import sign_release
from registry_tools.serve import RegistryServer
from registry_tools.sign import SigningError, describe_key, keyring


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


KEY_HINT = (
    "set TARMAK_GPG_KEY_FILE to an armored RSA private key file, or "
    "TARMAK_GPG_KEY_ID to the id of an RSA secret key in your keyring (GNUPGHOME); "
    "Terraform refuses packages whose SHA256SUMS is not signed"
)


def _check_key_file(key_file: str | None) -> None:
    if key_file and not Path(key_file).is_file():
        raise SigningError(f"TARMAK_GPG_KEY_FILE={key_file} is not a file: {KEY_HINT}")


def _describe_key_or_explain(home: str | None, key_id: str | None) -> None:
    """Fail before anything is built when there is no key to sign with."""
    try:
        describe_key(home, key_id)
    except SigningError as err:
        raise SigningError(f"no signing key: {KEY_HINT}\n({err})") from err


def package(args: argparse.Namespace) -> int:
    targets: list[Target] = [parse_target(p) for p in args.platform] or list(DEFAULT_TARGETS)
    key_file = args.gpg_key_file or os.environ.get("TARMAK_GPG_KEY_FILE")
    key_id = args.gpg_key_id or os.environ.get("TARMAK_GPG_KEY_ID")
    hostname = args.hostname or urllib.parse.urlsplit(args.base_url).netloc
    out = Path(args.out)
    release_dir = out / "release" / args.version
    _check_key_file(key_file)
    started = time.monotonic()
    with keyring(Path(key_file) if key_file else None, os.environ.get("GNUPGHOME")) as home:
        _describe_key_or_explain(home, key_id)
        zips = {}
        for number, target in enumerate(targets, 1):
            prefix = f"[{number}/{len(targets)}] {target.name}"
            kind = (
                "self-contained" if self_contained(target) else "pex, needs " + DARWIN_REQUIREMENT
            )
            print(f"{prefix}: building ({kind})", flush=True)
            began = time.monotonic()
            zips[target] = build_package(
                target, args.version, release_dir, progress=lambda step, p=prefix: _step(p, step)
            )
            size = zips[target].stat().st_size / 1e6
            print(f"{prefix}: {zips[target].name}, {size:.1f} MB, in {_took(began)}", flush=True)
        release = sign_release(
            args.version, zips, release_dir, home, key_id, package_warnings(list(zips))
        )
    tree = RegistryTree(out / "registry", args.namespace, args.base_url)
    publish(release, tree)
    mirror = publish_mirror(release, out / "mirror", hostname, args.namespace)
    print(f"signed with {release.key.key_id}; all platforms in {_took(started)}")
    print(f"published {args.version} to {tree.root} and the network mirror {mirror}")
    print("(the registry and the mirror hard-link the files in " + str(release_dir) + ")")
    print("\nUse it with:\n")
    print(required_providers_snippet(hostname, args.namespace, args.version))
    return 0


def _step(prefix: str, step: str) -> None:
    print(f"{prefix}:   {step}", flush=True)


def _took(since: float) -> str:
    seconds = time.monotonic() - since
    return f"{seconds:.1f}s" if seconds < 120 else f"{int(seconds // 60)}m{seconds % 60:04.1f}s"


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
