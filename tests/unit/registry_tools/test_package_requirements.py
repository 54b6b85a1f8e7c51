"""The package ships only the provider's and the relay's dependencies: every import
in the shipped code must come from the standard library, our packages or one of
SHIPPED_DISTRIBUTIONS (the e2e tests then run the package built from that list)."""

from __future__ import annotations

import ast
import importlib.metadata
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from registry_tools.requirements import (
    ROOT,
    SHIPPED_DISTRIBUTIONS,
    SHIPPED_PACKAGES,
    package_requirements,
    shipped_sources,
)


def top_level_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_every_import_in_the_shipped_code_is_a_shipped_distribution() -> None:
    by_module = importlib.metadata.packages_distributions()
    shipped = {canonicalize_name(name) for name in SHIPPED_DISTRIBUTIONS}
    outside: dict[str, str] = {}
    for source in shipped_sources():
        for module in top_level_imports(ROOT / source):
            if module in sys.stdlib_module_names or module in SHIPPED_PACKAGES:
                continue
            distributions = {canonicalize_name(d) for d in by_module.get(module, [module])}
            if not distributions & shipped:
                outside[f"{source}: {module}"] = ", ".join(sorted(distributions))
    assert not outside, f"imports the package would not have: {outside}"


def test_the_tarmak_side_is_not_shipped_and_its_dependencies_stay_out() -> None:
    sources = {path.as_posix() for path in shipped_sources()}
    assert "provider/main.py" in sources and "connector/relay_cli.py" in sources
    assert not any(path.startswith("connector/tarmak_side/") for path in sources)
    names = {canonicalize_name(Requirement(text).name) for text in package_requirements()}
    assert names == {canonicalize_name(name) for name in SHIPPED_DISTRIBUTIONS}
    assert not names & {"paramiko", "pyyaml", "cryptography"}


def test_pins_are_pyproject_s() -> None:
    for text in package_requirements():
        assert Requirement(text).specifier, f"{text} keeps pyproject's version range"
