"""The protocol core against real Terraform: the full lifecycle, diagnostics,
interruption and timeouts, on every Terraform binary and both protocols."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.harness import ROOT, Terraform, interrupt

pytestmark = pytest.mark.e2e


def thing_config(store: Path, name: str = "alpha", value: str = "one") -> str:
    return f"""
        terraform {{
          required_providers {{
            testing = {{ source = "test/testing" }}
          }}
        }}
        provider "testing" {{
          store_dir = "{store}"
        }}
        resource "testing_thing" "a" {{
          name  = "{name}"
          value = "{value}"
          tags  = {{ team = "platform" }}
        }}
        output "id" {{
          value = testing_thing.a.id
        }}
        output "secret" {{
          value     = testing_thing.a.secret
          sensitive = true
        }}
    """


def stored(store: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in store.glob("*.json")}


def test_full_lifecycle(terraform: Terraform, tmp_path: Path) -> None:
    store = tmp_path / "store"
    terraform.write(thing_config(store))
    terraform.init()
    terraform.run("validate")
    assert terraform.plan_exit_code() == 2

    # create: computed values filled in, defaults applied, sensitive kept out of the output
    result = terraform.apply()
    assert "Apply complete! Resources: 1 added" in result.stdout
    assert "(sensitive value)" in result.stdout
    state = terraform.state()["testing_thing.a"]
    assert state["size"] == 1 and state["revision"] == 1 and state["tags"] == {"team": "platform"}
    first_id = state["id"]
    assert stored(store)[first_id]["value"] == "one"
    assert terraform.outputs()["id"] == first_id
    assert terraform.plan_exit_code() == 0, "a second plan must be a no-op"

    # refresh picks up drift, and the next plan corrects it
    drifted = stored(store)[first_id] | {"value": "changed-outside"}
    (store / f"{first_id}.json").write_text(json.dumps(drifted))
    terraform.apply("-refresh-only")
    assert terraform.state()["testing_thing.a"]["value"] == "changed-outside"
    assert terraform.plan_exit_code() == 2

    # update in place: id and secret stay (stable), revision is recomputed
    terraform.write(thing_config(store, value="two"))
    result = terraform.apply()
    assert "1 changed" in result.stdout
    state = terraform.state()["testing_thing.a"]
    assert state["id"] == first_id and state["value"] == "two" and state["revision"] == 2

    # a force-new attribute replaces the object
    terraform.write(thing_config(store, name="beta", value="two"))
    result = terraform.apply()
    assert "1 added, 0 changed, 1 destroyed" in result.stdout
    second_id = terraform.state()["testing_thing.a"]["id"]
    assert second_id != first_id and list(stored(store)) == [second_id]

    # import: forget it, import it by id, and the plan is clean again
    terraform.run("state", "rm", "testing_thing.a")
    terraform.run("import", "testing_thing.a", second_id)
    imported = terraform.state()["testing_thing.a"]
    assert imported["name"] == "beta" and imported["value"] == "two"
    # `state rm` also dropped the outputs; the resource itself needs no change
    assert "Resources: 0 added, 0 changed, 0 destroyed" in terraform.apply().stdout
    assert terraform.plan_exit_code() == 0

    # gone behind Terraform's back: refresh drops it and the plan recreates it
    (store / f"{second_id}.json").unlink()
    assert terraform.plan_exit_code() == 2

    terraform.apply()
    terraform.destroy()
    assert stored(store) == {}
    assert terraform.state() == {}


def test_import_of_missing_object_is_a_clear_error(terraform: Terraform, tmp_path: Path) -> None:
    terraform.write(thing_config(tmp_path / "store"))
    terraform.init()
    result = terraform.run("import", "testing_thing.a", "thing-nope", check=False)
    assert result.returncode != 0
    assert "No testing_thing has the id 'thing-nope'" in result.text
    assert "Traceback" not in result.text


def test_bad_configuration_names_the_attribute(terraform: Terraform, tmp_path: Path) -> None:
    terraform.write(thing_config(tmp_path / "store", name="Not_A_Label"))
    terraform.init()
    result = terraform.run("validate", check=False)
    assert result.returncode == 1
    assert "Invalid DNS label" in result.text
    assert 'name  = "Not_A_Label"' in result.output, "Terraform points at the attribute"
    assert "Traceback" not in result.text


def slow_config(seconds: int, timeout: str | None = None) -> str:
    timeouts = f'timeouts {{\n create = "{timeout}"\n }}' if timeout else ""
    return f"""
        terraform {{
          required_providers {{
            testing = {{ source = "test/testing" }}
          }}
        }}
        provider "testing" {{
          store_dir = "unused"
        }}
        resource "testing_slow" "s" {{
          seconds = {seconds}
          {timeouts}
        }}
    """


def test_timeout_names_what_was_waited_for(terraform: Terraform) -> None:
    terraform.write(slow_config(120, timeout="2s"))
    terraform.init()
    result = terraform.apply(check=False)
    assert result.returncode == 1
    assert "Timed out after 2s waiting for the slow thing to finish" in result.text


def test_invalid_timeout_is_a_diagnostic(terraform_latest: Terraform) -> None:
    terraform_latest.write(slow_config(1, timeout="ten minutes"))
    terraform_latest.init()
    result = terraform_latest.run("validate", check=False)
    assert result.returncode == 1
    assert "Invalid duration" in result.text and "timeouts.create" in result.text


def test_ctrl_c_stops_a_waiting_create_within_two_seconds(terraform: Terraform) -> None:
    terraform.write(slow_config(600))
    terraform.init()
    output, took = interrupt(terraform.start("apply", "-auto-approve"), "Creating...")
    assert took < 2.0, f"terraform took {took:.1f}s to stop:\n{output}"
    assert "Cancelled while waiting for the slow thing to finish" in output


def test_running_the_plugin_by_hand_explains_itself() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TF_PLUGIN_MAGIC_COOKIE"}
    proc = subprocess.run(
        [sys.executable, "-m", "provider.main"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert (
        "This binary is a plugin" in proc.stderr and "Terraform provider for Tarmak" in proc.stderr
    )


def test_debug_mode_serves_a_reattachable_provider(
    terraform_latest: Terraform, tmp_path: Path
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.testing_provider", "--debug"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        reattach = ""
        for _ in range(10):
            line = proc.stdout.readline()
            if "TF_REATTACH_PROVIDERS=" in line:
                reattach = line.split("TF_REATTACH_PROVIDERS=", 1)[1].strip().strip("'")
                break
        assert json.loads(reattach)["registry.terraform.io/test/testing"]["Test"] is True
        terraform_latest.env["TF_REATTACH_PROVIDERS"] = reattach
        terraform_latest.write(thing_config(tmp_path / "store"))
        terraform_latest.init()
        assert "1 added" in terraform_latest.apply().stdout
    finally:
        proc.terminate()
        proc.wait(10)


def test_data_source_reads_during_plan(terraform: Terraform, tmp_path: Path) -> None:
    terraform.write(
        thing_config(tmp_path / "store")
        + """
        data "testing_echo" "e" {
          input = testing_thing.a.name
        }
        output "echo" {
          value = data.testing_echo.e.output
        }
        """
    )
    terraform.init()
    terraform.apply()
    assert terraform.outputs()["echo"] == "ALPHA"
