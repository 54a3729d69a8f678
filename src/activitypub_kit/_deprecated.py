"""Deprecated names, kept for one release: reading one warns and gives the new object."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any


def deprecated_names(module: str, renamed: Mapping[str, tuple[str, Any]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` serving each old name of ``renamed`` (old -> (new, object)).

    Reading an old name emits a :class:`DeprecationWarning` naming its replacement and
    returns the replacement itself, so ``isinstance`` checks and ``is`` comparisons against
    the new name keep holding.
    """

    def getattr_(name: str) -> Any:
        found = renamed.get(name)
        if found is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        new_name, value = found
        warnings.warn(
            f"{module}.{name} is deprecated and will be removed in the next release;"
            f" use {new_name}",
            DeprecationWarning,
            stacklevel=2,
        )
        return value

    return getattr_


__all__ = ["deprecated_names"]
