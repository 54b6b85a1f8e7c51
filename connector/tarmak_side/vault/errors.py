"""The two ways a Vault operation can fail, decided where the error is met.

`NotReady` is worth retrying (a node not answering, still joining, a leader
being elected): the waiting loop tries again until its deadline and then
answers "not-ready" with the reason. `OperationFailed` is final: the
provider stops waiting and shows the message, which names what failed;
`ProtectionFailed` is the final failure of a key protection (protection.py).
"""

from __future__ import annotations

from connector.tarmak_side.server import OperationFailed


class NotReady(Exception):
    """Not yet; the message says what is awaited."""


class ProtectionFailed(OperationFailed):
    """A secret could not be protected or revealed (protection.py); nothing stored
    was changed."""


__all__ = ["NotReady", "OperationFailed", "ProtectionFailed"]
