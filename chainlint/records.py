"""Frozen records that are cheap to define and cheap to make.

What flows through a check (a RevisionFile and its parts, operations, findings, settings) is a
frozen, slotted dataclass. Before Python 3.13, `@dataclass(frozen=True, slots=True)` compiles
each of the six methods it writes separately, about 1.3 ms a class: a check run defines some
60 of them. `record` defines the same class (fields, slots, `__init__` signature, equality,
hash, repr, immutability, pickling, `dataclasses.fields`/`replace`) compiling only its
`__init__`; the other methods are written once, below, for every record.

That `__init__` stores each field through its slot directly. A frozen dataclass's goes
through `object.__setattr__` (its own `__setattr__` refuses), about twice the cost: reading
10,000 files makes some 170,000 records.
"""

from __future__ import annotations

import dataclasses
import inspect
import reprlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**kwargs: Any) -> Callable[[Any], Any]:
        """Tells type checkers that `record` makes dataclasses (nothing to do at run time)."""
        return lambda decorator: decorator


T = TypeVar("T")

# The methods `record` gives a class: a class body defining one of them is refused.
_OWN_METHODS = (
    "__init__",
    "__repr__",
    "__eq__",
    "__hash__",
    "__setattr__",
    "__delattr__",
    "__getstate__",
    "__setstate__",
)
# Each record's field names, in order.
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


@dataclass_transform(frozen_default=True)
def record(cls: type[T]) -> type[T]:
    """`@dataclass(frozen=True, slots=True)`, for a class whose fields each have a plain
    default or none (no `field()`, no `__post_init__`)."""
    for name in _OWN_METHODS:
        if name in cls.__dict__:
            raise TypeError(f"{cls.__name__}: a record defines its own {name}")
    if not cls.__doc__:  # else dataclasses computes one with inspect.signature, ~0.25 ms
        cls.__doc__ = f"{cls.__name__}({', '.join(inspect.get_annotations(cls))})"
    # The fields, __match_args__ and the slots; no generated method.
    made = dataclasses.dataclass(cls, init=False, repr=False, eq=False, slots=True)
    fields = dataclasses.fields(made)  # type: ignore[arg-type]
    if hasattr(made, "__post_init__") or not _plain(fields):
        raise TypeError(f"{cls.__name__}: a record's fields take a plain default or none")
    _FIELD_NAMES[made] = tuple(field.name for field in fields)
    setattr(made, "__init__", _slot_init(made, fields))  # noqa: B010 (mypy refuses the method)
    made.__repr__ = _record_repr  # type: ignore[assignment]
    made.__eq__ = _record_eq  # type: ignore[assignment]
    made.__hash__ = _record_hash  # type: ignore[assignment]
    made.__setattr__ = _refuse_assignment  # type: ignore[assignment]
    made.__delattr__ = _refuse_deletion  # type: ignore[assignment]
    made.__getstate__ = _record_state  # type: ignore[attr-defined]
    made.__setstate__ = _restore_state  # type: ignore[attr-defined]
    return made


def is_record(cls: type) -> bool:
    """Whether `cls` was made by `record`."""
    return cls in _FIELD_NAMES


def _values(self: Any) -> tuple[Any, ...]:
    return tuple([getattr(self, name) for name in _FIELD_NAMES[self.__class__]])


# What the dataclass methods of a frozen dataclass do, for any record.


@reprlib.recursive_repr()
def _record_repr(self: Any) -> str:
    fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in _FIELD_NAMES[type(self)])
    return f"{type(self).__qualname__}({fields})"


def _record_eq(self: Any, other: Any) -> Any:
    if other.__class__ is self.__class__:
        return _values(self) == _values(other)
    return NotImplemented


def _record_hash(self: Any) -> int:
    return hash(_values(self))


def _refuse_assignment(self: Any, name: str, value: Any) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")


def _refuse_deletion(self: Any, name: str) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")


def _record_state(self: Any) -> list[Any]:
    return list(_values(self))


def _restore_state(self: Any, state: list[Any]) -> None:
    for name, value in zip(_FIELD_NAMES[type(self)], state):  # noqa: B905 (as dataclasses)
        object.__setattr__(self, name, value)


def _plain(fields: tuple[dataclasses.Field[Any], ...]) -> bool:
    """Whether every field is an init field, positional, without a default factory."""
    return all(
        field.init and not field.kw_only and field.default_factory is dataclasses.MISSING
        for field in fields
    )


def _slot_init(cls: type, fields: tuple[dataclasses.Field[Any], ...]) -> Callable[..., None]:
    """An `__init__` with the fields' parameters and defaults that stores each through its
    slot."""
    namespace: dict[str, Any] = {}
    params = []
    body = []
    for index, field in enumerate(fields):
        namespace[f"_set{index}"] = cls.__dict__[field.name].__set__
        if field.default is dataclasses.MISSING:
            params.append(field.name)
        else:
            namespace[f"_default{index}"] = field.default
            params.append(f"{field.name}=_default{index}")
        body.append(f"    _set{index}(self, {field.name})\n")
    source = f"def __init__(self, {', '.join(params)}):\n" + ("".join(body) or "    pass\n")
    exec(source, namespace)  # our own generated code, as dataclasses itself does
    init: Callable[..., None] = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init
