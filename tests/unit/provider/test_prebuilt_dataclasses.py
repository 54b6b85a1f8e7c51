"""The dataclass methods `make` writes ahead of time (provider/prebuilt_dataclasses.py)
are current, used for every class of the provider's packages, and leave each class
as the standard library's dataclasses would."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from provider import dataclass_codegen, prebuilt_dataclasses

ROOT = Path(__file__).resolve().parents[3]


def run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        check=False,
    )


def import_provider_packages() -> None:
    for name in dataclass_codegen.PACKAGES:
        package = importlib.import_module(name)
        for info in pkgutil.walk_packages(package.__path__, f"{name}."):
            importlib.import_module(info.name)


def describe_classes() -> dict[str, Any]:
    """What a reader of each class of the provider's packages can see of its dataclass-ness."""
    import_provider_packages()
    described = {}
    for name in sorted(prebuilt_dataclasses.MADE):
        module_name, _, qualname = name.rpartition(".")
        while module_name not in sys.modules:  # a nested class
            module_name, _, outer = module_name.rpartition(".")
            qualname = f"{outer}.{qualname}"
        cls: Any = sys.modules[module_name]
        for part in qualname.split("."):
            cls = getattr(cls, part)
        methods = {}
        for method in dataclass_codegen.METHODS:
            value = cls.__dict__.get(method, "absent")
            if callable(value):
                inner = getattr(value, "__wrapped__", value)
                value = [
                    value.__qualname__,
                    value.__module__,
                    inner.__qualname__,
                    inner.__code__.co_varnames,
                    repr(inner.__defaults__),
                    repr(inner.__annotations__),
                ]
            methods[method] = value if isinstance(value, list) else repr(value)
        described[name] = {
            "signature": str(inspect.signature(cls)),
            "doc": cls.__doc__,
            "match_args": list(cls.__match_args__),
            "params": repr(cls.__dataclass_params__),
            "fields": [repr(f) for f in dataclasses.fields(cls)],
            "methods": methods,
            "attributes": sorted(
                (k, repr(v)) for k, v in cls.__dict__.items() if not callable(v) and k != "__dict__"
            ),
        }
    # Addresses differ from process to process.
    return json.loads(re.sub(r" at 0x[0-9a-f]+", " at 0x", json.dumps(described, default=repr)))


def test_generated_methods_are_current() -> None:
    done = run(
        "import sys; from provider.dataclass_codegen import main; sys.exit(main(['--check']))"
    )
    assert done.returncode == 0, f"run `make`: {done.stderr}"
    assert "not prebuilt" not in done.stderr, done.stderr


def test_every_class_of_the_provider_packages_is_prebuilt() -> None:
    import_provider_packages()
    assert prebuilt_dataclasses.MADE
    left = [name for name, prebuilt in prebuilt_dataclasses.MADE.items() if not prebuilt]
    assert not left, "run `make`; the generator says why a class is left out"


def test_every_dataclass_of_the_provider_packages_is_declared_with_the_prebuilt_decorator() -> None:
    """A dataclass declared with `dataclasses.dataclass` itself is compiled at every
    start; the generator cannot see it."""
    import_provider_packages()
    declared = [
        f"{module.__name__}.{value.__qualname__}"
        for name, module in list(sys.modules.items())
        if name.startswith(tuple(f"{package}." for package in dataclass_codegen.PACKAGES))
        for value in vars(module).values()
        if inspect.isclass(value)
        and value.__module__ == module.__name__
        and dataclasses.is_dataclass(value)
    ]
    assert "provider.tarmak.settings.ProviderSettings" in declared
    assert [name for name in declared if name not in prebuilt_dataclasses.MADE] == []


def test_a_start_loads_only_the_generated_methods_of_the_classes_it_makes() -> None:
    """The generic layers' classes do not load the Tarmak provider's methods
    (a start serving the testing provider, or only the schema, makes none)."""
    code = (
        "import sys\n"
        "from provider import prebuilt_dataclasses\n"
        "import provider.server.backend, provider.framework.schema, provider.cty\n"
        "tarmak = 'provider._generated.tarmak_dataclass_methods'\n"
        "print(tarmak in sys.modules)\n"
        "import provider.tarmak.settings\n"
        "print(tarmak in sys.modules)\n"
        "print(prebuilt_dataclasses.MADE['provider.tarmak.settings.ProviderSettings'])\n"
    )
    done = run(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True", "True"]


def test_prebuilt_classes_are_what_dataclasses_makes() -> None:
    code = (
        "import json, sys\n"
        "from tests.unit.provider.test_prebuilt_dataclasses import describe_classes\n"
        "json.dump(describe_classes(), sys.stdout)\n"
    )
    standard = run(code, TARMAK_PREBUILT_DATACLASSES="0")
    prebuilt = run(code)
    assert standard.returncode == 0 and prebuilt.returncode == 0, standard.stderr + prebuilt.stderr
    expected, got = json.loads(standard.stdout), json.loads(prebuilt.stdout)
    assert got.keys() == expected.keys()
    for name in expected:
        assert got[name] == expected[name], name


@pytest.mark.parametrize("frozen", [False, True])
def test_a_class_the_file_does_not_know_is_left_to_dataclasses(frozen: bool) -> None:
    @prebuilt_dataclasses.dataclass(frozen=frozen)
    class Unknown:
        """Not in the generated file."""

        value: int
        items: list[int] = prebuilt_dataclasses.field(default_factory=list)

    made = Unknown(1)
    assert made == Unknown(1, [])
    assert repr(made).endswith(".Unknown(value=1, items=[])")
    assert [f.name for f in dataclasses.fields(Unknown)] == ["value", "items"]
    assert prebuilt_dataclasses.MADE[f"{__name__}.{Unknown.__qualname__}"] is False
    if frozen:
        with pytest.raises(dataclasses.FrozenInstanceError):
            made.value = 2  # type: ignore[misc]


def test_a_changed_class_is_left_to_dataclasses() -> None:
    """A class whose shape differs from the one its methods were written for (an
    edit since the last `make`) gets the standard library's methods."""
    import provider.framework.path

    name = "provider.framework.path.Path"
    assert prebuilt_dataclasses.MADE[name] is True
    namespace: dict[str, Any] = {
        "__module__": "provider.framework.path",
        "__qualname__": "Path",
        "__annotations__": {"steps": "tuple[Step, ...]", "more": "int"},
        "steps": (),
        "more": 0,
    }
    try:
        changed: Any = prebuilt_dataclasses.dataclass(frozen=True)(type("Path", (), namespace))
        assert prebuilt_dataclasses.MADE[name] is False
        assert repr(changed()) == "Path(steps=(), more=0)"
        assert changed.__init__.__code__.co_filename == "<string>"  # compiled just now
    finally:
        prebuilt_dataclasses.MADE[name] = True
    assert provider.framework.path.Path.__init__.__code__.co_filename != "<string>"
