"""Bring a cluster to ready, one pass at a time (Terraform's apply only).

Initialise if, and only if, no keys are stored and every listed node answers
uninitialised, and only once the keys' place is reserved and their
protection shown to work; store the keys before anything else; join and
unseal every node; ready once every listed node is unsealed, one is active
and (with Raft) every node votes. A node that reports uninitialised while
keys are stored, or while another node is initialised, is a new or replaced
member: it is joined and unsealed, never initialised. A cluster whose nodes
report an auto-unseal (recovery) seal is initialised with recovery shares
and never sent sys/unseal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from connector.tarmak_side.config import EnvironmentConfig
from connector.tarmak_side.vault.errors import NotReady, OperationFailed
from connector.tarmak_side.vault.health import Health
from connector.tarmak_side.vault.keys import ClusterKeys
from connector.tarmak_side.vault.keystore import KeyStore, Reservation, StoredKeys
from connector.tarmak_side.vault.protection import KeyProtection, protection_for
from connector.tarmak_side.vault.survey import Seen, Survey

log = logging.getLogger(__name__)


class Converger:
    def __init__(self, config: EnvironmentConfig, store: KeyStore) -> None:
        self.config = config
        self.store = store
        # Called once a new cluster's keys are stored; tests make it stop the process.
        self.after_keys_stored: Callable[[], None] = lambda: None
        # sys/init answers whose protection failed: kept in memory only, retried each pass.
        self._unprotected: dict[str, tuple[dict[str, Any], KeyProtection, str | None]] = {}

    def step(
        self,
        found: Survey,
        keys: ClusterKeys | None,
        name: str,
        params: dict[str, Any],
        allow_init: bool,
    ) -> None:
        """One pass; returns when the cluster is ready, raises NotReady otherwise."""
        detail = found.describe()
        if keys is None and name in self._unprotected:
            raise NotReady(f"{detail}; {self._store(name, *self._unprotected[name])}")
        if keys is None:
            raise NotReady(self._initialise(found, name, params, allow_init, detail))
        active = found.active
        acted: list[str] = []
        shares: list[str] | None = None
        for seen in found.seen:
            if seen.health is Health.SEALED and not keys.stored.recovery:
                shares = shares if shares is not None else keys.shares()
                acted.append(self._unseal(seen, shares, str(keys.path)))
            elif seen.health is Health.UNINITIALISED and active is not None:
                acted.append(self._join(seen, active, params))
        if acted:
            raise NotReady(f"{detail}; {'; '.join(acted)}")
        if not all(s.unsealed for s in found.seen) or active is None:
            raise NotReady(detail)
        voting = self._voters(active, keys.token())
        if voting is not None and voting < len(found.seen):
            raise NotReady(
                f"{detail}; {voting} of {len(found.seen)} nodes vote in Raft yet (autopilot "
                "promotes a joined node once it has been stable for a while)"
            )

    def _initialise(
        self, found: Survey, name: str, params: dict[str, Any], allow_init: bool, detail: str
    ) -> str:
        path = self.store.path(name)
        initialised = [s for s in found.answered if s.health is not Health.UNINITIALISED]
        if initialised:
            raise OperationFailed(
                f"{detail}. Vault {initialised[0].node} is already initialised, but {path} "
                "holds no keys for it. Tarmak never initialises a cluster twice: put the "
                "cluster's keys file there (or set vault_unseal_key_name to the name they "
                "are stored under)"
            )
        if not allow_init:
            return f"{detail}; waiting for tarmak_vault_cluster to initialise it"
        if len(found.answered) < len(found.seen):
            return f"{detail}; every node must answer before the cluster is initialised"
        kms_key_id = params.get("vault_kms_key_id") or None
        protection = protection_for(self.config, kms_key_id, name)
        protection.check()
        reservation = self.store.reserve(name)
        first = found.seen[0]
        try:
            recovery = self._auto_unseals(first)
            answer = self._init(first, protection, recovery)
        except BaseException:
            reservation.release()
            raise
        self._unprotected[name] = (answer, protection, kms_key_id)
        stored = self._store(name, answer, protection, kms_key_id, reservation)
        return f"{detail}; initialised Vault {first.node}, {stored}"

    def _store(
        self,
        name: str,
        answer: dict[str, Any],
        protection: KeyProtection,
        kms_key_id: str | None,
        reservation: Reservation | None = None,
    ) -> str:
        """Protect and store a sys/init answer; kept in memory while that fails."""
        recovery = bool(answer.get("recovery_keys"))
        shares = answer.get("recovery_keys" if recovery else "keys") or []
        try:
            *blobs, root = protection.from_init([*map(str, shares), str(answer["root_token"])])
            stored = StoredKeys(
                protection.kind,
                tuple(blobs),
                self.config.vault.key_threshold,
                root,
                recovery,
                kms_key_id,
            )
            (reservation or self.store.reserve(name)).commit(stored)
        except OperationFailed as err:
            raise OperationFailed(
                f"Vault was initialised but its keys could not be protected and stored: "
                f"{err}. They are held in this process's memory only: fix the cause and "
                "apply again without stopping tarmak-controller"
            ) from None
        finally:
            if reservation is not None:
                reservation.release()
        del self._unprotected[name]
        self.after_keys_stored()
        return f"keys stored in {self.store.path(name)}"

    @staticmethod
    def _auto_unseals(seen: Seen) -> bool:
        status = seen.api.call("GET", "sys/seal-status").require("sys/seal-status")
        return bool(status.body.get("recovery_seal")) or status.body.get("type") not in (
            None,
            "shamir",
        )

    def _init(self, first: Seen, protection: KeyProtection, recovery: bool) -> dict[str, Any]:
        vault = self.config.vault
        prefix = "recovery" if recovery else "secret"
        body = {
            f"{prefix}_shares": vault.key_shares,
            f"{prefix}_threshold": vault.key_threshold,
            **protection.init_params(recovery),
        }
        log.info("initialising Vault %s (%s shares)", first.node, prefix)
        answer = first.api.call("PUT", "sys/init", body)
        if not answer.ok:
            raise OperationFailed(
                f"Vault {first.node} refused sys/init: HTTP {answer.status} {answer.errors()}"
            )
        return answer.body

    @staticmethod
    def _unseal(seen: Seen, shares: list[str], path: str) -> str:
        for share in shares:
            answer = seen.api.call("PUT", "sys/unseal", {"key": share})
            if answer.status == 400:
                raise OperationFailed(
                    f"the unseal keys in {path} do not unseal Vault {seen.node}: {answer.errors()}"
                )
            if not answer.ok:
                # A node still joining refuses keys (HTTP 500, "invalid key size 0")
                # until the leader has answered its bootstrap challenge: try again soon.
                return f"Vault {seen.node} not ready to unseal yet (HTTP {answer.status})"
            if answer.body.get("sealed") is False:
                log.info("unsealed Vault %s", seen.node)
                return f"unsealed Vault {seen.node}"
        return f"Vault {seen.node} took {len(shares)} shares and is still sealed"

    @staticmethod
    def _join(seen: Seen, active: Seen, params: dict[str, Any]) -> str:
        """A new or replaced node joins the active one (retry_join may already be doing it)."""
        answer = seen.api.call(
            "PUT",
            "sys/storage/raft/join",
            {
                "leader_api_addr": f"https://{active.node.host}:{active.node.port}",
                "leader_ca_cert": params["vault_ca"],
            },
        )
        log.info("Vault %s joining %s: HTTP %s", seen.node, active.node, answer.status)
        return f"Vault {seen.node} joining {active.node}"

    @staticmethod
    def _voters(active: Seen, token: str) -> int | None:
        """How many Raft peers vote; None when the storage is not Raft."""
        answer = active.api.call("GET", "sys/storage/raft/configuration", token=token)
        if not answer.ok:
            return None
        servers = ((answer.body.get("data") or {}).get("config") or {}).get("servers") or []
        return sum(1 for server in servers if server.get("voter"))
