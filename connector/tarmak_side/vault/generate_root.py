"""A root token made from the stored shares (generate-root with a one-time
pad), for the operator or for a step that needs root once: Tarmak keeps no
standing root token. OpenBao serves only the authenticated
`sys/generate-root-token/*` by default, so Tarmak's own token (whose policy
names these paths) opens the attempt and the stored shares complete it."""

from __future__ import annotations

import base64
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from connector.tarmak_side.vault.api import VaultApi
from connector.tarmak_side.vault.errors import NotReady, OperationFailed
from connector.tarmak_side.vault.keys import ClusterKeys

log = logging.getLogger(__name__)
ATTEMPT = "sys/generate-root-token/attempt"


class SharesRefused(OperationFailed):
    """The shares are not the cluster's (Vault aborted the attempt)."""


def generate_root(api: VaultApi, keys: ClusterKeys) -> str:
    """A new root token, with `api` carrying Tarmak's token. An attempt already under
    way is cancelled first: only Tarmak's token may open one, so it is one a stopped
    run of Tarmak left."""
    if api.call("GET", ATTEMPT).require("reading generate-root").data.get("started"):
        api.call("DELETE", ATTEMPT).require("cancelling generate-root")
    started = api.call("PUT", ATTEMPT, {}).require("starting generate-root").data
    nonce, otp = str(started.get("nonce")), str(started.get("otp"))
    done: dict[str, Any] = {}
    for share in keys.shares():
        answer = api.call("PUT", "sys/generate-root-token/update", {"key": share, "nonce": nonce})
        if "invalid key" in answer.errors():
            api.call("DELETE", ATTEMPT)
            raise SharesRefused(
                f"Vault {api.node} refused the shares in {keys.path}: they are not its keys"
            )
        done = answer.require("generate-root with the stored shares").data
        if done.get("complete"):
            break
    encoded = str(done.get("encoded_token") or done.get("encoded_root_token") or "")
    if not done.get("complete") or not encoded:
        api.call("DELETE", ATTEMPT)
        raise OperationFailed(
            f"Vault {api.node} did not complete generate-root with the shares in {keys.path}"
        )
    raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
    return bytes(a ^ b for a, b in zip(raw, otp.encode(), strict=True)).decode()


@contextlib.contextmanager
def revoked_unless_kept(api: VaultApi, token: str, what: str) -> Iterator[None]:
    """Revoke `token` when protecting it, for storing, fails: a root token (or a
    Tarmak token) made and then neither stored nor revoked would stay valid with no
    one holding it, and a run again would make another. Only around the protection,
    never around the write: a write that raises may have stored the token already."""
    try:
        yield
    except BaseException:
        try:
            revoked = api.call("POST", "auth/token/revoke-self", {}, token=token)
        except (OperationFailed, NotReady):  # the step's own error is the one to report
            revoked = None
        if revoked is None or not revoked.ok:
            log.warning("could not revoke the %s made by a step that failed: revoke it", what)
        raise
