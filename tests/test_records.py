"""Frozen records (chainlint/records.py): every record class behaves as the
`@dataclass(frozen=True, slots=True)` class with the same fields would."""

from __future__ import annotations

import copy
import dataclasses
import importlib
import inspect
import pickle
import pkgutil
from typing import Any

import pytest

import chainlint
from chainlint.handoff import _constructor_fields
from chainlint.records import is_record, record


def _frozen_classes() -> list[type]:
    """Every record that chainlint defines, and every frozen, slotted dataclass."""
    found = []
    for info in pkgutil.walk_packages(chainlint.__path__, "chainlint."):
        if info.name == "chainlint.__main__":  # runs the command
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and value.__module__ == module.__name__
                and dataclasses.is_dataclass(value)
                and (is_record(value) or _frozen_with_slots(value))
            ):
                found.append(value)
    return found


def _frozen_with_slots(cls: Any) -> bool:
    return bool(cls.__dataclass_params__.frozen) and "__slots__" in vars(cls)


FROZEN = _frozen_classes()


def test_the_pipeline_records_are_records() -> None:
    names = {cls.__name__ for cls in FROZEN if is_record(cls)}
    assert {"RevisionFile", "Assignment", "CreateTable", "Opaque", "Finding", "Settings"} <= names
    assert len(names) > 30


def _twin(cls: type) -> Any:
    """The stdlib's frozen, slotted dataclass with the same fields and defaults."""
    return dataclasses.make_dataclass(
        cls.__name__,
        [
            (f.name, Any, dataclasses.field(default=f.default))
            if f.default is not dataclasses.MISSING
            else (f.name, Any)
            for f in dataclasses.fields(cls)
        ],
        frozen=True,
        slots=True,
    )


@pytest.mark.parametrize("cls", FROZEN, ids=lambda cls: f"{cls.__module__}.{cls.__name__}")
def test_a_record_is_the_frozen_dataclass_with_its_fields(cls: type) -> None:
    """The same parameters and defaults, and the same instance: fields, equality, hash, repr,
    immutability, copies and pickles, `replace`, what the read helpers' handoff sends."""
    twin = _twin(cls)
    fields = dataclasses.fields(cls)
    init, twin_init = vars(cls)["__init__"], vars(twin)["__init__"]  # each class's own
    assert init.__qualname__ == f"{cls.__qualname__}.__init__"
    assert [(p.name, p.default) for p in list(inspect.signature(init).parameters.values())[1:]] == [
        (p.name, p.default) for p in inspect.signature(twin_init).parameters.values()
    ][1:]
    assert cls.__match_args__ == twin.__match_args__  # type: ignore[attr-defined]
    assert vars(cls)["__slots__"] == vars(twin)["__slots__"]
    values = [f"v{index}" for index in range(len(fields))]
    required = [f.name for f in fields if f.default is dataclasses.MISSING]
    for made, expected in (
        (cls(*values), twin(*values)),
        (
            cls(**dict(zip(required, values, strict=False))),
            twin(**dict(zip(required, values, strict=False))),
        ),
    ):
        assert _fields(made) == _fields(expected)
        assert repr(made) == repr(expected)
        assert hash(made) == hash(expected)
        again = cls(*_fields(made))
        assert made == again and (made != again) is False and hash(made) == hash(again)
        assert made != expected and made != _fields(made)
        assert not hasattr(made, "__dict__")
        for name in [f.name for f in fields]:
            with pytest.raises(dataclasses.FrozenInstanceError) as refused:
                setattr(made, name, "x")
            with pytest.raises(dataclasses.FrozenInstanceError) as twin_refused:
                setattr(expected, name, "x")
            assert str(refused.value) == str(twin_refused.value)
            with pytest.raises(dataclasses.FrozenInstanceError) as refused:
                delattr(made, name)
            with pytest.raises(dataclasses.FrozenInstanceError) as twin_refused:
                delattr(expected, name)
            assert str(refused.value) == str(twin_refused.value)
        if is_record(cls):
            # Any other name too (the stdlib's slotted class raises TypeError: CPython gh-90562).
            with pytest.raises(dataclasses.FrozenInstanceError):
                made.other = "x"
        assert copy.copy(made) == made and copy.deepcopy(made) == made
        assert pickle.loads(pickle.dumps(made)) == made
        changed = dataclasses.replace(made, **{fields[0].name: "x"})
        assert _fields(changed)[0] == "x" and type(changed) is cls
        send = _constructor_fields(cls)
        assert send is not None and send(made) == _fields(made)
    assert cls(*values) != cls(*values[:-1], "other")
    with pytest.raises(TypeError):
        cls(*values, "one too many")


def _fields(instance: Any) -> tuple[Any, ...]:
    return tuple(getattr(instance, f.name) for f in dataclasses.fields(instance))


def test_a_record_without_a_docstring_names_its_fields() -> None:
    @record
    class Point:
        x: int
        y: int = 0

    assert Point.__doc__ == "Point(x, y)"
    assert (
        repr(Point(1))
        == "test_a_record_without_a_docstring_names_its_fields.<locals>.Point(x=1, y=0)"
    )


def test_a_record_refuses_what_it_cannot_make() -> None:
    with pytest.raises(TypeError, match="plain default"):

        @record
        class Factory:
            items: list[int] = dataclasses.field(default_factory=list)

    with pytest.raises(TypeError, match="plain default"):

        @record
        class Checked:
            value: int

            def __post_init__(self) -> None:
                pass

    with pytest.raises(TypeError, match="defines its own __eq__"):

        @record
        class Compared:
            value: int

            def __eq__(self, other: object) -> bool:
                return True

            __hash__ = None  # type: ignore[assignment]
