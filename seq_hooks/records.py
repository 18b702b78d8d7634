"""NamedTuple for the package's records, without importing `typing` when seq-hooks runs.

A plain `seq-hooks run` defines some thirty record classes. typing.NamedTuple compiles each field's
annotation (a string, under `from __future__ import annotations`) into a ForwardRef and
collections.namedtuple compiles a `__new__` for each class: together with importing typing, several
milliseconds of a run that should cost little more than starting the interpreter
(benchmarks/bench_run.py). At run time a record needs none of that: here `class R(NamedTuple): ...`
makes a tuple subclass with the same fields, defaults, methods and docstring, and the behaviour of a
named tuple (by position or keyword, `_replace`, `_asdict`, `_make`, `_fields`, `_field_defaults`,
`__match_args__`, repr, equality, pickling), written once here instead of compiled per class. mypy
reads the TYPE_CHECKING branch (it takes any name TYPE_CHECKING as true) and checks every record as
a typing.NamedTuple. Modules import TYPE_CHECKING from here to keep their annotation-only imports
off the run: `if TYPE_CHECKING: from typing import Any`.
"""
from __future__ import annotations

TYPE_CHECKING = False
__all__ = ["TYPE_CHECKING", "NamedTuple"]

if TYPE_CHECKING:
    from typing import NamedTuple
else:
    from itertools import repeat
    from operator import itemgetter

    class _Record(tuple):
        """What every record shares; each record class adds `_fields`, `_field_defaults` and a
        property per field."""

        __slots__ = ()

        def __new__(cls, *args, **kwargs):
            fields = cls._fields
            if len(args) == len(fields) and not kwargs:
                return tuple.__new__(cls, args)
            if len(args) > len(fields):
                raise TypeError(f"{cls.__name__}() takes {len(fields)} fields, {len(args)} given")
            values = list(args)
            for name in fields[len(args) :]:
                if name in kwargs:
                    values.append(kwargs.pop(name))
                elif name in cls._field_defaults:
                    values.append(cls._field_defaults[name])
                else:
                    raise TypeError(f"{cls.__name__}() is missing the field {name!r}")
            if kwargs:
                raise TypeError(
                    f"{cls.__name__}() got unexpected or repeated fields: "
                    f"{', '.join(sorted(kwargs))}"
                )
            return tuple.__new__(cls, values)

        @classmethod
        def _make(cls, iterable):
            return cls(*iterable)

        def _replace(self, **changes):
            return type(self)(**{**self._asdict(), **changes})

        def _asdict(self):
            return dict(zip(self._fields, self, strict=True))

        def __getnewargs__(self):
            return tuple(self)

        def __repr__(self):
            inner = ", ".join(
                f"{name}={value!r}" for name, value in zip(self._fields, self, strict=True)
            )
            return f"{type(self).__name__}({inner})"

    class _Maker(type):
        def __new__(cls, name, bases, namespace):
            if not bases:  # NamedTuple itself
                return super().__new__(cls, name, bases, namespace)
            # the class body's namespace becomes the record's (no copy), and the fields' properties
            # are made in C (map): ~30 records are defined on every run's path
            # (docs/design.md, "The hot path")
            fields = tuple(namespace.pop("__annotations__", ()))
            defaults = {field: namespace.pop(field) for field in fields if field in namespace}
            properties = map(
                property, map(itemgetter, range(len(fields))), repeat(None), repeat(None), fields
            )
            # each property's doc: its field's name
            namespace.update(zip(fields, properties, strict=True))
            namespace.update(
                __slots__=(), _fields=fields, _field_defaults=defaults, __match_args__=fields
            )
            return type(name, (_Record,), namespace)

    class NamedTuple(metaclass=_Maker):
        """Base of a record class: `class R(NamedTuple): field: type = default`."""
