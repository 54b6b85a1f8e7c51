"""Plans of the waiting resources: what replaces them, and a sealed cluster planned ready."""

from __future__ import annotations

from provider.framework import ModifyPlanRequest, ModifyPlanResponse
from provider.framework.planning import plan_change
from provider.resources.bastion_instance import BastionInstance
from provider.resources.vault_cluster import VaultCluster

BASTION = {
    "hostname": "10.0.0.1",
    "username": "centos",
    "instance_id": "i-1",
    "status": "ready",
    "id": "10.0.0.1",
    "timeouts": None,
}
CLUSTER = {
    "internal_fqdns": ["vault-1", "vault-2", "vault-3"],
    "vault_ca": "PEM",
    "vault_kms_key_id": None,
    "vault_unseal_key_name": None,
    "status": "ready",
    "id": "vault-1",
    "timeouts": None,
}


def _config(state: dict, *computed: str) -> dict:  # type: ignore[type-arg]
    return {k: (None if k in computed else v) for k, v in state.items()}


def test_a_new_bastion_instance_id_replaces_the_bastion() -> None:
    proposed = {**BASTION, "instance_id": "i-2"}
    plan = plan_change(BastionInstance.schema, BASTION, proposed, _config(proposed, "status", "id"))
    assert plan.requires_replace == ["instance_id"]


def test_kms_key_and_unseal_key_name_force_replacement() -> None:
    for name in ("vault_kms_key_id", "vault_unseal_key_name"):
        proposed = {**CLUSTER, name: "changed"}
        plan = plan_change(
            VaultCluster.schema, CLUSTER, proposed, _config(proposed, "status", "id")
        )
        assert plan.requires_replace == [name]


def test_a_cluster_refreshed_as_sealed_is_planned_back_to_ready() -> None:
    sealed = {**CLUSTER, "status": "sealed"}
    plan = plan_change(VaultCluster.schema, sealed, dict(sealed), _config(sealed, "status", "id"))
    assert plan.planned is not None and plan.planned["status"] == "sealed"
    resp = ModifyPlanResponse(plan.planned)
    VaultCluster().modify_plan(ModifyPlanRequest(plan.planned, sealed, None), resp)
    assert resp.plan is not None and resp.plan["status"] == "ready"


def test_a_ready_cluster_plans_no_change() -> None:
    plan = plan_change(
        VaultCluster.schema, CLUSTER, dict(CLUSTER), _config(CLUSTER, "status", "id")
    )
    resp = ModifyPlanResponse(plan.planned)
    VaultCluster().modify_plan(ModifyPlanRequest(plan.planned, CLUSTER, None), resp)
    assert resp.plan == CLUSTER
