"""tarmak_hostname end to end: real terraform, real OpenBao (or VAULT_ADDR)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import hvac
import pytest

from devenv.processes import free_port
from devenv.vault import VaultEndpoint
from provider.tarmak.hostnames.allocator import Hostnaming
from provider.tarmak.hostnames.records import HostnameKey
from provider.tarmak.hostnames.rules import DEFAULT_FORMAT
from provider.tarmak.settings import VaultSettings
from provider.tarmak.vault_kv import KV2, client_for
from tests.e2e.harness import Terraform

pytestmark = [pytest.mark.e2e, pytest.mark.vault]


def config(count: int = 1, extra: str = "", provider: str = "") -> str:
    return f"""
        terraform {{
          required_providers {{
            tarmak = {{ source = "jetstack/tarmak" }}
          }}
        }}
        provider "tarmak" {{
          {provider}
        }}
        variable "mount" {{
          type = string
        }}
        resource "tarmak_hostname" "web" {{
          count       = {count}
          application = "web"
          role        = "frontend"
          environment = "prod"
          kv_mount    = var.mount
          {extra}
        }}
        output "names" {{
          value = tarmak_hostname.web[*].name
        }}
    """


@pytest.fixture
def kv(vault: VaultEndpoint) -> Iterator[tuple[hvac.Client, str]]:
    client = hvac.Client(url=vault.address, token=vault.token, verify=vault.ca_cert or True)
    mount = f"hostnaming-{secrets.token_hex(4)}"
    client.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    yield client, mount
    client.sys.disable_secrets_engine(mount)


def vault_terraform(terraform: Terraform, vault: VaultEndpoint, mount: str) -> Terraform:
    terraform.env.update(vault.env())
    terraform.env["TF_VAR_mount"] = mount
    return terraform


def test_lifecycle_never_reuses_numbers(
    terraform: Terraform, vault: VaultEndpoint, kv: tuple[hvac.Client, str]
) -> None:
    client, mount = kv
    tf = vault_terraform(terraform, vault, mount)
    tf.write(config(count=3))
    tf.init()
    tf.apply()
    names = tf.outputs()["names"]  # allocated in parallel, so in any order
    assert sorted(names) == [f"web-frontend-prod-vm{n}" for n in (1, 2, 3)]
    assert tf.plan_exit_code() == 0

    record = client.secrets.kv.v2.read_secret_version(
        f"names/{names[1]}", mount_point=mount, raise_on_deleted_version=True
    )["data"]["data"]
    assert record["name"] == names[1] and "allocated_at" in record and "allocated_by" in record

    # import by <mount>/<name>
    number = tf.state()["tarmak_hostname.web[1]"]["number"]
    tf.run("state", "rm", "tarmak_hostname.web[1]")
    tf.run("import", "tarmak_hostname.web[1]", f"{mount}/{names[1]}")
    assert tf.state()["tarmak_hostname.web[1]"]["number"] == number
    assert "0 added, 0 changed, 0 destroyed" in tf.apply().stdout

    # released elsewhere: read notices, terraform plans a new one
    client.secrets.kv.v2.delete_latest_version_of_secret(f"names/{names[2]}", mount_point=mount)
    assert tf.plan_exit_code() == 2

    tf.destroy()
    deleted = client.secrets.kv.v2.read_secret_version(
        f"names/{names[0]}", mount_point=mount, raise_on_deleted_version=False
    )
    assert deleted["data"]["data"] is None, "destroy releases the name"
    tf.apply()
    assert sorted(tf.outputs()["names"]) == [f"web-frontend-prod-vm{n}" for n in (4, 5, 6)]
    tf.destroy()


def test_one_apply_moves_the_counter_in_batches(
    terraform_latest: Terraform, vault: VaultEndpoint, kv: tuple[hvac.Client, str]
) -> None:
    """Creates running at once take their numbers in shared check-and-set writes:
    every number once, none skipped, and fewer counter writes than hostnames."""
    client, mount = kv
    tf = vault_terraform(terraform_latest, vault, mount)
    tf.write(config(count=30))
    tf.init()
    tf.apply()
    assert sorted(tf.outputs()["names"], key=lambda n: int(n.rsplit("vm", 1)[1])) == [
        f"web-frontend-prod-vm{n}" for n in range(1, 31)
    ]
    counter = client.secrets.kv.v2.read_secret_version(
        "counters/web/frontend/prod", mount_point=mount, raise_on_deleted_version=True
    )["data"]
    assert counter["data"]["last"] == 30
    assert counter["metadata"]["version"] < 30, "each create moved the counter by itself"


def test_reuse_released_numbers_when_asked(
    terraform_latest: Terraform, vault: VaultEndpoint, kv: tuple[hvac.Client, str]
) -> None:
    tf = vault_terraform(terraform_latest, vault, kv[1])
    tf.write(config(count=2, extra="reuse_released_numbers = true"))
    tf.init()
    tf.apply()
    tf.run("destroy", "-auto-approve", "-target=tarmak_hostname.web[0]")
    tf.apply()
    assert sorted(tf.outputs()["names"]) == ["web-frontend-prod-vm1", "web-frontend-prod-vm2"]


def test_deleted_counter_version_and_cas_required_mount(
    terraform_latest: Terraform, vault: VaultEndpoint, kv: tuple[hvac.Client, str]
) -> None:
    client, mount = kv
    client.secrets.kv.v2.configure(cas_required=True, mount_point=mount)
    tf = vault_terraform(terraform_latest, vault, mount)
    tf.write(config(count=2))
    tf.init()
    tf.apply()
    client.secrets.kv.v2.delete_latest_version_of_secret(
        "counters/web/frontend/prod", mount_point=mount
    )
    tf.write(config(count=3))
    tf.apply()
    assert sorted(tf.outputs()["names"]) == [f"web-frontend-prod-vm{n}" for n in (1, 2, 3)]


def test_explicit_provider_settings_and_custom_format(
    terraform_latest: Terraform, vault: VaultEndpoint, kv: tuple[hvac.Client, str]
) -> None:
    tf = terraform_latest
    tf.env["TF_VAR_mount"] = kv[1]
    settings = f'vault_address = "{vault.address}"\nvault_token = "{vault.token}"'
    if vault.ca_cert:
        settings += f'\nvault_ca_cert = "{vault.ca_cert}"'
    tf.write(config(extra='format = "{role}{number}-{environment}"', provider=settings))
    tf.init()
    tf.apply()
    assert tf.outputs()["names"] == ["frontend1-prod"]


@pytest.mark.parametrize(
    ("extra", "attribute", "summary"),
    [
        ('format = "{application}-{role}"', "format", "must contain {number}"),
        ('format = "{application}_{number}"', "format", "Invalid DNS label"),
    ],
)
def test_bad_format_names_the_attribute(
    terraform_latest: Terraform, extra: str, attribute: str, summary: str
) -> None:
    terraform_latest.env["TF_VAR_mount"] = "hostnaming"
    terraform_latest.write(config(extra=extra))
    terraform_latest.init()
    result = terraform_latest.run("validate", check=False)
    assert result.returncode == 1 and summary in result.text
    assert f"{attribute} " in result.text and "Traceback" not in result.text


def test_bad_label_names_the_attribute(terraform: Terraform) -> None:
    terraform.env["TF_VAR_mount"] = "hostnaming"
    terraform.write(config().replace('application = "web"', 'application = "Web_App"'))
    terraform.init()
    result = terraform.run("validate", check=False)
    assert result.returncode == 1
    assert "Invalid DNS label" in result.text and "application is 'Web_App'" in result.text
    # issue 21: only the attribute that is wrong, not `format`, which was not set
    assert result.text.count("Invalid DNS label") == 1 and "format is" not in result.text


def test_vault_down_is_a_clear_error_and_writes_nothing(terraform_latest: Terraform) -> None:
    tf = terraform_latest
    tf.env.update(VAULT_ADDR=f"http://127.0.0.1:{free_port()}", VAULT_TOKEN="t", TF_VAR_mount="m")
    tf.write(config())
    tf.init()
    result = tf.apply(check=False)
    assert result.returncode == 1
    assert "Cannot allocate a hostname" in result.text and "cannot reach Vault" in result.text
    assert tf.state() == {}


def test_missing_vault_settings_are_named(terraform_latest: Terraform) -> None:
    tf = terraform_latest
    tf.env.update(VAULT_ADDR="", VAULT_TOKEN="", TF_VAR_mount="m")
    tf.write(config())
    tf.init()
    result = tf.apply(check=False)
    assert "vault_address and vault_token" in result.text


def test_forbidden_token_fails_at_once(
    terraform_latest: Terraform, vault: VaultEndpoint, kv: tuple[hvac.Client, str]
) -> None:
    client, mount = kv
    client.sys.create_or_update_policy(
        "read-nothing", 'path "sys/nothing" { capabilities = ["read"] }'
    )
    weak = client.auth.token.create(policies=["read-nothing"], ttl="10m")["auth"]["client_token"]
    tf = vault_terraform(terraform_latest, VaultEndpoint(vault.address, weak, vault.ca_cert), mount)
    tf.write(config())
    tf.init()
    result = tf.apply(check=False, timeout=60)
    assert result.returncode == 1 and "permission denied" in result.text


def run_parallel_applies(
    cli_config: Path, binary: str, base: Path, vault: VaultEndpoint, mount: str, env: dict[str, str]
) -> list[str]:
    def one(index: int) -> list[str]:
        tf = Terraform(
            binary, base / f"ws{index}", cli_config, {**vault.env(), **env, "TF_VAR_mount": mount}
        )
        tf.write(config(count=25))
        tf.init()
        tf.apply(timeout=600)
        return tf.outputs()["names"]

    with ThreadPoolExecutor(8) as pool:
        return [name for names in pool.map(one, range(8)) for name in names]


def test_eight_concurrent_applies_get_two_hundred_distinct_names(
    cli_config: Path, tmp_path: Path, vault: VaultEndpoint, kv: tuple[hvac.Client, str]
) -> None:
    from tests.conftest import BINARIES

    names = run_parallel_applies(cli_config, BINARIES[-1].path, tmp_path, vault, kv[1], {})
    numbers = sorted(int(re.sub(r".*vm", "", n)) for n in names)
    assert numbers == list(range(1, 201))


class NoCasKV(KV2):
    """A store that drops check-and-set: given to the allocator by this test only."""

    def write(self, path: str, data: dict[str, Any], cas: int | None) -> int:
        return super().write(path, data, None)


def allocate_without_cas(args: tuple[str, str, str | None, str]) -> list[str]:
    """One process's 25 allocations, as a provider process would make them."""
    address, token, ca_cert, mount = args
    settings = VaultSettings(address, token, ca_cert)
    kv = NoCasKV(client_for(settings), mount)
    naming = Hostnaming(kv, sleep=lambda _: None)
    key = HostnameKey("web", "frontend", "prod")
    with ThreadPoolExecutor(10) as pool:  # Terraform's default -parallelism
        allocations = pool.map(lambda _: naming.allocate(key, DEFAULT_FORMAT, False), range(25))
        return [allocation.name for allocation in allocations]


def test_without_cas_the_same_load_produces_duplicates(
    vault: VaultEndpoint, kv: tuple[hvac.Client, str]
) -> None:
    """Proves the concurrency test above can fail: CAS is what makes names unique.
    Eight processes, as eight applies, each with a store that drops CAS."""
    job = (vault.address, vault.token or "", vault.ca_cert, kv[1])
    with ProcessPoolExecutor(8) as pool:
        names = [name for names in pool.map(allocate_without_cas, [job] * 8) for name in names]
    assert len(names) == 200 and len(set(names)) < 200


# ---- issue 12: names that are valid hostnames, and only KV v2 mounts ------------------


def test_a_name_longer_than_a_dns_label_fails_the_plan(terraform: Terraform) -> None:
    terraform.env["TF_VAR_mount"] = "hostnaming"
    application = "a" * 61  # a valid label itself, but the name would be 79 characters
    terraform.write(config().replace('application = "web"', f'application = "{application}"'))
    terraform.init()
    result = terraform.run("plan", check=False)
    assert result.returncode == 1 and "Hostname too long" in result.text
    text = " ".join(result.text.split())  # Terraform wraps long details
    assert "format, application, role, environment would be 79 characters" in text
    assert "at most 63" in text and "application 61" in text
    assert "Traceback" not in result.text


def test_a_name_that_grows_too_long_once_known_is_refused_before_allocation(
    terraform_latest: Terraform, vault: VaultEndpoint, kv: tuple[hvac.Client, str]
) -> None:
    """The application comes from another resource, unknown until apply: the check
    runs again in apply's plan, before anything is written for the second name."""
    client, mount = kv
    tf = vault_terraform(terraform_latest, vault, mount)
    tf.write(
        config()
        + f"""
        resource "tarmak_hostname" "nested" {{
          application = tarmak_hostname.web[0].name
          role        = "{"r" * 40}"
          environment = "prod"
          kv_mount    = var.mount
        }}
        """
    )
    tf.init()
    result = tf.apply(check=False)
    assert result.returncode == 1 and "Hostname too long" in result.text
    assert list(tf.state()) == ["tarmak_hostname.web[0]"]
    counters = client.secrets.kv.v2.list_secrets("counters/", mount_point=mount)["data"]["keys"]
    assert counters == ["web/"], "no counter for the refused name"


def test_a_kv_version_1_mount_is_refused_before_anything_is_written(
    terraform_latest: Terraform, vault: VaultEndpoint
) -> None:
    client = hvac.Client(url=vault.address, token=vault.token, verify=vault.ca_cert or True)
    mount = f"kv1-{secrets.token_hex(4)}"
    client.sys.enable_secrets_engine("kv", path=mount, options={"version": "1"})
    try:
        tf = vault_terraform(terraform_latest, vault, mount)
        tf.write(config())
        tf.init()
        result = tf.apply(check=False)
        assert result.returncode == 1
        text = " ".join(result.text.split())
        assert "KV version 1, not KV version 2" in text
        assert f"bao secrets enable -version=2 -path={mount} kv" in text
        assert "Traceback" not in result.text and "bug in the provider" not in result.text
        assert tf.state() == {}
        listed = client.adapter.request("LIST", f"/v1/{mount}/", raise_exception=False)
        assert listed.status_code == 404, f"something was written to the v1 mount: {listed.text}"
    finally:
        client.sys.disable_secrets_engine(mount)


def test_a_mount_of_another_engine_is_refused(
    terraform_latest: Terraform, vault: VaultEndpoint
) -> None:
    tf = vault_terraform(terraform_latest, vault, "cubbyhole")
    tf.write(config())
    tf.init()
    result = tf.apply(check=False)
    assert result.returncode == 1
    assert "is a cubbyhole engine, not KV version 2" in " ".join(result.text.split())
