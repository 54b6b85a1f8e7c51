"""A real OpenSSH server on 127.0.0.1 standing in for Tarmak's bastion.

It runs with a generated host key and a generated user key authorised for
the current user, and allows TCP forwarding, so a client reaches services on
127.0.0.1 "behind" it the way Tarmak reaches Vault nodes.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import textwrap
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from connector.tarmak_side.safe_paths import write_private_file
from devenv.processes import ChildProcess, free_port, wait_until

SSHD_CANDIDATES = ("/usr/sbin/sshd", "/usr/local/sbin/sshd")


def sshd_binary() -> str:
    for candidate in (*SSHD_CANDIDATES, shutil.which("sshd") or ""):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError("sshd not found: `make install` installs Debian's openssh-server")


def write_keypair(private_path: Path, comment: str) -> str:
    """Write an Ed25519 key in OpenSSH format; return the public key line."""
    key = ed25519.Ed25519PrivateKey.generate()
    write_private_file(
        private_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        ),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    line = f"{public.decode()} {comment}"
    Path(f"{private_path}.pub").write_text(line + "\n")
    return line


@dataclass(frozen=True)
class BastionAccess:
    """What a client needs to log in: where, as whom, with which key, trusting which host key."""

    host: str
    port: int
    username: str
    key_path: str
    known_hosts_path: str


class Bastion:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o700)
        self.port = free_port()
        host_key = directory / "ssh_host_ed25519_key"
        host_public = write_keypair(host_key, "bastion")
        user_key = directory / "id_ed25519"
        (directory / "authorized_keys").write_text(write_keypair(user_key, "tarmak") + "\n")
        known_hosts = directory / "known_hosts"
        known_hosts.write_text(f"[127.0.0.1]:{self.port} {' '.join(host_public.split()[:2])}\n")
        config = directory / "sshd_config"
        config.write_text(
            textwrap.dedent(
                f"""\
                Port {self.port}
                ListenAddress 127.0.0.1
                HostKey {host_key}
                PidFile {directory / "sshd.pid"}
                AuthorizedKeysFile {directory / "authorized_keys"}
                PubkeyAuthentication yes
                PasswordAuthentication no
                KbdInteractiveAuthentication no
                PermitRootLogin prohibit-password
                UsePAM no
                StrictModes no
                AllowTcpForwarding yes
                LogLevel INFO
                """
            )
        )
        self.access = BastionAccess(
            "127.0.0.1", self.port, getpass.getuser(), str(user_key), str(known_hosts)
        )
        self.process = ChildProcess(
            [sshd_binary(), "-D", "-e", "-f", str(config)], directory / "sshd.log"
        )
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir

    def start(self) -> Bastion:
        self.process.start()
        return self.start_wait()

    def start_wait(self) -> Bastion:
        """Wait for a started sshd to send its banner."""
        try:
            wait_until(self._banner, f"sshd on port {self.port}", timeout=15)
        except TimeoutError as err:
            self.stop()
            raise TimeoutError(f"{err}\n{self.process.log_tail()}") from None
        return self

    def _banner(self) -> bool:
        if not self.process.running():
            raise TimeoutError(f"sshd exited:\n{self.process.log_tail()}")
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
            return sock.recv(4).startswith(b"SSH-")

    def stop(self) -> None:
        self.process.stop()
