"""What the provider block hands resources: its Vault token never shows in a repr."""

from __future__ import annotations

import pytest

from provider.framework import ConfigureRequest, ConfigureResponse
from provider.framework.diagnostics import Diagnostics
from provider.tarmak.provider import TarmakProvider
from provider.tarmak.settings import ProviderSettings, VaultSettings, vault_settings

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


def configured(config: dict[str, object]) -> ProviderSettings:
    resp = ConfigureResponse()
    TarmakProvider().configure(ConfigureRequest(config, "1.15.5"), resp)
    assert isinstance(resp.provider_data, ProviderSettings)
    return resp.provider_data


def test_a_token_read_from_a_file_loses_its_newline_as_vault_s_cli_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("VAULT_NAMESPACE", raising=False)
    settings = configured(
        {"vault_address": "https://vault.example:8200", "vault_token": TOKEN + "\n"}
    )
    assert settings.vault is not None and settings.vault.token == TOKEN


@pytest.mark.parametrize(
    ("name", "env", "value"),
    [
        ("vault_token", "VAULT_TOKEN", TOKEN + "\nX-Injected: 1"),
        ("vault_token", "VAULT_TOKEN", TOKEN + "\u00e9x"),
        ("vault_namespace", "VAULT_NAMESPACE", "team\r\nX: 1"),
    ],
)
def test_a_header_setting_http_cannot_carry_is_named_not_shown(
    monkeypatch: pytest.MonkeyPatch, name: str, env: str, value: str
) -> None:
    """Reported by the first resource that needs Vault, naming the setting; the
    value is never shown (http.client's own error would quote the token)."""
    monkeypatch.delenv("VAULT_NAMESPACE", raising=False)
    config = {"vault_address": "https://vault.example:8200", "vault_token": TOKEN, name: value}
    settings = configured(config)
    assert settings.vault is None
    assert name in settings.vault_problem and env in settings.vault_problem
    assert TOKEN not in settings.vault_problem and value not in settings.vault_problem
    diags = Diagnostics()
    assert vault_settings(settings, diags) is None
    assert TOKEN not in str(list(diags))
