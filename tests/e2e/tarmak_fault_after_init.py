"""`tarmak-controller` that dies right after a new cluster's keys are stored,
as if killed there (proves the next run finds and uses them). Run it in place
of `python -m connector.tarmak_side.cli`, with the same arguments; the shipped
code has no such switch."""

from __future__ import annotations

import os

from connector.tarmak_side import cli
from connector.tarmak_side.config import EnvironmentConfig
from connector.tarmak_side.services import TarmakServices

EXIT_CODE = 70


class DyingAfterInit(TarmakServices):
    def __init__(self, config: EnvironmentConfig) -> None:
        super().__init__(config)
        self.vault.converger.after_keys_stored = lambda: os._exit(EXIT_CODE)


if __name__ == "__main__":
    cli.TarmakServices = DyingAfterInit  # type: ignore[attr-defined]
    cli.main()
