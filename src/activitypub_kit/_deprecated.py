"""Deprecated names, kept for one release: reading one warns and gives the new object."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
import warnings
from collections.abc import Callable, Mapping, Sequence
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


class _MovedModules(importlib.abc.MetaPathFinder):
    """Finds ``activitypub_kit.<package>.<name>`` when the module is now ``_<name>``.

    Every module behind a package's ``__init__`` became private (``server/federation.py``
    is ``server/_federation.py``); for one release the old dotted path still imports, with
    a :class:`DeprecationWarning`, as a read-only view of the new module, so the same
    objects come back (``isinstance`` and ``is`` keep holding).
    """

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if not package.startswith("activitypub_kit.") or not name or name.startswith("_"):
            return None
        private = f"{package}._{name}"
        try:
            found = importlib.util.find_spec(private)
        except (ImportError, ValueError):
            return None
        if found is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _MovedLoader(private, package))


class _MovedLoader(importlib.abc.Loader):
    """Loads the old path as a module that reads every attribute from the private one."""

    def __init__(self, private: str, package: str) -> None:
        self.private = private
        self.package = package

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        warnings.warn(
            f"{spec.name} is private now ({self.private}); import its public names from"
            f" {self.package}. The old path goes in the next release.",
            DeprecationWarning,
            stacklevel=2,
        )
        real = importlib.import_module(self.private)
        view = types.ModuleType(spec.name, real.__doc__)
        view.__getattr__ = lambda attr: getattr(real, attr)  # type: ignore[method-assign]
        view.__dir__ = lambda: dir(real)  # type: ignore[method-assign]
        view.__dict__["__all__"] = list(getattr(real, "__all__", ()))
        return view

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: the view reads from the already imported private module."""


def install_moved_modules() -> None:
    """Let ``activitypub_kit.<package>.<module>`` paths of the previous release import."""
    if not any(isinstance(finder, _MovedModules) for finder in sys.meta_path):
        sys.meta_path.append(_MovedModules())


__all__ = ["deprecated_names", "install_moved_modules"]
