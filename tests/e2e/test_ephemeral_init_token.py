"""ephemeral "tarmak_vault_instance_role" end to end (Terraform 1.10+): the init
token reaches a provider block, a write-only attribute (1.11+) and an ephemeral
output, and never the state or a saved plan file."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import hvac
import pytest

from connector.tarmak_side.config import EnvironmentConfig
from connector.tarmak_side.vault.keystore import KeyStore
from connector.tarmak_side.vault.protection import protection_for
from devenv.environment import LocalEnvironment
from devenv.tarmak import TarmakSide, terraform_variables
from devenv.vault import OpenBaoServer
from tests.e2e.harness import Terraform, requires_terraform
from tests.e2e.test_tarmak_environment import tarmak, wing  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.e2e, requires_terraform((1, 11), "write-only attributes")]

CONFIG = """
terraform {{
  required_providers {{
    tarmak  = {{ source = "jetstack/tarmak" }}
    testing = {{ source = "test/testing" }}
  }}
}}

variable "bastion_hostname" {{ type = string }}
variable "bastion_username" {{ type = string }}
variable "vault_fqdns" {{ type = list(string) }}
variable "vault_ca_file" {{ type = string }}
variable "vault_kms_key_id" {{ type = string }}

resource "tarmak_bastion_instance" "bastion" {{
  hostname = var.bastion_hostname
  username = var.bastion_username
}}

resource "tarmak_vault_cluster" "vault" {{
  internal_fqdns = var.vault_fqdns
  vault_ca       = file(var.vault_ca_file)
  depends_on     = [tarmak_bastion_instance.bastion]

  vault_kms_key_id = var.vault_kms_key_id
}}

ephemeral "tarmak_vault_instance_role" "worker" {{
  vault_cluster_name = "demo"
  role_name          = "worker"
  internal_fqdns     = tarmak_vault_cluster.vault.internal_fqdns
  vault_ca           = tarmak_vault_cluster.vault.vault_ca
  vault_cluster_id   = tarmak_vault_cluster.vault.id
}}

# An ephemeral output (allowed in child modules) passes the token on.
module "pass" {{
  source = "./pass"
  token  = ephemeral.tarmak_vault_instance_role.worker.init_token
}}

provider "testing" {{
  store_dir = "{store}"
  token     = ephemeral.tarmak_vault_instance_role.worker.init_token
}}

resource "testing_secret_sink" "worker" {{
  name      = "worker"
  secret_wo = module.pass.token
}}
"""

PASS_MODULE = """
variable "token" {
  type      = string
  ephemeral = true
}
output "token" {
  value     = var.token
  ephemeral = true
}
"""


def stored_init_token(side: TarmakSide, vault: OpenBaoServer) -> str:
    """The worker role's init token as Tarmak keeps it in Vault (read with Tarmak's
    own token, revealed through the KMS as Tarmak does)."""
    config = EnvironmentConfig.load(side.config_path)
    stored = KeyStore(config.state_dir).load("demo-vault")
    assert stored is not None and stored.tarmak_token is not None
    protection = protection_for(config, stored.kms_key_id, "demo-vault", stored.protection)
    token = protection.reveal(stored.tarmak_token).decode()
    endpoint = vault.endpoint
    client = hvac.Client(url=endpoint.address, token=token, verify=endpoint.ca_cert)
    read = client.adapter.get("/v1/tarmak/data/demo/init-tokens/worker")
    return read["data"]["data"]["init_token"]


def test_init_token_is_used_but_never_stored(
    terraform_each: Terraform,
    local_env: LocalEnvironment,
    fresh_tls_vault: OpenBaoServer,
    tarmak: TarmakSide,  # noqa: F811
    tmp_path: Path,
) -> None:
    store = tmp_path / "store"
    tf = terraform_each
    (tf.workdir / "pass").mkdir(parents=True)
    (tf.workdir / "pass" / "main.tf").write_text(PASS_MODULE)
    tf.env.update(TARMAK_CONNECTOR_SOCKET=tarmak.socket_path)
    tf.write(CONFIG.format(store=store))
    tf.env.update(terraform_variables(local_env, fresh_tls_vault))
    tf.init()
    tarmak.start()
    tf.apply()
    token = stored_init_token(tarmak, fresh_tls_vault)
    assert token

    # It reached the write-only attribute (through the ephemeral output) and the provider block.
    assert json.loads((store / "sink-worker.json").read_text()) == {"secret": token}
    assert json.loads((store / "provider-token.json").read_text()) == {"token": token}

    # A saved plan opens the ephemeral resource again (the cluster exists now) ...
    tf.run("plan", "-input=false", "-out=saved.tfplan")
    shown = tf.run("show", "-json", "saved.tfplan").stdout
    # ... and keeps the token out of the plan file, its JSON and the state.
    with zipfile.ZipFile(tf.workdir / "saved.tfplan") as plan_file:
        for member in plan_file.namelist():
            assert token.encode() not in plan_file.read(member), member
    assert token.encode() not in (tf.workdir / "saved.tfplan").read_bytes()
    assert token not in shown
    assert token not in (tf.workdir / "terraform.tfstate").read_text()
    assert tf.state()["testing_secret_sink.worker"]["secret_wo"] is None
    again = tf.run("plan", "-input=false", "-detailed-exitcode", check=False)
    assert again.returncode == 0, f"nothing changes on the next plan:\n{again.output}"
