"""Issue 23: a waiting resource tells the user what it waits for.

While a create is pending Terraform shows only "Still creating... [10s elapsed]".
What reaches the user besides is the provider's log (TF_LOG=INFO) and, at the
end, the timeout's diagnostic: the log names the connector's socket once per
wait, and the diagnostic says that no connector was listening there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from devenv.scratch import short_directory
from tests.e2e.harness import Terraform

pytestmark = [pytest.mark.e2e]

CONFIG = """
    terraform {
      required_providers {
        tarmak = { source = "jetstack/tarmak" }
      }
    }
    provider "tarmak" {}
    resource "tarmak_bastion_instance" "bastion" {
      hostname = "10.0.0.1"
      username = "centos"
      timeouts {
        create = "12s"
      }
    }
"""


@pytest.fixture
def socket_path() -> Iterator[str]:
    with short_directory() as directory:
        yield str(directory / "nobody.sock")


def test_a_wait_with_no_connector_says_so_in_the_log_and_the_timeout(
    terraform_latest: Terraform, socket_path: str
) -> None:
    tf = terraform_latest
    tf.env.update(TARMAK_CONNECTOR_SOCKET=socket_path, TF_LOG="INFO")
    tf.write(CONFIG)
    tf.init()
    result = tf.apply(check=False, timeout=120)
    assert result.returncode == 1
    assert "Still creating..." in result.stdout
    waits = re.findall(rf"waiting for tarmak-connector on {re.escape(socket_path)}", result.stderr)
    assert len(waits) == 1, "once per wait, not once per poll"
    assert "Timed out after 12s waiting for the wing API server on bastion 10.0.0.1" in result.text
    assert f"no tarmak-connector is listening on {socket_path}" in result.text
    assert "Traceback" not in result.output
