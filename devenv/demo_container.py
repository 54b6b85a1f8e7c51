"""`make demo`, second part: Terraform in a bare container, Tarmak outside.

1. Build (or reuse) the self-contained provider package for this machine.
2. Make a container: busybox, terraform, a CA certificate and a CLI config,
   its own mount, PID and network namespaces (loopback only).
3. Sign and publish the package to a registry served on the container's loopback.
4. `terraform init` in the container installs it; `terraform apply` of
   examples/tarmak-environment waits while Tarmak, outside, execs the connector
   from the installed package into the container (nsenter, as `docker exec -i`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from devenv.container import Container, build_rootfs
from devenv.demo import logged, summary
from devenv.environment import LocalEnvironment
from devenv.tarmak_container import (
    NetnsRegistry,
    OutsideTarmak,
    connector_command,
    example_config,
    native_target,
    plugin_executable,
    publish_package,
    remove_tree,
    terraform_variables,
)
from devenv.terraform_binary import bundled_terraform
from devenv.vault import OpenBaoServer
from provider import __version__
from registry_tools.build import cached_package


def say(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def in_container(container: Container, *args: str, **env: str) -> str:
    started = time.monotonic()
    result = container.run(["terraform", *args, "-input=false", "-no-color"], "/work", **env)
    if result.returncode != 0:
        print(result.stdout + result.stderr)
        raise SystemExit(f"terraform {args[0]} failed in the container")
    print(f"    container$ terraform {' '.join(args)}   ({time.monotonic() - started:.1f}s)")
    return result.stdout


def main() -> int:
    if os.geteuid() != 0:
        print("the container demo needs root (unshare, chroot, nsenter); skipped")
        return 0
    base = Path(tempfile.mkdtemp(prefix="tarmak-container-demo-"))
    target = native_target()
    say(f"the self-contained provider package for {target.name}")
    started = time.monotonic()
    package = cached_package(target, __version__)
    print(f"    {package.name}: {package.stat().st_size / 1e6:.1f} MB ({_took(started)})")

    say("starting the local environment (sshd bastion, wing, an uninitialised TLS OpenBao)")
    env = LocalEnvironment.start(base / "env")
    vault = OpenBaoServer(base / "vault", dev=False, ca=env.ca).start()
    container = registry = tarmak = None
    connector_log = base / "connector.log"
    finished = False
    try:
        say("a container: busybox, terraform, a CA certificate, a CLI config; loopback only")
        root = build_rootfs(
            base / "rootfs",
            Path(bundled_terraform()),
            env.ca.cert_path,
            "disable_checkpoint = true\n",
        )
        container = Container(root).start()
        listing = subprocess.run(
            ["find", ".", "-type", "f"], cwd=root, capture_output=True, text=True
        ).stdout.split()
        print(f"    files: {', '.join(sorted(p.removeprefix('./') for p in listing))}")
        print("    (/bin holds busybox's applets as symlinks)")

        say("signing the package and serving the registry on the container's loopback")
        _, tree = publish_package(package, target, __version__, base / "publish")
        cert = env.ca.issue("container-registry", ("localhost", "127.0.0.1"))
        registry = NetnsRegistry(container, tree, cert, base / "registry.log").start()
        (root / "work" / "main.tf").write_text(example_config(__version__))

        say("terraform init in the container, from https://localhost:8443")
        for line in in_container(container, "init").splitlines():
            if "Installed" in line or "Installing" in line:
                print(f"      {line.strip()}")

        executable = plugin_executable("/work", __version__, target)
        command = connector_command(container, executable)
        say("Tarmak, outside, execs the connector from the installed package")
        print(f"    docker exec -i CONTAINER {executable} connector")
        print(f"    here: {' '.join(command[:7])} ... connector")
        tarmak = OutsideTarmak.start(env, base / "tarmak-state", logged(command, connector_log))

        say("terraform apply in the container: bastion, Vault cluster, instance roles")
        output = in_container(
            container, "apply", "-auto-approve", **terraform_variables(env, vault)
        )
        outputs = output.split("\nOutputs:", 1)[-1] if "\nOutputs:" in output else ""
        for line in output.splitlines():
            if "complete" in line.lower():
                print(f"      {line.strip()}")
        for line in outputs.strip().splitlines():
            print(f"      {line.strip()}")
        health = vault.endpoint.health_status()
        print(f"    Vault, outside, now answers HTTP {health} (active)")
        summary(
            [
                f"the {target.name} package installed by `terraform init` from a signed registry "
                "runs in a container holding only a static busybox and terraform: no libc, "
                "no Python",
                "Tarmak, outside the container, reached the provider only through the "
                "connector it exec'd from that package",
                f"the apply completed: bastion ready, Vault initialised and unsealed "
                f"(sys/health {health})",
            ]
        )
        finished = True
        return 0
    finally:
        if tarmak is not None:
            tarmak.stop()
        if registry is not None:
            registry.stop()
        if container is not None:
            container.stop()
        vault.stop()
        env.stop()
        if not finished and connector_log.exists():
            print(f"the connector's log:\n{connector_log.read_text()}", file=sys.stderr)
        remove_tree(base)


def _took(since: float) -> str:
    return f"{time.monotonic() - since:.1f}s"


if __name__ == "__main__":
    sys.exit(main())
