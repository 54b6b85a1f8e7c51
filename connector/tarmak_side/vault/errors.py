"""The two ways a Vault operation can fail, decided where the error is met.

`NotReady` is worth retrying (a node not answering, still joining, a leader
being elected): the waiting loop tries again until its deadline and then
answers "not-ready" with the reason. `OperationFailed` is final: the
provider stops waiting and shows the message, which names what failed.
"""

from __future__ import annotations

from connector.tarmak_side.server import OperationFailed


class NotReady(Exception):
    """Not yet; the message says what is awaited."""


__all__ = ["NotReady", "OperationFailed"]
