"""What the Tarmak side holds of Vault's secrets (stored keys, Vault's answers)
never shows in a repr: a log line or an error that shows the object must not
show the secret."""

from __future__ import annotations

from connector.tarmak_side.vault.api import Answer
from connector.tarmak_side.vault.keystore import StoredKeys
from connector.tarmak_side.vault.nodes import Node


def test_what_is_stored_never_shows_its_shares_or_tokens_in_a_repr() -> None:
    stored = StoredKeys(
        "file",
        ("share-secret-1", "share-secret-2"),
        2,
        "root-secret",
        tarmak_token="tarmak-secret",
        pending={"shares": ["new-share-secret"], "retired_token": "retired-secret"},
    )
    shown = repr(stored)
    assert "file" in shown and "threshold=2" in shown
    for secret in ("share-secret", "root-secret", "tarmak-secret", "new-share", "retired-secret"):
        assert secret not in shown


def test_a_vault_answer_never_shows_its_body_in_a_repr() -> None:
    """sys/init's answer carries the unseal keys and the root token."""
    body = {"keys_base64": ["key-secret"], "root_token": "root-secret"}
    answer = Answer(Node("vault-1", 8200), 200, body, '{"root_token": "root-secret"}')
    shown = repr(answer)
    assert "vault-1" in shown and "200" in shown
    assert "key-secret" not in shown and "root-secret" not in shown
