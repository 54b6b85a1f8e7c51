"""The operator's key commands: generate-root, rekey, rotate-kms-key and
replace-token (`tarmak-controller <command>`, docs/vault-keys.md).

Each is a sequence of steps whose progress is kept in the keys file (a new
generation per step, `pending` holding what a later step needs), so a run
stopped anywhere can be run again and carries on: new shares are stored
before Vault is asked to switch to them (rotation with verification keeps
the old ones valid until then), and old ones are removed only after the new
ones are stored, fsync'd and in use.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from connector.protocol.contract import VaultClusterParams
from connector.tarmak_side.vault.api import VaultApi
from connector.tarmak_side.vault.clusters import VaultClusters
from connector.tarmak_side.vault.errors import OperationFailed
from connector.tarmak_side.vault.generate_root import (
    SharesRefused,
    generate_root,
    revoked_unless_kept,
)
from connector.tarmak_side.vault.keys import ClusterKeys
from connector.tarmak_side.vault.keystore import StoredKeys
from connector.tarmak_side.vault.protection import KeyProtection, protection_for
from connector.tarmak_side.vault.transit import TransitProtection

log = logging.getLogger(__name__)


def _feed_shares(
    api: VaultApi, path: str, keys: ClusterKeys, nonce: str, doing: str
) -> dict[str, Any]:
    """Give Vault the shares one by one until it has enough; its last answer."""
    answer: dict[str, Any] = {}
    for share in keys.shares():
        answer = api.call("POST", path, {"key": share, "nonce": nonce}).require(doing).data
        if answer.get("complete"):
            break
    return answer


class KeyOperations:
    def __init__(self, clusters: VaultClusters) -> None:
        self.clusters = clusters
        self.store = clusters.store
        # Called between steps with the step's name; tests make it stop the run there.
        self.step: Callable[[str], None] = lambda _name: None

    @contextlib.contextmanager
    def _cluster(self, params: VaultClusterParams) -> Iterator[tuple[VaultApi, ClusterKeys, str]]:
        """The active node with Tarmak's token, and the stored keys, under the lock."""
        name = self.clusters.keys_name(params.vault_unseal_key_name)
        with self.clusters.locks.hold(name):
            keys = self.clusters.keys(name)
            if keys is None:
                raise OperationFailed(f"no Vault keys are stored in {self.store.path(name)}")
            with self.clusters.survey(params.internal_fqdns, params.vault_ca) as found:
                if found.active is None:
                    raise OperationFailed(f"no active Vault node: {found.describe()}")
                yield found.active.api.with_token(keys.token()), keys, name

    def _advance(self, name: str, keys: ClusterKeys, stored: StoredKeys) -> ClusterKeys:
        return replace(keys, stored=self.store.advance(name, stored))

    # ---- generate-root ------------------------------------------------------------------

    def generate_root(self, params: VaultClusterParams) -> str:
        """A root token for the operator (not stored: revoke it when done)."""
        with self._cluster(params) as (api, keys, _):
            return generate_root(api, keys)

    # ---- replace-token ------------------------------------------------------------------

    def replace_token(self, params: VaultClusterParams) -> str:
        """A new Tarmak token; the old one and the root token used are revoked."""
        with self._cluster(params) as (api, keys, name):
            stored = keys.stored
            if not stored.pending_step("retired_token"):
                if stored.root_token is None:
                    root = generate_root(api, keys)
                    with revoked_unless_kept(api, root, "root token"):
                        blob = keys.protection.protect(root.encode())
                    keys = self._advance(name, keys, replace(stored, root_token=blob))
                    self.step("root-stored")
                token = self.clusters.tokens.create(api, keys.root_token())
                stored = keys.stored
                with revoked_unless_kept(api, token, "new Tarmak token"):
                    blob = keys.protection.protect(token.encode())
                retiring = stored.with_step("retired_token", stored.tarmak_token)
                keys = self._advance(name, keys, replace(retiring, tarmak_token=blob))
                self.step("token-stored")
            keys = self.clusters.tokens.settle(api, keys, name)
            self.store.prune(name, below=keys.stored.generation)
            return f"Tarmak has a new Vault token, stored in {self.store.path(name)}"

    # ---- rotate-kms-key -----------------------------------------------------------------

    def rotate_kms_key(self, params: VaultClusterParams) -> str:
        """Rotate the transit key, then rewrap every stored blob under its newest version."""
        with self._cluster(params) as (_, keys, name):
            protection = keys.protection
            if not isinstance(protection, TransitProtection):
                raise OperationFailed(
                    f"the keys in {self.store.path(name)} are protected by {protection.kind}, "
                    "not by a KMS transit key"
                )
            stored = keys.stored
            if stored.pending:
                unfinished = ", ".join(stored.pending)
                raise OperationFailed(
                    f"{self.store.path(name)} records an unfinished step ({unfinished}): run "
                    "the command that started it again first"
                )
            protection.rotate()
            self.step("rotated")
            rewrap = protection.rewrap
            rewrapped = replace(
                stored,
                shares=tuple(rewrap(b) for b in stored.shares),
                root_token=rewrap(stored.root_token) if stored.root_token else None,
                tarmak_token=rewrap(stored.tarmak_token) if stored.tarmak_token else None,
            )
            keys = self._advance(name, keys, rewrapped)
            self.step("stored")
            self.store.prune(name, below=keys.stored.generation)
            path = self.store.path(name)
            return f"rotated KMS key {protection.key!r}; the keys in {path} are rewrapped"

    # ---- rekey ---------------------------------------------------------------------------

    def rekey(self, params: VaultClusterParams) -> str:
        """New shares (as env.yaml's key_shares/threshold/protection say) replace the old."""
        with self._cluster(params) as (api, keys, name):
            base = f"sys/rotate/{'recovery' if keys.stored.recovery else 'root'}"
            pending = keys.stored.pending_step("rekey")
            if pending is None:
                keys, pending = self._start_rekey(api, keys, name, base)
            fresh = ClusterKeys(
                replace(
                    keys.stored,
                    protection=pending["protection"],
                    shares=tuple(pending["shares"]),
                    threshold=int(pending["threshold"]),
                ),
                protection_for(
                    self.clusters.config, keys.stored.kms_key_id, name, pending["protection"]
                ),
                keys.path,
            )
            # The tokens stored now (a replace-token may have run since the rekey began),
            # protected as the new shares are. Made before Vault switches to the new
            # shares: a KMS that fails here leaves the old ones in use and stored.
            done = _tokens_moved(fresh.protection, keys, fresh.stored.without_step("rekey"))
            verify = api.call("GET", f"{base}/verify")
            if verify.ok and verify.data.get("nonce") == pending["nonce"]:
                if verify.data.get("progress"):
                    # A stopped run gave Vault some of the shares, and Vault refuses one
                    # given twice: verification starts over, under a new nonce, kept first.
                    keys, pending = self._restart_verification(api, keys, name, base, pending)
                answer = _feed_shares(
                    api, f"{base}/verify", fresh, pending["nonce"], "verifying the new key shares"
                )
                if not answer.get("complete"):
                    raise OperationFailed(
                        "Vault did not complete the verification of the new key shares; the old "
                        "shares are still in use and stored: run rekey again"
                    )
            elif not self._live(api, fresh):
                # The rotation was cancelled (e.g. the active node restarted): start again,
                # keeping any other step under way (a retired token still to revoke).
                keys = self._advance(name, keys, keys.stored.without_step("rekey"))
                raise OperationFailed(
                    "Vault no longer has the rotation this run stored new shares for (it was "
                    "cancelled or the active node restarted); the old shares are still in use "
                    "and stored: run rekey again"
                )
            self.step("verified")
            keys = self._advance(name, keys, done)
            self.step("stored")
            self.store.prune(name, below=keys.stored.generation)
            return f"new key shares stored in {self.store.path(name)}; the old ones are removed"

    def _restart_verification(
        self, api: VaultApi, keys: ClusterKeys, name: str, base: str, pending: dict[str, Any]
    ) -> tuple[ClusterKeys, dict[str, Any]]:
        api.call("DELETE", f"{base}/verify").require("restarting the verification")
        nonce = api.call("GET", f"{base}/verify").require("reading the verification").data
        pending = {**pending, "nonce": nonce.get("nonce")}
        stored = keys.stored
        keys = self._advance(name, keys, stored.with_step("rekey", pending))
        return keys, pending

    def _start_rekey(
        self, api: VaultApi, keys: ClusterKeys, name: str, base: str
    ) -> tuple[ClusterKeys, dict[str, Any]]:
        """Rotate to new shares, kept pending (and stored) until Vault has verified them."""
        stored = keys.stored
        new = protection_for(self.clusters.config, stored.kms_key_id, name)
        if api.call("GET", f"{base}/init").require("reading the rotation").data.get("started"):
            # A stopped run's rotation: its new shares were never stored or used.
            api.call("DELETE", f"{base}/init").require("cancelling a stale rotation")
        new.check()
        _tokens_moved(new, keys, stored)  # proof, before Vault rotates, that they can move
        vault = self.clusters.config.vault
        started = api.call(
            "POST",
            f"{base}/init",
            {
                "secret_shares": vault.key_shares,
                "secret_threshold": vault.key_threshold,
                "require_verification": True,
                **{
                    ("pgp_keys" if k.endswith("pgp_keys") else k): v
                    for k, v in new.init_params(stored.recovery).items()
                    if k != "root_token_pgp_key"
                },
            },
        ).require("starting the rotation of the key shares")
        self.step("started")
        done = _feed_shares(
            api, f"{base}/update", keys, started.data["nonce"], "rotating the key shares"
        )
        if not done.get("complete"):
            raise OperationFailed("Vault did not take the stored shares for the rotation")
        self.step("rotated")
        pending = {
            "protection": new.kind,
            "shares": list(new.from_init([str(k) for k in done.get("keys") or []])),
            "threshold": vault.key_threshold,
            "nonce": done.get("verification_nonce"),
        }
        keys = self._advance(name, keys, stored.with_step("rekey", pending))
        self.step("pending-stored")
        return keys, pending

    def _live(self, api: VaultApi, keys: ClusterKeys) -> bool:
        """Do these shares open the cluster? (A root token is made with them and revoked.)"""
        try:
            root = generate_root(api, keys)
        except SharesRefused:
            return False
        api.call("POST", "auth/token/revoke-self", {}, token=root).require(
            "revoking the root token made to test the new shares"
        )
        return True


def _tokens_moved(new: KeyProtection, keys: ClusterKeys, into: StoredKeys) -> StoredKeys:
    """`into` holding the tokens `keys` holds now, protected as the new shares are:
    Tarmak's token, a root token, and a retired token a stopped replace-token has
    still to revoke. Left under the old protection, a rekey from `file` to `transit`
    would keep them in plaintext in a file that says `transit`, and none could be
    read from it again."""

    def moved(blob: str | None, what: str) -> str | None:
        return None if blob is None else new.protect(keys.reveal(blob, what).encode())

    if retired := into.pending_step("retired_token"):
        into = into.with_step("retired_token", moved(retired, "the retired token"))
    return replace(
        into,
        tarmak_token=moved(keys.stored.tarmak_token, "Tarmak's token"),
        root_token=moved(keys.stored.root_token, "the root token"),
    )
