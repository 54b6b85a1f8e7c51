"""`dataclass` for the provider's packages (cty, framework, server, and the
Tarmak provider's tarmak and resources), with its methods compiled when the
package is built instead of at every start.

The standard library's `dataclasses.dataclass` writes each class's `__init__`,
`__repr__`, `__eq__`, `__hash__` (and, for frozen classes, `__setattr__` and
`__delattr__`) as source text and compiles it while the module imports.
Terraform starts the provider several times per run, and these packages
declare dozens of dataclasses, so `make` writes that same text once, into
modules of `provider/_generated/` (`provider/dataclass_codegen.py`, which
takes it from the standard library itself), where it is compiled to
bytecode with the rest of the package. The generic layers' methods and the
Tarmak provider's are two modules (`GENERATED`): a start loads only those of
the classes it makes, so one that serves the testing provider, or answers
only the schema, does not load the Tarmak provider's.

At import, `dataclass` looks its class up there. It uses the prebuilt methods
only when the class has exactly the shape they were written for (the same
fields, annotations, defaults and own methods, on the Python release that
wrote them) and otherwise hands the class to `dataclasses.dataclass`, so a
stale or missing file costs time, never correctness. Either way the class
ends up as the standard library would leave it, `__dataclass_fields__`
included (tests/unit/provider/test_prebuilt_dataclasses.py compares the two).
Only `frozen` is offered: the other options of `dataclasses.dataclass` are
not used by these layers, and adding one means teaching the generator it.
"""

from __future__ import annotations

import abc
import dataclasses
import importlib
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import MISSING, Field, FrozenInstanceError, field
from types import CodeType, FunctionType, MemberDescriptorType, ModuleType
from typing import Any, TypeVar, dataclass_transform, overload

# The standard library's private names these prebuilt methods stand in for; read
# as Any here, in one place, since typeshed does not declare them.
_STDLIB: Any = dataclasses

__all__ = ["dataclass", "field", "shape"]

T = TypeVar("T")
Shape = tuple[object, ...]
# What the generated module holds per class: the shape its methods were written
# for, the methods as (name, factory) (a factory's parameters name the values
# its method closes over, as in dataclasses._create_fn), the class docstring
# dataclasses would make (None when the class has its own) and __match_args__.
Entry = tuple[Shape, tuple[tuple[str, Callable[..., Any]], ...], str | None, tuple[str, ...]]

# The methods dataclasses adds only when the class does not define them itself.
_OWN_METHODS = ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__")
# Class attributes that dataclasses sets (named, as it names them).
_PARAMS, _FIELDS = "__dataclass_params__", "__dataclass_fields__"
# The generated module that holds the methods of each package's classes.
GENERATED = {
    "provider.cty": "dataclass_methods",
    "provider.framework": "dataclass_methods",
    "provider.server": "dataclass_methods",
    "provider.tarmak": "tarmak_dataclass_methods",
    "provider.resources": "tarmak_dataclass_methods",
}
_entries: dict[str, dict[str, Entry]] = {}  # by generated module, once loaded
# Every class this decorator made, by "module.qualname", and whether its methods
# were prebuilt: the generator's list of classes, and the tests' check.
MADE: dict[str, bool] = {}


@overload
def dataclass(cls: type[T], /) -> type[T]: ...
@overload
def dataclass(*, frozen: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(field_specifiers=(field, Field))
def dataclass(
    cls: type[T] | None = None, /, *, frozen: bool = False
) -> type[T] | Callable[[type[T]], type[T]]:
    """`dataclasses.dataclass(cls, frozen=frozen)`, with prebuilt methods when they fit."""

    def wrap(cls: type[T]) -> type[T]:
        name = f"{cls.__module__}.{cls.__qualname__}"
        # TARMAK_PREBUILT_DATACLASSES=0 leaves every class to dataclasses.dataclass
        # (the generator sets it, to see what the standard library makes).
        enabled = os.environ.get("TARMAK_PREBUILT_DATACLASSES") != "0"
        entry = _load(generated_module(cls.__module__)).get(name) if enabled else None
        prebuilt = entry is not None and entry[0] == shape(cls, frozen)
        MADE[name] = prebuilt
        if entry is not None and prebuilt:
            _install(cls, frozen, entry)
            return cls
        return dataclasses.dataclass(cls, frozen=frozen)

    return wrap if cls is None else wrap(cls)


def shape(cls: type, frozen: bool) -> Shape:
    """Everything about `cls` that the text of its dataclass methods (and its
    generated docstring) depends on, as the generator saw it and as it is now."""
    own = cls.__dict__
    fields: list[tuple[object, ...]] = []
    for name, annotation in own.get("__annotations__", {}).items():
        value = _class_default(cls, name)
        if isinstance(value, Field):
            fields.append((name, annotation, "field", *_field_shape(value)))
        else:
            fields.append((name, annotation, _default_text(value)))
    return (
        sys.version_info[:2],
        frozen,
        tuple(fields),
        tuple(n for n in _OWN_METHODS if n in own),
        own.get("__hash__", MISSING) is None,
        "__match_args__" in own,
        hasattr(cls, "__post_init__"),
        bool(own.get("__doc__")),
        tuple(n for n, v in own.items() if isinstance(v, Field)),
        tuple(
            (f.name, f.type, *_field_shape(f), params.frozen)
            for params, base_fields in _dataclass_bases(cls)
            for f in base_fields.values()
        ),
    )


def _dataclass_bases(cls: type) -> Iterator[tuple[Any, dict[str, Field[Any]]]]:
    """The params and fields of each dataclass `cls` derives from, the farthest first."""
    for base in cls.__mro__[-1:0:-1]:
        base_fields = getattr(base, _FIELDS, None)
        if base_fields is not None:
            yield getattr(base, _PARAMS), base_fields


def _field_shape(made: Field[Any]) -> tuple[object, ...]:
    return (
        _default_text(made.default),
        made.default_factory is not MISSING,
        made.init,
        made.repr,
        made.hash,
        made.compare,
        None if made.kw_only is MISSING else made.kw_only,
    )


def _class_default(cls: type, name: str) -> Any:
    """A field's default as dataclasses finds it: the class attribute, inherited
    or not, unless it is a __slots__ member."""
    value = getattr(cls, name, MISSING)
    return MISSING if isinstance(value, MemberDescriptorType) else value


def _default_text(value: object) -> str | None:
    return None if value is MISSING else repr(value)


def generated_module(module: str) -> str | None:
    """Which module of provider/_generated holds the methods of `module`'s classes."""
    package = next((p for p in GENERATED if module == p or module.startswith(f"{p}.")), None)
    return None if package is None else GENERATED[package]


def _load(generated: str | None) -> dict[str, Entry]:
    if generated is None:
        return {}
    entries = _entries.get(generated)
    if entries is None:
        try:
            entries = _usable(importlib.import_module(f"provider._generated.{generated}"))
        except ImportError:  # not generated (yet): `make` writes it
            entries = {}
        _entries[generated] = entries
    return entries


def _usable(module: ModuleType) -> dict[str, Entry]:
    classes: dict[str, Entry] = module.CLASSES
    return classes if sys.version_info[:2] == module.PYTHON else {}


def _install(cls: type, frozen: bool, entry: Entry) -> None:
    """Do to `cls` what dataclasses._process_class does (Python 3.11), with the
    method factories of `entry` instead of compiling their text here. The shape
    check has already established that every step below applies to `cls`."""
    _shape, methods, doc, match_args = entry
    own = cls.__dict__
    module = sys.modules.get(cls.__module__)
    namespace = module.__dict__ if module is not None else {}
    params = _STDLIB._DataclassParams
    _set(cls, _PARAMS, params(True, True, True, False, False, frozen))
    fields: dict[str, Field[Any]] = {}
    for _params, base_fields in _dataclass_bases(cls):
        fields.update(base_fields)
    for name, annotation in own.get("__annotations__", {}).items():
        value = _class_default(cls, name)
        made: Field[Any] = value if isinstance(value, Field) else field(default=value)
        made.name = name
        made.type = annotation
        setattr(made, "_field_type", _STDLIB._FIELD)  # noqa: B010  # private, undeclared
        if made.kw_only is MISSING:
            made.kw_only = False
        if made.default is not MISSING and made.default.__class__.__hash__ is None:
            raise ValueError(
                f"mutable default {type(made.default)} for field {name} is not allowed: "
                "use default_factory"
            )
        if isinstance(value, Field):
            if made.default is MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, made.default)
        fields[name] = made
    _set(cls, _FIELDS, fields)
    explicit_hash = own.get("__hash__", MISSING)
    has_explicit_hash = not (
        explicit_hash is MISSING or (explicit_hash is None and "__eq__" in own)
    )
    for name, factory in methods:
        made_method = _method(cls, factory, fields, namespace)
        if name == "__repr__":
            made_method = _STDLIB._recursive_repr(made_method)
        if name == "__hash__" or name not in own:
            made_method.__qualname__ = f"{cls.__qualname__}.{made_method.__name__}"
            setattr(cls, name, made_method)
    if not frozen and not has_explicit_hash:
        cls.__hash__ = None  # type: ignore[assignment]
    if doc is not None:
        cls.__doc__ = doc
    if "__match_args__" not in own:
        _set(cls, "__match_args__", match_args)
    abc.update_abstractmethods(cls)


def _set(cls: type, name: str, value: object) -> None:
    """setattr, for the attributes the type checker does not know a class has."""
    setattr(cls, name, value)


def _method(
    cls: type,
    factory: Callable[..., Any],
    fields: dict[str, Field[Any]],
    namespace: dict[str, Any],
) -> Any:
    """Call a method factory with the values its parameters name, the method
    getting the class's module as its globals, as dataclasses gives it."""
    code: CodeType = factory.__code__
    values = [_closed_over(name, cls, fields) for name in code.co_varnames[: code.co_argcount]]
    return FunctionType(code, namespace)(*values)


def _closed_over(name: str, cls: type, fields: dict[str, Field[Any]]) -> object:
    """The value dataclasses binds to the name `name` in a method it makes."""
    if name.startswith("_type_"):
        return fields[name[6:]].type
    if name.startswith("_dflt_"):
        made = fields[name[6:]]
        return made.default_factory if made.default_factory is not MISSING else made.default
    if name == "cls":
        return cls
    return _CONSTANTS[name]


_CONSTANTS: dict[str, object] = {
    "MISSING": MISSING,
    "_HAS_DEFAULT_FACTORY": _STDLIB._HAS_DEFAULT_FACTORY,
    "__dataclass_builtins_object__": object,
    "_return_type": None,
    "FrozenInstanceError": FrozenInstanceError,
}
