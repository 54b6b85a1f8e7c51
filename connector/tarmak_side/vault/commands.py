"""The command line of the operator's key commands (parsing and printing only;
operations.py does the work)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from connector.protocol.contract import VaultClusterParams
from connector.tarmak_side.config import EnvironmentConfig
from connector.tarmak_side.vault.clusters import VaultClusters
from connector.tarmak_side.vault.errors import NotReady, OperationFailed
from connector.tarmak_side.vault.links import BastionLinks, DirectLinks, Links
from connector.tarmak_side.vault.operations import KeyOperations
from connector.tarmak_side.wing import BastionChecker

COMMANDS = {
    "generate-root": "print a new root token, made from the stored shares (not stored: "
    "revoke it when done)",
    "rekey": "replace the key shares (recovery shares for auto-unseal) with new ones, "
    "protected as env.yaml says",
    "rotate-kms-key": "rotate the KMS transit key and rewrap every stored secret",
    "replace-token": "give Tarmak a new Vault token and revoke the old one",
}


def add_key_commands(commands: Any) -> None:
    for name, summary in COMMANDS.items():
        command = commands.add_parser(name, help=summary, description=summary)
        command.add_argument(
            "--node", action="append", required=True, help="a Vault node, host[:port]"
        )
        command.add_argument(
            "--vault-ca", required=True, type=Path, help="the CA that signed the nodes' certs"
        )
        command.add_argument(
            "--name", help="the name the keys are stored under (default <environment>-vault)"
        )
        command.add_argument(
            "--direct",
            action="store_true",
            help="reach the nodes from here rather than through the bastion",
        )


def run_key_command(config: EnvironmentConfig, args: argparse.Namespace) -> int:
    """Run one command; only generate-root's token goes to stdout."""
    bastion = BastionChecker(config.bastion)
    links: Links = DirectLinks() if args.direct else BastionLinks(config, bastion)
    operations = KeyOperations(VaultClusters(config, links))
    try:
        params = VaultClusterParams(
            tuple(args.node), args.vault_ca.read_text(), vault_unseal_key_name=args.name
        )
        run = {
            "generate-root": operations.generate_root,
            "rekey": operations.rekey,
            "rotate-kms-key": operations.rotate_kms_key,
            "replace-token": operations.replace_token,
        }[args.operation]
        result = run(params)
    except (OperationFailed, NotReady, OSError) as err:
        sys.stderr.write(f"tarmak-controller {args.operation}: {err}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write(f"tarmak-controller {args.operation}: stopped; run it again to finish\n")
        return 130
    finally:
        bastion.close()
    if args.operation == "generate-root":
        sys.stdout.write(result + "\n")
    else:
        sys.stderr.write(f"tarmak-controller {args.operation}: {result}\n")
    return 0
