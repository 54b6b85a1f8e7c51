"""`make demo`: the whole story on one machine, printed as it happens.

1. Start the local environment: sshd bastion, wing stand-in, an uninitialised
   three-node OpenBao cluster (Raft on disk, TLS, audit log), the KMS OpenBao
   (transit) that protects the keys Tarmak keeps, and OpenBao -dev (for hostnames).
2. Start the Tarmak side, which launches tarmak-connector as a subprocess (in
   place of `docker exec -i CONTAINER tarmak-connector`).
3. `terraform apply` examples/tarmak-environment: the bastion wait, the cluster
   initialised once (its key shares and Tarmak's token stored encrypted by
   the devenv's KMS) and every node joined and unsealed over SSH channels
   through the bastion, init tokens per role.
4. Restart the active node: it comes back sealed; `terraform plan` shows
   `status: "sealed" -> "ready"` and writes nothing (the audit log says so);
   `terraform apply` unseals it; the next plan changes nothing.
5. Allocate hostnames with tarmak_hostname, then destroy everything.
6. Sum up what the run showed, from what it observed.

The connector's own log (it says, for one, that the Tarmak side stopped it
at the end) goes to a file, printed only when something fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import hvac

from devenv.environment import LocalEnvironment
from devenv.mirror import ROOT, build_mirror
from devenv.raft_cluster import RaftCluster
from devenv.tarmak import TarmakSide, environment_config, relay_argv, terraform_variables
from devenv.terraform_binary import bundled_terraform

HOSTNAMES_TF = """
terraform {
  required_providers {
    tarmak = { source = "jetstack/tarmak" }
  }
}
provider "tarmak" {}
resource "tarmak_hostname" "web" {
  count       = 3
  application = "web"
  role        = "frontend"
  environment = "demo"
}
output "hostnames" {
  value = tarmak_hostname.web[*].name
}
"""


def say(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def logged(argv: list[str], log: Path) -> list[str]:
    """`argv` with its stderr appended to `log` (stdin and stdout stay the pipes
    the controller relays over)."""
    return ["sh", "-c", 'exec "$@" 2>>"$0"', str(log), *argv]


def summary(lines: list[str]) -> None:
    say("what this run showed")
    for line in lines:
        print(f"    - {line}")


def terraform(workdir: Path, env: dict[str, str], *args: str, ok: tuple[int, ...] = (0,)) -> str:
    started = time.monotonic()
    proc = subprocess.run(
        [bundled_terraform(), *args, "-no-color"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode not in ok:
        print(proc.stdout + proc.stderr)
        raise SystemExit(f"terraform {args[0]} failed")
    took = time.monotonic() - started
    print(f"    $ terraform {' '.join(args)}   ({took:.1f}s)")
    for line in proc.stdout.splitlines():
        if "complete" in line.lower():
            print(f"      {line}")
    return proc.stdout


def main() -> int:
    base = Path(tempfile.mkdtemp(prefix="tarmak-demo-"))
    say("starting the local environment (sshd bastion, wing, three OpenBao nodes + dev)")
    started = time.monotonic()
    env = LocalEnvironment.start(base / "env", cluster=True)
    print(f"    up in {time.monotonic() - started:.1f}s")
    cluster = env.vault_cluster
    assert cluster is not None
    side = TarmakSide(environment_config(env, base / "tarmak-state"))
    connector_log = base / "connector.log"
    side.controller.argv = logged(relay_argv(side.socket_path), connector_log)
    finished = False
    try:
        print(f"    bastion: ssh {env.bastion.access.username}@127.0.0.1 -p {env.bastion.port}")
        show_nodes(cluster, "before")
        cli_config = build_mirror(base / "mirror", ("tarmak",))
        tf_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TF_", "VAULT_"))},
            "TF_CLI_CONFIG_FILE": str(cli_config),
            "CHECKPOINT_DISABLE": "1",
            "TARMAK_CONNECTOR_SOCKET": side.socket_path,
            **terraform_variables(env, cluster.addresses),
        }

        say("starting the Tarmak side; it launches tarmak-connector and answers the provider")
        side.start()
        work = base / "tarmak-environment"
        work.mkdir()
        shutil.copy(ROOT / "examples" / "tarmak-environment" / "main.tf", work / "main.tf")
        say("terraform apply examples/tarmak-environment")
        terraform(work, tf_env, "init", "-input=false")
        terraform(work, tf_env, "apply", "-auto-approve", "-input=false")
        outputs = json.loads(terraform(work, tf_env, "output", "-json"))
        print(f"    bastion_status = {outputs['bastion_status']['value']}")
        print(f"    vault_status   = {outputs['vault_status']['value']}")
        show_nodes(cluster, "after apply")
        initialised = cluster.initialisations()
        print(f"    initialised {initialised} time(s) (OpenBao's own log)")
        tokens = outputs["init_tokens"]["value"]
        check_tokens(cluster, tokens)

        say("restarting the active Vault node: it comes back sealed, with its data")
        victim = cluster.wait_for_active()
        victim.restart()
        cluster.wait_for_active()
        show_nodes(cluster, "after restart")
        marks = cluster.audit_marks()
        plan = terraform(work, tf_env, "plan", "-input=false", "-detailed-exitcode", ok=(2,))
        planned = plan.split("Terraform will perform the following actions:")[-1]
        for line in planned.splitlines():
            if "status" in line or line.startswith("Plan:"):
                print(f"      {line.strip()}")
        seen = cluster.audit_since(marks)
        writes = sum(1 for e in seen if e.is_write)
        print(f"    audit logs during plan: {len(seen) - writes} reads, {writes} writes")
        print(f"    {victim.node_id} after plan: HTTP {victim.health()} (still sealed)")
        terraform(work, tf_env, "apply", "-auto-approve", "-input=false")
        show_nodes(cluster, "after apply")
        terraform(work, tf_env, "plan", "-input=false", "-detailed-exitcode")
        print("    the plan after that apply changes nothing (exit code 0)")
        initialised = cluster.initialisations()
        print(f"    initialised {initialised} time(s) in all")
        serving = sum(status in (200, 429) for status in cluster.health().values())

        say("tarmak_hostname: unique names from a KV v2 counter in OpenBao -dev")
        names = base / "hostnames"
        names.mkdir()
        (names / "main.tf").write_text(HOSTNAMES_TF)
        dev = env.vault_dev.endpoint
        hvac.Client(url=dev.address, token=dev.token).sys.enable_secrets_engine(
            "kv", path="hostnaming", options={"version": "2"}
        )
        name_env = {**tf_env, **dev.env()}
        terraform(names, name_env, "init", "-input=false")
        terraform(names, name_env, "apply", "-auto-approve", "-input=false")
        allocated = json.loads(terraform(names, name_env, "output", "-json"))["hostnames"]["value"]
        print(f"    hostnames = {', '.join(allocated)}")

        say("terraform destroy (both configurations)")
        terraform(names, name_env, "destroy", "-auto-approve", "-input=false")
        terraform(work, tf_env, "destroy", "-auto-approve", "-input=false")
        summary(
            [
                "the waiting resources completed only once the Tarmak side, outside "
                "Terraform, had answered through tarmak-connector: the bastion over SSH with "
                "the wing's /healthz, Vault over SSH channels through the bastion",
                f"the three-node cluster was initialised {times(initialised)} in all; after a "
                f"node's restart and the apply that followed, {serving} of 3 nodes serve "
                "(active or standby)",
                f"the {len(tokens)} init tokens work: each creates tokens with its role's policies",
                f"a restarted node came back sealed; the plan showed sealed -> ready while the "
                f"audit logs recorded {writes} writes, apply unsealed it, the next plan was empty",
                f"tarmak_hostname allocated {len(set(allocated))} distinct names from a KV v2 "
                "counter",
                "destroy emptied both states; all of it with the real Terraform "
                f"{terraform_version()}, OpenBao and sshd (the wing is a stand-in)",
            ]
        )
        finished = True
        return 0
    finally:
        side.stop()
        env.stop()
        if not finished and connector_log.exists():
            print(f"the connector's log:\n{connector_log.read_text()}", file=sys.stderr)
        shutil.rmtree(base, ignore_errors=True)


def times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def terraform_version() -> str:
    out = subprocess.run(
        [bundled_terraform(), "version"],
        capture_output=True,
        text=True,
        env={**os.environ, "CHECKPOINT_DISABLE": "1"},
    ).stdout
    return out.split()[1].removeprefix("v") if out.startswith("Terraform v") else "?"


def show_nodes(cluster: RaftCluster, when: str) -> None:
    meaning = {200: "active", 429: "standby", 501: "uninitialised", 503: "sealed", None: "down"}
    states = ", ".join(
        f"{n.node_id} {meaning.get(s, s)}"
        for n, s in zip(cluster, cluster.health().values(), strict=True)
    )
    print(f"    Vault nodes {when}: {states}")


def check_tokens(cluster: RaftCluster, tokens: dict[str, str]) -> None:
    """Show that each init token works, without ever printing a token."""
    endpoint = cluster.wait_for_active().endpoint
    for role, token in sorted(tokens.items()):
        client = hvac.Client(url=endpoint.address, token=token, verify=endpoint.ca_cert)
        created = client.adapter.post(f"/v1/auth/token/create/demo-{role}", json={})
        policies = ", ".join(p for p in created["auth"]["policies"] if p != "default")
        print(
            f"    init token for {role:<6}: (sensitive) creates tokens with policies [{policies}]"
        )


if __name__ == "__main__":
    sys.exit(main())
