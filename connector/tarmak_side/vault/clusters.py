"""The Tarmak side's Vault handlers: what plan/refresh observe and what apply
converges, for `tarmak_vault_cluster` and `tarmak_vault_instance_role`.

Observing (plan, refresh) reads sys/health of every node and, for an
instance role, only reads: nothing is unsealed, written or renewed.
Converging (apply) is converge.py's pass, repeated by retry.py's loop.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from connector.protocol.contract import (
    ClusterObservation,
    InstanceRoleParams,
    PollResult,
    Status,
    VaultClusterParams,
)
from connector.tarmak_side.config import ConfigError, EnvironmentConfig
from connector.tarmak_side.server import Call
from connector.tarmak_side.vault.api import VaultApi
from connector.tarmak_side.vault.converge import Converger
from connector.tarmak_side.vault.errors import NotReady, OperationFailed
from connector.tarmak_side.vault.health import Health, describe
from connector.tarmak_side.vault.keys import ClusterKeys
from connector.tarmak_side.vault.keystore import KeyStore
from connector.tarmak_side.vault.links import Links
from connector.tarmak_side.vault.protection import protection_for
from connector.tarmak_side.vault.retry import ClusterLocks, until_ready
from connector.tarmak_side.vault.roles import InstanceRoles
from connector.tarmak_side.vault.survey import Survey, ca_file, listed_nodes, survey
from connector.tarmak_side.vault.tokens import TarmakToken

log = logging.getLogger(__name__)


class VaultClusters:
    def __init__(self, config: EnvironmentConfig, links: Links) -> None:
        self.config = config
        self.links = links
        # A state directory configured as a symlink (follow_state_dir_symlink) is
        # checked where it leads; the store itself never follows one.
        followed = config.state_dir.resolve() if config.follow_state_dir_symlink else None
        self.store = KeyStore(followed or config.state_dir)
        self.roles = InstanceRoles(config)
        self.converger = Converger(config, self.store)
        self.locks = ClusterLocks(config.state_dir, follow_symlink=config.follow_state_dir_symlink)
        self.tokens = TarmakToken(config, self.store)

    # ---- shared --------------------------------------------------------------------

    def keys_name(self, vault_unseal_key_name: str | None) -> str:
        name = vault_unseal_key_name or f"{self.config.environment}-vault"
        if "/" in name or name.startswith("."):
            raise OperationFailed(f"vault_unseal_key_name {name!r} cannot name a keys file")
        return name

    def keys(self, name: str) -> ClusterKeys | None:
        stored = self.store.load(name)
        if stored is None:
            return None
        protection = protection_for(self.config, stored.kms_key_id, name, stored.protection)
        return ClusterKeys(stored, protection, self.store.path(name))

    def ca_file(self, vault_ca: str) -> str:
        return ca_file(
            self.config.state_dir, vault_ca, follow_symlink=self.config.follow_state_dir_symlink
        )

    def survey(
        self, internal_fqdns: Sequence[str], vault_ca: str
    ) -> contextlib.AbstractContextManager[Survey]:
        nodes = listed_nodes(internal_fqdns, self.config.vault.port)
        return survey(self.links, nodes, self.ca_file(vault_ca), None)

    # ---- observing (plan, refresh) -----------------------------------------------------

    def init_status(self, call: Call) -> dict[str, Any]:
        """What the cluster looks like, from sys/health alone: no side effects."""
        params = VaultClusterParams.from_params(call.params)
        keys_stored = self.store.load(self.keys_name(params.vault_unseal_key_name)) is not None
        with self.survey(params.internal_fqdns, params.vault_ca) as found:
            return _observation(found, keys_stored).to_result()

    # ---- converging (apply) ----------------------------------------------------------

    def cluster_status(self, call: Call) -> dict[str, Any]:
        """Converge until ready: initialise once if needed, join and unseal every node,
        then set up every instance role the environment config names."""
        params = VaultClusterParams.from_params(call.params)
        name = self.keys_name(params.vault_unseal_key_name)

        def attempt() -> PollResult:
            with self._ready(params, name) as (api, seen):
                self.roles.set_up_all(api)
            return PollResult(Status.READY, seen)

        return until_ready(call, self.locks, name, attempt).to_result()

    @contextlib.contextmanager
    def _ready(self, cluster: VaultClusterParams, name: str) -> Iterator[tuple[VaultApi, str]]:
        """One converge pass (apply; it initialises only if `cluster.create`): when
        ready, Tarmak's own token settled (tokens.py) and the active node with it, and
        what was seen (the tunnels close on leaving); NotReady otherwise."""
        keys = self.keys(name)
        with self.survey(cluster.internal_fqdns, cluster.vault_ca) as found:
            self.converger.step(found, keys, name, cluster)
            assert keys is not None and found.active is not None  # step saw them
            keys = self.tokens.settle(found.active.api, keys, name)
            yield found.active.api.with_token(keys.token()), found.describe()

    def instance_role(self, call: Call) -> dict[str, Any]:
        params = InstanceRoleParams.from_params(call.params)
        cluster, role = params.vault_cluster_name, params.role_name
        try:
            settings = self.config.role(cluster, role)
        except ConfigError as err:
            raise OperationFailed(str(err)) from None
        name = self.keys_name(params.vault_unseal_key_name)
        if not params.create:
            return self._observe_role(params, name).to_result()

        def attempt() -> PollResult:
            with self._ready(params.cluster(), name) as (api, _):
                token = self.roles.ensure(api, cluster, role, settings)
            return PollResult(Status.READY, init_token=token)

        return until_ready(call, self.locks, name, attempt).to_result()

    def _observe_role(self, params: InstanceRoleParams, name: str) -> PollResult:
        """Is the role's init token still there and valid? Reads only."""
        cluster, role = params.vault_cluster_name, params.role_name
        keys = self.keys(name)
        if keys is None:
            return PollResult(Status.NOT_READY, f"no keys in {self.store.path(name)}")
        try:
            with self.survey(params.internal_fqdns, params.vault_ca) as found:
                active = found.active
                if active is None:
                    return PollResult(Status.NOT_READY, found.describe())
                api = active.api.with_token(keys.token())
                token = self.roles.stored_token(api, cluster, role)
                if token is None:
                    return PollResult(Status.GONE, f"no init token for {cluster}/{role}")
                if not self.roles.token_valid(api, token):
                    return PollResult(
                        Status.GONE, f"the init token of {cluster}/{role} is revoked or expired"
                    )
                return PollResult(Status.READY, init_token=token)
        except NotReady as err:
            return PollResult(Status.NOT_READY, str(err))


def _observation(found: Survey, keys_stored: bool) -> ClusterObservation:
    answered = found.answered
    return ClusterObservation(
        reachable=bool(answered),
        initialized=keys_stored or any(s.health is not Health.UNINITIALISED for s in answered),
        ready=len(answered) == len(found.seen)
        and all(s.unsealed for s in found.seen)
        and found.active is not None,
        detail=found.describe(),
        keys_stored=keys_stored,
        sealed=any(not s.unsealed for s in found.seen),
        nodes={str(s.node): describe(s.status) for s in found.seen},
    )
