"""Building frozen, slotted dataclass instances without their ``__init__``: for the few hot paths that make
100,000 copies of a model whose derived fields they already know (a placed rule, a rule's shared health)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")


def slot_builder(cls: type[T]) -> Callable[[Iterable[Any]], T]:
    """``build(values)``: an instance of ``cls`` with every field (``init=False`` ones too) set to ``values``, in
    declaration order; what ``cls(...)`` and its ``__post_init__`` would give, for a third of the cost. The caller
    owns the values' consistency (derived fields included)."""
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    setters = tuple(getattr(cls, f.name).__set__ for f in fields)
    new = object.__new__

    def build(values: Iterable[Any]) -> T:
        obj: T = new(cls)
        for put, value in zip(setters, values, strict=True):
            put(obj, value)
        return obj

    return build
