"""Stored state that only a hand edit produces, read back by the real terraform
through UpgradeResourceState (issue 21).

Terraform keeps each instance's attributes as raw JSON and hands them to the
provider unchanged, so the provider's JSON reading is all that stands between
a hand-edited state file and an "Internal error in the provider". go-cty reads
a lone surrogate escape as U+FFFD, a string "true" for a bool and a bool for a
string; so must we (docs/cty.md).
"""

from __future__ import annotations

import json

import pytest

from tests.e2e.harness import Terraform

pytestmark = pytest.mark.e2e

CONFIG = """
terraform {
  required_providers {
    tarmak = { source = "jetstack/tarmak" }
  }
}

resource "tarmak_bastion_instance" "bastion" {
  hostname = "bastion-\\uFFFD"
  username = "centos"
}
"""


def write_state(tf: Terraform, attributes_json: str) -> None:
    """A version 4 state file whose one instance holds `attributes_json` verbatim."""
    provider = 'provider["registry.terraform.io/jetstack/tarmak"]'
    (tf.workdir / "terraform.tfstate").write_text(
        '{"version": 4, "terraform_version": "1.0.3", "serial": 1,'
        ' "lineage": "5f0c3f4e-hand-edited", "outputs": {}, "resources": [{'
        ' "mode": "managed", "type": "tarmak_bastion_instance", "name": "bastion",'
        f' "provider": {json.dumps(provider)}, "instances": [{{'
        f' "schema_version": 0, "attributes": {attributes_json}}}]}}]}}'
    )


def test_lone_surrogate_in_state_reads_as_replacement_character(terraform: Terraform) -> None:
    tf = terraform
    tf.write(CONFIG)
    tf.init()
    write_state(
        tf,
        '{"hostname": "bastion-\\ud800", "username": "centos", "instance_id": null,'
        ' "status": "ready", "id": "bastion-\\ud800", "timeouts": null}',
    )
    result = tf.run("plan", "-refresh=false", "-input=false", "-detailed-exitcode", check=False)
    assert "Internal error" not in result.output, result.output
    # The configuration says U+FFFD where the state says \ud800: no changes means
    # the provider read the state's string as U+FFFD.
    assert result.returncode == 0, result.output
    assert "No changes" in result.text, result.output


def test_state_written_when_attributes_had_other_types(terraform: Terraform) -> None:
    """A string attribute stored as a bool (an older schema) reads as cty reads it."""
    tf = terraform
    tf.write(CONFIG.replace('username = "centos"', 'username = "true"'))
    tf.init()
    write_state(
        tf,
        '{"hostname": "bastion-\\ufffd", "username": true, "instance_id": null,'
        ' "status": "ready", "id": "bastion-\\ufffd", "timeouts": null}',
    )
    result = tf.run("plan", "-refresh=false", "-input=false", "-detailed-exitcode", check=False)
    assert result.returncode == 0, result.output
    assert "No changes" in result.text, result.output
