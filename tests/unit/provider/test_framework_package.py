"""`provider.framework` loads its names on first use: importing one light module
of it (as the server does at start) imports nothing else of the package."""

from __future__ import annotations

import textwrap

import pytest

import provider.framework as framework
from tests.unit.provider.test_rpc_table import in_a_fresh_interpreter


def test_every_name_has_a_home_and_is_what_that_module_defines() -> None:
    assert sorted(framework.__all__) == sorted(framework._HOMES)
    for name, home in framework._HOMES.items():
        module = __import__(f"provider.framework.{home}", fromlist=[name])
        assert getattr(framework, name) is getattr(module, name)
    assert set(framework.__all__) <= set(dir(framework))


def test_a_name_it_does_not_have_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = framework.no_such_name  # type: ignore[attr-defined]


def test_importing_a_light_module_imports_no_other() -> None:
    loaded = in_a_fresh_interpreter(
        textwrap.dedent(
            """
            import json, sys
            import provider.framework.handoff, provider.framework.diagnostics
            print(json.dumps(sorted(m for m in sys.modules if m.startswith("provider."))))
            """
        )
    )
    assert "provider.framework.resource" not in loaded
    assert "provider.framework.schema" not in loaded
    assert "provider.cty" not in loaded
