"""Bring a cluster to ready, one pass at a time (Terraform's apply only).

Initialise if, and only if, no keys are stored and every listed node answers
uninitialised, and only once the keys' place is reserved and their
protection shown to work; store the keys before anything else; join and
unseal every node; ready once every listed node is unsealed, one is active
and (with Raft) every node votes. A node that reports uninitialised while
keys are stored, or while another node is initialised, is a new or replaced
member: it is joined and unsealed, never initialised. It is joined only after
JOIN_GRACE_SECONDS: a node with `retry_join` joins by itself within seconds of
an active node appearing (it then reports sealed and takes the keys), and a
join sent while its own attempt runs can leave it unsealed but never a voter
(seen with OpenBao 2.7: the node never enters standby mode, so autopilot
never promotes it, and the cluster never becomes ready). A cluster whose nodes
report an auto-unseal (recovery) seal is initialised with recovery shares
and never sent sys/unseal.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from connector.protocol.contract import VaultClusterParams
from connector.tarmak_side.config import EnvironmentConfig
from connector.tarmak_side.vault.api import INIT_TIMEOUT
from connector.tarmak_side.vault.errors import NotReady, OperationFailed
from connector.tarmak_side.vault.health import Health
from connector.tarmak_side.vault.keys import ClusterKeys
from connector.tarmak_side.vault.keystore import KeyStore, Reservation, StoredKeys
from connector.tarmak_side.vault.protection import KeyProtection, protection_for
from connector.tarmak_side.vault.survey import Seen, Survey

log = logging.getLogger(__name__)
# How long a new node may stay uninitialised beside an active one before Tarmak
# joins it: five of `retry_join`'s 2 s attempts.
JOIN_GRACE_SECONDS = 10.0


class Converger:
    def __init__(
        self,
        config: EnvironmentConfig,
        store: KeyStore,
        clock: Callable[[], float] = time.monotonic,
        join_grace: float = JOIN_GRACE_SECONDS,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.join_grace = join_grace
        # cluster -> node -> when it was first seen uninitialised beside an active node
        # (each cluster's entry is used only under that cluster's lock).
        self._awaiting_join: dict[str, dict[str, float]] = {}
        # Called once a new cluster's keys are stored; tests make it stop the process.
        self.after_keys_stored: Callable[[], None] = lambda: None
        # sys/init answers whose protection failed: kept in memory only, retried each pass.
        self._unprotected: dict[str, tuple[dict[str, Any], KeyProtection, str | None]] = {}

    def step(
        self,
        found: Survey,
        keys: ClusterKeys | None,
        name: str,
        cluster: VaultClusterParams,
    ) -> None:
        """One pass; returns when the cluster is ready, raises NotReady otherwise.
        It initialises the cluster only if `cluster.create` says so."""
        detail = found.describe()
        if keys is None and name in self._unprotected:
            raise NotReady(f"{detail}; {self._store(name, *self._unprotected[name])}")
        if keys is None:
            raise NotReady(self._initialise(found, name, cluster, detail))
        active = found.active
        uninitialised = {str(s.node) for s in found.seen if s.health is Health.UNINITIALISED}
        awaiting = self._awaiting_join.setdefault(name, {})
        for node in set(awaiting) - uninitialised:
            del awaiting[node]  # it joined (or left the list): a fresh grace if it comes back
        acted: list[str] = []
        shares: list[str] | None = None
        for seen in found.seen:
            if seen.health is Health.SEALED and not keys.stored.recovery:
                shares = shares if shares is not None else keys.shares()
                acted.append(self._unseal(seen, shares, str(keys.path)))
            elif seen.health is Health.UNINITIALISED and active is not None:
                acted.append(self._join_when_due(awaiting, seen, active, cluster.vault_ca))
        if acted:
            raise NotReady(f"{detail}; {'; '.join(acted)}")
        if not all(s.unsealed for s in found.seen) or active is None:
            raise NotReady(detail)
        servers = self._raft_servers(active, keys.token())
        voting = sum(1 for server in servers if server.get("voter"))
        if servers and voting < len(found.seen):
            behind = [
                f"{server.get('node_id')} ({server.get('address')})"
                for server in servers
                if not server.get("voter")
            ]
            raise NotReady(
                f"{detail}; {voting} of {len(found.seen)} nodes vote in Raft yet (not yet: "
                f"{', '.join(behind) or 'nodes missing from the Raft configuration'}; "
                "autopilot promotes a joined node once it has been stable for a while)"
            )

    def _initialise(
        self, found: Survey, name: str, cluster: VaultClusterParams, detail: str
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
        if not cluster.create:
            return f"{detail}; waiting for tarmak_vault_cluster to initialise it"
        if len(found.answered) < len(found.seen):
            return f"{detail}; every node must answer before the cluster is initialised"
        kms_key_id = cluster.vault_kms_key_id or None
        protection = protection_for(self.config, kms_key_id, name)
        protection.check()
        protection.prepare(self.config.vault.key_shares + 1)  # the shares and the root token
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
        # The answer is the only copy of the keys: wait for it far longer than for any
        # other call (a slow Raft or auto-unseal init), rather than give up on it.
        answer = first.api.call("PUT", "sys/init", body, timeout=INIT_TIMEOUT)
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

    def _join_when_due(
        self, awaiting: dict[str, float], seen: Seen, active: Seen, vault_ca: str
    ) -> str:
        """Join `seen` once it has had JOIN_GRACE_SECONDS to join by itself; once
        per grace, so a join under way is never sent again on top of itself."""
        key = str(seen.node)
        now = self.clock()
        since = awaiting.setdefault(key, now)
        if now - since < self.join_grace:
            return (
                f"Vault {seen.node} not initialised: giving its own retry_join "
                f"{self.join_grace - (now - since):.0f}s more before joining it to {active.node}"
            )
        awaiting[key] = now
        return self._join(seen, active, vault_ca)

    @staticmethod
    def _join(seen: Seen, active: Seen, vault_ca: str) -> str:
        """A new or replaced node joins the active one (retry_join may already be doing it)."""
        answer = seen.api.call(
            "PUT",
            "sys/storage/raft/join",
            {
                "leader_api_addr": f"https://{active.node.host}:{active.node.port}",
                "leader_ca_cert": vault_ca,
            },
        )
        log.info("Vault %s joining %s: HTTP %s", seen.node, active.node, answer.status)
        return f"Vault {seen.node} joining {active.node}"

    @staticmethod
    def _raft_servers(active: Seen, token: str) -> list[dict[str, Any]]:
        """The Raft peers as the active node lists them; none when the storage is not Raft."""
        answer = active.api.call("GET", "sys/storage/raft/configuration", token=token)
        if not answer.ok:
            return []
        servers = ((answer.body.get("data") or {}).get("config") or {}).get("servers") or []
        return [server for server in servers if isinstance(server, dict)]
