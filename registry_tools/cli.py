"""`registry-tools` (and the `make` targets): build, sign, publish, promote, serve.

    registry-tools package --base-url https://registry.example.com [--tree dist/registry]
    registry-tools publish --base-url URL --tree DIR terraform-provider-tarmak_<V>_<os>_<arch>.zip
    registry-tools promote VERSION --from dist/staging --to dist/production --base-url URL \
        --staging-fingerprint FPR
    registry-tools rotate-key --tree dist/production --staging-fingerprint FPR
    registry-tools new-key --name "Tarmak Release" --email release@example.com --out key.asc
    registry-tools serve --dir dist/registry --cert cert.pem --key key.pem --port 8443

The signing key: --gpg-key-file (an armored private key, imported into a
throwaway keyring) or --gpg-key-id from the keyring in GNUPGHOME; the
environment variables TARMAK_GPG_KEY_FILE and TARMAK_GPG_KEY_ID work too.
`promote` trusts only the staging key whose fingerprint it is given
(--staging-fingerprint or TARMAK_STAGING_FINGERPRINT), never a key named in
the staging tree, and signs with production's own key; `rotate-key` is given
the same fingerprint and refuses to make the staging key a tree's signing key.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import re
import sys
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from provider import __version__
from registry_tools.build import BuildError, build_package
from registry_tools.platforms import (
    DARWIN_REQUIREMENT,
    DEFAULT_TARGETS,
    Target,
    parse_target,
    self_contained,
)
from registry_tools.promote import PromotionError, promote
from registry_tools.protocols import ProtocolError
from registry_tools.registry import (
    PublishError,
    RegistryTree,
    mirror_hostname,
    publish,
    publish_mirror,
    rotate_key,
)
from registry_tools.release import Release, sign_release
from registry_tools.serve import RegistryServer
from registry_tools.sign import (
    SigningError,
    describe_key,
    export_secret_key,
    generate_key,
    keyring,
    throwaway_home,
)
from registry_tools.versions import VersionError, parse_version
from registry_tools.zip_check import ZipContentError

_ZIP_NAME = re.compile(
    r"terraform-provider-tarmak_(?P<version>[^_]+)_(?P<platform>[a-z0-9]+_[a-z0-9]+)\.zip"
)


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


def _signing_key(args: argparse.Namespace) -> tuple[Path | None, str | None]:
    key_file = args.gpg_key_file or os.environ.get("TARMAK_GPG_KEY_FILE")
    key_id = args.gpg_key_id or os.environ.get("TARMAK_GPG_KEY_ID")
    if not key_file and not key_id:
        raise SigningError(
            "no signing key: set TARMAK_GPG_KEY_FILE (an armored RSA private key) or "
            "TARMAK_GPG_KEY_ID (a key in GNUPGHOME's keyring), or pass --gpg-key-file/--gpg-key-id"
        )
    return (Path(key_file) if key_file else None), key_id


def _hostname(args: argparse.Namespace) -> str:
    return str(args.hostname or urllib.parse.urlsplit(args.base_url).netloc)


def _announce(release: Release, tree: RegistryTree, hostname: str, namespace: str) -> None:
    print(f"published {release.version} (protocols {', '.join(release.protocols)}) to {tree.root}")
    print("\nUse it with:\n")
    print(required_providers_snippet(hostname, namespace, release.version))


def _mirror(args: argparse.Namespace, release: Release) -> None:
    if args.no_mirror:
        return
    # Terraform cannot ask a mirror for a source hostname with a port (see
    # mirror_hostname), so the mirror serves the registry's host without it.
    source_host = args.hostname if args.hostname and ":" not in args.hostname else None
    name = mirror_hostname(args.base_url, args.mirror_hostname or source_host)
    mirror = publish_mirror(release, Path(args.mirror), name, args.namespace)
    print(f'network mirror: {mirror}, for source = "{name}/{args.namespace}/tarmak"')
    if name != _hostname(args):
        print(
            f"  (not {_hostname(args)}/...: Terraform cannot read a network mirror for a source "
            "hostname with a port; the mirror's own URL may have one)"
        )


def package(args: argparse.Namespace) -> int:
    parse_version(args.version)  # it names directories: checked before anything is made
    targets: list[Target] = [parse_target(p) for p in args.platform] or list(DEFAULT_TARGETS)
    key_file, key_id = _signing_key(args)  # before anything is built
    if key_file is not None and not key_file.is_file():
        raise SigningError(f"TARMAK_GPG_KEY_FILE={key_file} is not a file: {KEY_HINT}")
    out = Path(args.out)
    release_dir = out / "release" / args.version
    tree = RegistryTree(Path(args.tree or out / "registry"), args.namespace, args.base_url)
    started = time.monotonic()
    with keyring(key_file, os.environ.get("GNUPGHOME")) as home:
        try:
            describe_key(home, key_id)  # a key that cannot sign fails before the builds too
        except SigningError as err:
            raise SigningError(f"no signing key: {KEY_HINT}\n({err})") from err
        zips = build_all(targets, args.version, release_dir)
        release = sign_release(args.version, zips, release_dir, home, key_id)
    publish(release, tree)
    _mirror(args, release)
    print(f"signed with {release.key.key_id}; all platforms in {_took(started)}")
    print(f"(the registry and the mirror hard-link the files in {release_dir})")
    _announce(release, tree, _hostname(args), args.namespace)
    return 0


def build_all(targets: list[Target], version: str, directory: Path) -> dict[Target, Path]:
    """Every platform's zip, in `targets`' order, built side by side in lanes.

    The self-contained builds share the Debian cache and compile bytecode on
    both cores, so they run one after another in one lane. A pex build is one
    busy process (measured alone, warm: 13.6 s wall for 13.7 s of CPU), so
    each runs in a lane of its own beside them and the two cores stay busy:
    all four took 55.9 s where their own times added up to 95.7 s."""
    numbered = {
        target: f"[{n}/{len(targets)}] {target.name}" for n, target in enumerate(targets, 1)
    }

    def build(target: Target) -> Path:
        prefix = numbered[target]
        kind = "self-contained" if self_contained(target) else "pex, needs " + DARWIN_REQUIREMENT
        print(f"{prefix}: building ({kind})", flush=True)
        began = time.monotonic()
        built = build_package(target, version, directory, progress=functools.partial(_step, prefix))
        size = built.stat().st_size / 1e6
        print(f"{prefix}: {built.name}, {size:.1f} MB, in {_took(began)}", flush=True)
        return built

    def lane(lane_targets: list[Target]) -> dict[Target, Path]:
        return {target: build(target) for target in lane_targets}

    lanes = [[t for t in targets if self_contained(t)]]
    lanes += [[t] for t in targets if not self_contained(t)]
    built: dict[Target, Path] = {}
    with ThreadPoolExecutor(len(lanes)) as pool:
        for result in [pool.submit(lane, group) for group in lanes if group]:
            built.update(result.result())  # the first failure is raised here
    return {target: built[target] for target in targets}


KEY_HINT = (
    "set TARMAK_GPG_KEY_FILE to an armored RSA private key file, or "
    "TARMAK_GPG_KEY_ID to the id of an RSA secret key in your keyring (GNUPGHOME); "
    "Terraform refuses packages whose SHA256SUMS is not signed"
)


def _step(prefix: str, step: str) -> None:
    print(f"{prefix}:   {step}", flush=True)


def _took(since: float) -> str:
    seconds = time.monotonic() - since
    return f"{seconds:.1f}s" if seconds < 120 else f"{int(seconds // 60)}m{seconds % 60:04.1f}s"


def publish_zips(args: argparse.Namespace) -> int:
    zips: dict[Target, Path] = {}
    versions = set()
    for name in args.zips:
        path = Path(name)
        match = _ZIP_NAME.fullmatch(path.name)
        if not match:
            raise ValueError(
                f"{path.name} is not named terraform-provider-tarmak_<VERSION>_<os>_<arch>.zip"
            )
        parse_version(match["version"])
        versions.add(match["version"])
        zips[parse_target(match["platform"])] = path
    if len(versions) != 1:
        raise ValueError(
            f"the zips are of {len(versions)} versions ({', '.join(sorted(versions))}); "
            "publish one version at a time"
        )
    (version,) = versions
    key_file, key_id = _signing_key(args)
    tree = RegistryTree(Path(args.tree), args.namespace, args.base_url)
    with keyring(key_file, os.environ.get("GNUPGHOME")) as home:
        release = sign_release(version, zips, Path(args.out) / "release" / version, home, key_id)
    publish(release, tree)
    _mirror(args, release)
    _announce(release, tree, _hostname(args), args.namespace)
    return 0


def _staging_fingerprint(args: argparse.Namespace) -> str:
    """The staging key production trusts: always given from outside the trees."""
    fingerprint = args.staging_fingerprint or os.environ.get("TARMAK_STAGING_FINGERPRINT")
    if not fingerprint:
        raise SigningError(
            "no staging key to trust: pass --staging-fingerprint or set "
            "TARMAK_STAGING_FINGERPRINT to the staging key's 40-hex fingerprint "
            "(kept with production's configuration, never read from the staging tree)"
        )
    return str(fingerprint)


def promote_version(args: argparse.Namespace) -> int:
    parse_version(args.version)
    fingerprint = _staging_fingerprint(args)
    key_file, key_id = _signing_key(args)
    staging = RegistryTree(Path(args.source), args.namespace, "")
    production = RegistryTree(Path(args.target), args.namespace, args.base_url)
    with keyring(key_file, os.environ.get("GNUPGHOME")) as home:
        done = promote(staging, production, args.version, fingerprint, home, key_id)
    if done.changed:
        print(f"promoted {args.version} to {production.root}, signed by {done.key_id}")
    else:
        print(f"{production.root} already holds these very bytes of {args.version}")
    return 0


def rotate(args: argparse.Namespace) -> int:
    fingerprint = _staging_fingerprint(args)
    key_file, key_id = _signing_key(args)
    tree = RegistryTree(Path(args.tree), args.namespace, "")
    with keyring(key_file, os.environ.get("GNUPGHOME")) as home:
        key = describe_key(home, key_id)
    if rotate_key(tree, key, fingerprint):
        print(
            f"{tree.root}: new versions are signed with {key.key_id}; published ones keep their key"
        )
    else:
        print(f"{tree.root}: {key.key_id} already is the current signing key")
    return 0


def new_key(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.exists():
        raise SigningError(f"{out} exists; not overwriting a key")
    with throwaway_home() as home:
        key_id = generate_key(home, args.name, args.email, args.bits)
        armored = export_secret_key(home, key_id)
        fingerprint = describe_key(home, key_id).fingerprint
    # Made here, private from the first byte: never an existing file or a link
    # someone put at `out` while the key was being generated.
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        raise SigningError(f"{out} exists; not overwriting a key") from None
    with os.fdopen(fd, "w") as written:
        written.write(armored)
    print(
        f"{out}: RSA-{args.bits} signing key {key_id} (keep it secret; TARMAK_GPG_KEY_FILE={out})"
    )
    print(f"fingerprint {fingerprint} (for a staging key: production's --staging-fingerprint)")
    return 0


def serve(args: argparse.Namespace) -> int:
    server = RegistryServer(Path(args.dir), Path(args.cert), Path(args.key), args.host, args.port)
    print(f"serving {args.dir} on https://{args.host}:{server.port}/", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


def _key_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gpg-key-id")
    parser.add_argument("--gpg-key-file")
    parser.add_argument("--namespace", default="jetstack")


def _staging_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--staging-fingerprint",
        help="the staging key production trusts (default: TARMAK_STAGING_FINGERPRINT)",
    )


def _publish_options(parser: argparse.ArgumentParser) -> None:
    _key_options(parser)
    parser.add_argument("--base-url", required=True, help="where the tree will be served")
    parser.add_argument(
        "--hostname", help="registry host in source addresses (default: base URL's)"
    )
    parser.add_argument("--out", default="dist")
    parser.add_argument("--mirror", default="dist/mirror", help="network mirror directory")
    parser.add_argument("--mirror-hostname", help="source hostname the mirror serves (no port)")
    parser.add_argument("--no-mirror", action="store_true")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="registry-tools",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    pkg = commands.add_parser("package", help="build, sign and publish a version")
    pkg.add_argument("--version", default=__version__)
    pkg.add_argument("--platform", action="append", default=[], help="e.g. linux_amd64 (repeat)")
    pkg.add_argument("--tree", help="registry tree to publish to (default: OUT/registry)")
    _publish_options(pkg)
    pkg.set_defaults(run=package)
    pub = commands.add_parser("publish", help="sign already-built zips and publish them")
    pub.add_argument("zips", nargs="+", help="terraform-provider-tarmak_<V>_<os>_<arch>.zip")
    pub.add_argument("--tree", required=True)
    _publish_options(pub)
    pub.set_defaults(run=publish_zips)
    pro = commands.add_parser("promote", help="copy a verified version from staging to production")
    pro.add_argument("version")
    pro.add_argument("--from", dest="source", default="dist/staging")
    pro.add_argument("--to", dest="target", default="dist/production")
    pro.add_argument("--base-url", required=True, help="where the production tree is served")
    _staging_option(pro)
    _key_options(pro)
    pro.set_defaults(run=promote_version)
    rot = commands.add_parser("rotate-key", help="sign new versions of a tree with another key")
    rot.add_argument("--tree", required=True)
    _staging_option(rot)
    _key_options(rot)
    rot.set_defaults(run=rotate)
    key = commands.add_parser("new-key", help="make an RSA signing key (armored, no passphrase)")
    key.add_argument("--name", required=True)
    key.add_argument("--email", required=True)
    key.add_argument("--out", required=True)
    key.add_argument("--bits", type=int, default=4096)
    key.set_defaults(run=new_key)
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
    except (
        BuildError,
        SigningError,
        PublishError,
        PromotionError,
        ProtocolError,
        VersionError,
        ZipContentError,
        ValueError,
    ) as err:
        print(f"registry-tools: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
