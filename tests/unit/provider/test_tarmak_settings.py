"""What the provider block hands resources: its Vault token never shows in a repr."""

from __future__ import annotations

from provider.tarmak.settings import ProviderSettings, VaultSettings

TOKEN = "s.token-that-must-not-show"


def test_the_vault_token_is_left_out_of_every_repr() -> None:
    vault = VaultSettings("https://vault.example:8200", TOKEN, namespace="team")
    settings = ProviderSettings(vault, "", "/run/tarmak.sock")
    for shown in (repr(vault), repr(settings), str(settings)):
        assert TOKEN not in shown
        assert "https://vault.example:8200" in shown


def test_settings_that_differ_only_in_their_token_stay_different() -> None:
    """The Vault clients are kept per settings (vault_nodes.nodes_for): another
    token must get clients of its own."""
    first = VaultSettings("https://vault.example:8200", TOKEN)
    second = VaultSettings("https://vault.example:8200", "s.another")
    assert first != second
    assert first == VaultSettings("https://vault.example:8200", TOKEN)
    assert hash(first) == hash(VaultSettings("https://vault.example:8200", TOKEN))
