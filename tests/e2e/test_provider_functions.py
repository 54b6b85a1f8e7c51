"""Provider functions answer whether or not the provider is configured.

Terraform calls a provider function on a provider it has configured, but
OpenTofu also calls them on an unconfigured instance (while validating, and
for functions used in provider configuration itself), before any
GetProviderSchema or ConfigureProvider. The real provider process is driven
at the gRPC level, as go-plugin starts it, over both protocols.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest

from provider.cty import STRING, msgpack_codec
from provider.functions.parse_hostname import ParseHostname
from provider.tarmak.provider import TarmakProvider
from tests.fuzz.plugin import RunningPlugin, start_plugin

pytestmark = pytest.mark.e2e

PARTS = {"application": "web", "role": "frontend", "environment": "prod", "number": 7}


@pytest.fixture(params=[5, 6], ids=["proto5", "proto6"])
def plugin(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningPlugin]:
    running = start_plugin(request.param, tmp_path / "plugin")
    yield running
    running.stop()


def call(plugin: RunningPlugin, hostname: str) -> Any:
    request = plugin.pb.CallFunction.Request(name="parse_hostname")
    request.arguments.add(msgpack=msgpack_codec.encode(hostname, STRING))
    return plugin.stub.CallFunction(request, timeout=10)


def result(response: Any) -> Any:
    assert not response.HasField("error"), response.error.text
    return msgpack_codec.decode(response.result.msgpack, ParseHostname.returns)


def configure(plugin: RunningPlugin) -> None:
    message = plugin.pb.ConfigureProvider if plugin.protocol == 6 else plugin.pb.Configure
    rpc = plugin.stub.ConfigureProvider if plugin.protocol == 6 else plugin.stub.Configure
    request = message.Request(terraform_version="1.11.0")
    request.config.msgpack = msgpack.packb(
        {name: None for name in TarmakProvider.schema.block.attributes}
    )
    assert not rpc(request, timeout=10).diagnostics


def test_function_before_anything_else_then_after_configure(plugin: RunningPlugin) -> None:
    """The first RPC is the call: no schema fetched, nothing configured."""
    assert result(call(plugin, "web-frontend-prod-vm7")) == PARTS
    configure(plugin)
    assert result(call(plugin, "web-frontend-prod-vm7")) == PARTS
    assert "Traceback" not in plugin.stderr()


def test_function_after_get_functions_without_configure(plugin: RunningPlugin) -> None:
    functions = plugin.stub.GetFunctions(plugin.pb.GetFunctions.Request(), timeout=10)
    assert "parse_hostname" in functions.functions
    assert result(call(plugin, "db-main-dev-vm12"))["number"] == 12


def test_function_error_unconfigured_names_the_argument(plugin: RunningPlugin) -> None:
    response = call(plugin, "not-a-tarmak-name")
    assert response.HasField("error")
    assert "cannot be split" in response.error.text
    assert response.error.function_argument == 0
    configure(plugin)
    again = call(plugin, "not-a-tarmak-name")
    assert again.error.text == response.error.text
