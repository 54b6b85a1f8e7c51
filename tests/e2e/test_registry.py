"""registry_tools end to end: build with pex, sign with the real gpg, serve the
tree over HTTPS with a throwaway CA, and let the real Terraform install from it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import textwrap
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from devenv.environment import LocalEnvironment
from devenv.vault import VaultEndpoint
from registry_tools.archive import h1_hash, zip_hash
from registry_tools.build import build_executable
from registry_tools.platforms import Target
from registry_tools.registry import PublishError, RegistryTree, publish, publish_mirror
from registry_tools.release import Release, make_release
from registry_tools.serve import RegistryServer
from tests.e2e.harness import Terraform

pytestmark = pytest.mark.e2e
LINUX = Target("linux", "amd64")


def make_gpg_key(home: Path, name: str) -> str:
    home.mkdir(mode=0o700, parents=True)
    params = textwrap.dedent(
        f"""\
        %no-protection
        Key-Type: RSA
        Key-Length: 2048
        Key-Usage: sign
        Name-Real: {name}
        Name-Email: {name.replace(" ", ".").lower()}@example.invalid
        Expire-Date: 0
        %commit
        """
    )
    env = {"GNUPGHOME": str(home), "PATH": "/usr/bin:/bin"}
    subprocess.run(
        ["gpg", "--batch", "--gen-key"],
        input=params.encode(),
        env=env,
        check=True,
        capture_output=True,
    )
    listing = subprocess.run(
        ["gpg", "--batch", "--with-colons", "--list-secret-keys"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return next(line.split(":")[4] for line in listing.splitlines() if line.startswith("sec"))


@dataclass
class Keys:
    home: Path
    key_id: str
    other_home: Path
    other_key_id: str


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    base = tmp_path_factory.mktemp("gpg")
    return Keys(
        base / "release",
        make_gpg_key(base / "release", "Tarmak Release"),
        base / "other",
        make_gpg_key(base / "other", "Someone Else"),
    )


@pytest.fixture(scope="module")
def executable(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The linux_amd64 provider, built once with pex (CPython 3.11-3.13 wheels)."""
    return build_executable(LINUX, tmp_path_factory.mktemp("build") / "linux_amd64")


@dataclass
class Registry:
    tree: RegistryTree
    server: RegistryServer
    host: str
    ca: Path

    def download_document(self, version: str) -> Path:
        return self.tree.provider_dir / version / "download" / "linux" / "amd64"


@pytest.fixture
def registry(local_env: LocalEnvironment, tmp_path: Path) -> Iterator[Registry]:
    cert = local_env.ca.issue("registry", ("localhost", "127.0.0.1"))
    root = tmp_path / "registry"
    root.mkdir()
    server = RegistryServer(root, cert.cert, cert.key).start()
    host = f"localhost:{server.port}"
    yield Registry(
        RegistryTree(root, "jetstack", f"https://{host}"), server, host, local_env.ca.cert_path
    )
    server.stop()


def release_of(version: str, executable: Path, keys: Keys, directory: Path) -> Release:
    return make_release(version, {LINUX: executable}, directory, str(keys.home), keys.key_id)


def registry_terraform(
    tf: Terraform, registry: Registry, version: str, source_host: str | None = None
) -> Terraform:
    tf.cli_config = tf.workdir.parent / "no-mirror.tfrc"
    tf.cli_config.write_text("")  # install from the registry itself, no mirror
    tf.env["SSL_CERT_FILE"] = str(registry.ca)
    tf.write(
        f"""
        terraform {{
          required_providers {{
            tarmak = {{
              source  = "{source_host or registry.host}/jetstack/tarmak"
              version = "{version}"
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
    return tf


def test_terraform_init_verifies_and_installs_the_signed_provider(
    terraform: Terraform,
    registry: Registry,
    executable: Path,
    keys: Keys,
    vault: VaultEndpoint,
    tmp_path: Path,
) -> None:
    import hvac

    release = release_of("0.1.0", executable, keys, tmp_path / "release")
    publish(release, registry.tree)
    tf = registry_terraform(terraform, registry, "0.1.0")
    result = tf.init()
    assert "Installed" in result.stdout and "signed by a HashiCorp partner" not in result.stdout
    lock = (tf.workdir / ".terraform.lock.hcl").read_text()
    zip_path = release.zip_path(LINUX)
    assert h1_hash(zip_path) in lock and zip_hash(zip_path) in lock

    client = hvac.Client(url=vault.address, token=vault.token, verify=vault.ca_cert or True)
    mount = f"registry-{tmp_path.name[-12:].replace('_', '-')}"
    client.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    try:
        tf.env.update({**vault.env(), "TF_VAR_mount": mount})
        tf.apply()
        assert tf.outputs()["name"] == "registry-test-e2e-vm1", "the installed provider ran"
        tf.destroy()
    finally:
        client.sys.disable_secrets_engine(mount)


def test_tampered_zip_fails_init(
    terraform_latest: Terraform, registry: Registry, executable: Path, keys: Keys, tmp_path: Path
) -> None:
    release = release_of("0.1.0", executable, keys, tmp_path / "release")
    publish(release, registry.tree)
    stored = registry.tree.store_dir("0.1.0") / release.zip_path(LINUX).name
    stored.write_bytes(stored.read_bytes() + b"tampered")
    result = registry_terraform(terraform_latest, registry, "0.1.0").run("init", check=False)
    assert result.returncode == 1
    assert re.search(r"checksum|does not match", result.text), result.output


def test_wrong_signature_fails_init(
    terraform_latest: Terraform, registry: Registry, executable: Path, keys: Keys, tmp_path: Path
) -> None:
    release = release_of("0.1.0", executable, keys, tmp_path / "release")
    publish(release, registry.tree)
    stored = registry.tree.store_dir("0.1.0")
    forged = tmp_path / "forged.sig"
    subprocess.run(
        [
            "gpg",
            "--batch",
            "--yes",
            "--detach-sign",
            "--local-user",
            keys.other_key_id,
            "--output",
            str(forged),
            str(stored / release.shasums.name),
        ],
        env={"GNUPGHOME": str(keys.other_home), "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
    )
    shutil.copy(forged, stored / release.signature.name)
    result = registry_terraform(terraform_latest, registry, "0.1.0").run("init", check=False)
    assert result.returncode == 1
    assert "signature" in result.text.lower(), result.output


def test_unknown_key_fails_init(
    terraform_latest: Terraform, registry: Registry, executable: Path, keys: Keys, tmp_path: Path
) -> None:
    publish(release_of("0.1.0", executable, keys, tmp_path / "release"), registry.tree)
    other_public = subprocess.run(
        ["gpg", "--batch", "--armor", "--export", keys.other_key_id],
        env={"GNUPGHOME": str(keys.other_home), "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    document_path = registry.download_document("0.1.0")
    document = json.loads(document_path.read_text())
    document["signing_keys"]["gpg_public_keys"][0].update(
        key_id=keys.other_key_id, ascii_armor=other_public
    )
    document_path.write_text(json.dumps(document))
    result = registry_terraform(terraform_latest, registry, "0.1.0").run("init", check=False)
    assert result.returncode == 1
    assert "signature" in result.text.lower() or "key" in result.text.lower(), result.output


def _publish_one(args: tuple[str, str, str, str, str]) -> str:
    version, exe, home, key_id, root = args
    release = make_release(
        version, {LINUX: Path(exe)}, Path(root) / "releases" / version, home, key_id
    )
    publish(release, RegistryTree(Path(root) / "registry", "jetstack", "https://localhost"))
    return version


def test_concurrent_publishes_keep_every_version(
    executable: Path, keys: Keys, tmp_path: Path
) -> None:
    versions = [f"0.{minor}.0" for minor in range(1, 7)]
    jobs = [(v, str(executable), str(keys.home), keys.key_id, str(tmp_path)) for v in versions]
    with ProcessPoolExecutor(len(jobs)) as pool:
        assert sorted(pool.map(_publish_one, jobs)) == versions
    index = json.loads((tmp_path / "registry/v1/providers/jetstack/tarmak/versions").read_text())
    assert [v["version"] for v in index["versions"]] == versions


def test_republishing_a_version_with_other_bytes_is_refused(
    executable: Path, keys: Keys, tmp_path: Path
) -> None:
    tree = RegistryTree(tmp_path / "registry", "jetstack", "https://localhost")
    publish(release_of("1.0.0", executable, keys, tmp_path / "a"), tree)
    publish(release_of("1.0.0", executable, keys, tmp_path / "a2"), tree), "same bytes: fine"
    changed = tmp_path / "changed"
    changed.write_bytes(executable.read_bytes() + b"\n# changed\n")
    with pytest.raises(PublishError, match="already published with different contents"):
        publish(release_of("1.0.0", changed, keys, tmp_path / "b"), tree)


def test_network_mirror_for_air_gapped_users(
    terraform_latest: Terraform, registry: Registry, executable: Path, keys: Keys, tmp_path: Path
) -> None:
    release = release_of("0.1.0", executable, keys, tmp_path / "release")
    # The mirror serves providers of any registry host; Terraform asks it, never the host.
    # (Terraform mis-resolves mirror paths that begin with host:port, so no port here.)
    mirror_root = registry.tree.root / "mirror"
    publish_mirror(release, mirror_root, "registry.example.com", "jetstack")
    tf = registry_terraform(terraform_latest, registry, "0.1.0", "registry.example.com")
    mirror_url = f"https://{registry.host}/mirror/"
    tf.cli_config.write_text(
        f'provider_installation {{\n  network_mirror {{\n    url = "{mirror_url}"\n  }}\n}}\n'
    )
    tf.init()
    assert h1_hash(release.zip_path(LINUX)) in (tf.workdir / ".terraform.lock.hcl").read_text()
