"""terraform.tfvars written by `python -m devenv tarmak-config` for the example."""

from __future__ import annotations

import json

from devenv.tarmak import tfvars


def test_tfvars_names_the_examples_variables_as_hcl_values() -> None:
    text = tfvars(
        {"host": "127.0.0.1", "username": "root"},
        ["127.0.0.1:8201", "", "127.0.0.1:8202"],
        '/tmp/a "b"/ca.pem',
        vault_kms_key_id="demo",
    )
    values = {}
    for line in text.splitlines():
        name, _, value = line.partition(" = ")
        values[name.strip()] = json.loads(value)  # JSON strings and lists are HCL too
    assert values == {
        "bastion_hostname": "127.0.0.1",
        "bastion_username": "root",
        "vault_fqdns": ["127.0.0.1:8201", "127.0.0.1:8202"],
        "vault_ca_file": '/tmp/a "b"/ca.pem',
        "vault_kms_key_id": "demo",
    }
