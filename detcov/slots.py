"""Building frozen, slotted dataclass instances without their ``__init__``: for the few hot paths that make
100,000 copies of a model whose derived fields they already know (a placed rule, a cached rule, a rule's shared
health)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def slot_builder(cls: type[T]) -> Callable[[Sequence[Any]], T]:
    """``build(values)``: an instance of ``cls`` with every field (``init=False`` ones too) set to ``values``, in
    declaration order; what ``cls(...)`` and its ``__post_init__`` would give, for a fraction of the cost (one
    slot store per field, unrolled, as the dataclass ``__init__`` itself is generated). The caller owns the
    values' consistency (derived fields included)."""
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    scope: dict[str, Any] = {"_new": object.__new__, "_cls": cls, "_count": len(names)}
    scope.update({f"_set{i}": getattr(cls, name).__set__ for i, name in enumerate(names)})
    stores = "".join(f"    _set{i}(obj, values[{i}])\n" for i in range(len(names)))
    source = (f"def build(values):\n"
              f"    if len(values) != _count:\n"
              f"        raise ValueError(f'{cls.__name__} has {{_count}} fields, {{len(values)}} values given')\n"
              f"    obj = _new(_cls)\n{stores}    return obj\n")
    exec(source, scope)  # generated from the class's own field names, as dataclasses does
    build: Callable[[Sequence[Any]], T] = scope["build"]
    return build
