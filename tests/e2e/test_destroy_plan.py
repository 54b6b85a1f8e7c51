"""Destroy plans of the waiting resources (server capability plan_destroy,
Terraform 1.3+): the plan warns that destroying only forgets the wait."""

from __future__ import annotations

import pytest

from devenv.tarmak import TarmakSide
from tests.e2e.harness import Terraform, requires_terraform
from tests.e2e.test_tarmak_environment import bastion_only, tarmak, wing  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.e2e, requires_terraform((1, 3), "planning destroys with the provider")]


def test_destroy_plan_warns_that_the_bastion_is_not_deleted(
    terraform_each: Terraform,
    tarmak: TarmakSide,  # noqa: F811
) -> None:
    tf = terraform_each
    tarmak.start()
    tf.env["TARMAK_CONNECTOR_SOCKET"] = tarmak.socket_path
    tf.write(bastion_only())
    tf.init()
    applied = tf.apply()
    assert "Destroying" not in applied.text, "no warning outside destroy plans"

    planned = tf.run("plan", "-destroy", "-input=false")
    assert "Warning: Destroying tarmak_bastion_instance only removes it from the state" in (
        planned.text
    ), planned.output
    assert "The bastion instance is not deleted and wing keeps running." in planned.text
    assert "1 to destroy" in planned.text

    destroyed = tf.destroy()
    assert "only removes it from the state" in destroyed.text
    assert tf.state() == {}
