"""tarmak_hostname's identity (Terraform 1.12+: `import` blocks by identity) and
its list resource (Terraform 1.14+: `terraform query`, -generate-config-out)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import hvac
import pytest

from devenv.vault import VaultEndpoint
from tests.e2e.harness import Terraform, requires_terraform
from tests.e2e.test_hostname import kv, vault_terraform  # noqa: F401 (kv is a fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.vault]

PROVIDER = """
terraform {
  required_providers {
    tarmak = { source = "jetstack/tarmak" }
  }
}
provider "tarmak" {}
variable "mount" {
  type = string
}
"""


def hostnames(*keys: tuple[str, str, str]) -> str:
    return PROVIDER + "".join(
        f"""
resource "tarmak_hostname" "{app}_{role}_{env}" {{
  application = "{app}"
  role        = "{role}"
  environment = "{env}"
  kv_mount    = var.mount
}}
"""
        for app, role, env in keys
    )


@pytest.fixture
def allocated(
    terraform_each: Terraform,
    vault: VaultEndpoint,
    kv: tuple[hvac.Client, str],  # noqa: F811
) -> Iterator[tuple[Terraform, str]]:
    """Three live allocations (web/frontend/prod, web/backend/prod, db/main/dev)."""
    _, mount = kv
    tf = vault_terraform(terraform_each, vault, mount)
    tf.write(
        hostnames(("web", "frontend", "prod"), ("web", "backend", "prod"), ("db", "main", "dev"))
    )
    tf.init()
    tf.apply()
    yield tf, mount


def state_file(tf: Terraform) -> dict:
    return json.loads((tf.workdir / "terraform.tfstate").read_text())


@requires_terraform((1, 12), "resource identity")
def test_identity_is_stored_and_imports_by_identity(allocated: tuple[Terraform, str]) -> None:
    tf, mount = allocated
    instances = {
        r["name"]: r["instances"][0] for r in state_file(tf)["resources"] if r["mode"] == "managed"
    }
    web = instances["web_frontend_prod"]
    name = web["attributes"]["name"]
    assert web["identity"] == {"kv_mount": mount, "name": name}

    # Forget it, then bring it back with an import block that names it by identity.
    tf.run("state", "rm", "tarmak_hostname.web_frontend_prod")
    tf.write(
        f"""
import {{
  to       = tarmak_hostname.web_frontend_prod
  identity = {{
    kv_mount = var.mount
    name     = "{name}"
  }}
}}
""",
        name="import.tf",
    )
    planned = tf.run("plan", "-input=false")
    assert "1 to import, 0 to add, 0 to change, 0 to destroy" in planned.text, planned.output
    tf.apply()
    assert tf.state()["tarmak_hostname.web_frontend_prod"]["name"] == name
    assert tf.plan_exit_code() == 0


@requires_terraform((1, 12), "resource identity")
def test_import_by_identity_of_a_missing_name_is_a_clear_error(
    allocated: tuple[Terraform, str],
) -> None:
    tf, _ = allocated
    tf.run("state", "rm", "tarmak_hostname.db_main_dev")
    tf.write(
        """
import {
  to       = tarmak_hostname.db_main_dev
  identity = { kv_mount = var.mount, name = "db-main-dev-vm99" }
}
""",
        name="import.tf",
    )
    result = tf.run("plan", "-input=false", check=False)
    assert result.returncode == 1
    assert "No live allocation named 'db-main-dev-vm99'" in result.text


QUERY = """
list "tarmak_hostname" "web" {{
  provider         = tarmak
  include_resource = true
  config {{
    kv_mount    = "{mount}"
    application = "web"
  }}
}}
"""


@requires_terraform((1, 14), "terraform query")
def test_query_lists_live_allocations_and_generates_importing_config(
    allocated: tuple[Terraform, str], tmp_path: Path
) -> None:
    tf, mount = allocated
    names = {k: v["name"] for k, v in tf.state().items()}
    # Release one web name: released names are not listed.
    tf.run("destroy", "-auto-approve", "-input=false", "-target=tarmak_hostname.web_backend_prod")

    # A fresh directory, as when adopting allocations made elsewhere.
    adopt = Terraform(tf.binary, tmp_path / "adopt", tf.cli_config, dict(tf.env))
    adopt.write(PROVIDER)
    adopt.write(QUERY.format(mount=mount), name="hostnames.tfquery.hcl")
    adopt.init()
    listed = adopt.run("query", "-generate-config-out=generated.tf")
    assert names["tarmak_hostname.web_frontend_prod"] in listed.text, listed.output
    assert names["tarmak_hostname.web_backend_prod"] not in listed.text, "released"
    assert names["tarmak_hostname.db_main_dev"] not in listed.text, "filtered out"

    generated = (adopt.workdir / "generated.tf").read_text()
    assert "identity" in generated and names["tarmak_hostname.web_frontend_prod"] in generated
    planned = adopt.run("plan", "-input=false")
    assert "1 to import, 0 to add, 0 to change, 0 to destroy" in planned.text, (
        planned.output + generated
    )
    adopt.apply()
    (adopted,) = adopt.state().values()
    assert adopted["name"] == names["tarmak_hostname.web_frontend_prod"]
    assert adopted["kv_mount"] == mount
    assert adopt.plan_exit_code() == 0
