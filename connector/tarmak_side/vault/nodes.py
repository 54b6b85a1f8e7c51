"""A Vault node as the resource lists it (`host` or `host:port`)."""

from __future__ import annotations

from dataclasses import dataclass

from connector.tarmak_side.vault.errors import OperationFailed


@dataclass(frozen=True)
class Node:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str, default_port: int) -> Node:
        host, _, port = text.rpartition(":") if text.count(":") == 1 else (text, "", "")
        if port and not port.isdigit():
            raise OperationFailed(f"internal_fqdns entry {text!r} is not host or host:port")
        return cls(host, int(port)) if port else cls(text, default_port)

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"
