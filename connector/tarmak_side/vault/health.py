"""What a node's sys/health status code says about it."""

from __future__ import annotations

import enum


class Health(enum.Enum):
    ACTIVE = 200
    STANDBY = 429
    DR_SECONDARY = 472
    PERFORMANCE_STANDBY = 473
    UNINITIALISED = 501
    SEALED = 503

    @property
    def unsealed(self) -> bool:
        return self in (Health.ACTIVE, Health.STANDBY, Health.PERFORMANCE_STANDBY)

    @property
    def meaning(self) -> str:
        return self.name.lower().replace("_", " ").replace("uninitialised", "not initialised")

    @classmethod
    def of(cls, status: int | None) -> Health | None:
        """The health a status code means; None for no answer or a code Vault never sends."""
        try:
            return cls(status)
        except ValueError:
            return None


def describe(status: int | None) -> str:
    if status is None:
        return "not answering"
    health = Health.of(status)
    return health.meaning if health else f"HTTP {status}"
