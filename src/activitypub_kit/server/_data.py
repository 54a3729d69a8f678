"""The context-data type variable, shared by ``Context``, ``Federation`` and their bases."""

from __future__ import annotations

from typing import Any

from typing_extensions import TypeVar as DefaultTypeVar

#: The app's context data type: ``Context[AppState]``; a bare ``Context`` is ``Context[Any]``.
D = DefaultTypeVar("D", default=Any)

__all__ = ["D"]
