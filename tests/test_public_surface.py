"""The public surface: packages export it, modules behind them are private (issue 12).

An app imports from ``activitypub_kit.<package>``; what a package's ``__init__`` does not
export is internal and may change.  Paths of the previous release still import for one
release, with a warning.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pathlib
import sys
import warnings

import pytest

import activitypub_kit

SRC = pathlib.Path(activitypub_kit.__file__).parent
ROOT = SRC.parent.parent
#: Top-level modules that are public on purpose: the exception hierarchy and the CLI.
PUBLIC_TOP_LEVEL = {"__init__.py", "errors.py", "cli.py"}
PACKAGES = sorted(
    ".".join(("activitypub_kit", *p.parent.relative_to(SRC).parts))
    for p in SRC.rglob("__init__.py")
    if p.parent != SRC and "contexts" not in p.parts
)


def test_every_module_behind_a_package_is_private() -> None:
    public = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if path.name != "__init__.py"
        and not path.name.startswith("_")
        and not (path.parent == SRC and path.name in PUBLIC_TOP_LEVEL)
    ]
    assert public == []


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_exports_documented_names(package: str) -> None:
    module = importlib.import_module(package)
    names = module.__all__
    assert names, f"{package} exports nothing"
    assert len(names) == len(set(names)), f"{package}.__all__ repeats a name"
    for name in names:
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{package}.{name} has no docstring"


def test_examples_import_nothing_private() -> None:
    found = []
    for path in (ROOT / "examples").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            modules: list[str] = []
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module]
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            for module in modules:
                if not module.startswith("activitypub_kit"):
                    continue
                parts = module.split(".") + names
                if any(part.startswith("_") for part in parts):
                    found.append(f"{path.relative_to(ROOT)}: {module} {names}")
    assert found == []


def test_the_server_package_does_not_export_its_internals() -> None:
    import activitypub_kit.server as server

    internals = {"Authenticator", "Inbox", "InboxAnswer", "UrlTemplate", "decode_activity"}
    assert internals.isdisjoint(server.__all__)
    assert internals.isdisjoint(vars(server))
    with pytest.warns(DeprecationWarning, match="decode_activity"):
        from activitypub_kit.server import decode_activity
    from activitypub_kit.server._parsing import decode_activity as private

    assert decode_activity is private


def test_an_old_module_path_still_imports_for_one_release() -> None:
    import activitypub_kit.server as server

    sys.modules.pop("activitypub_kit.server.federation", None)  # imported fresh, so it warns
    with pytest.warns(DeprecationWarning, match=r"activitypub_kit\.server\.federation is private"):
        old = importlib.import_module("activitypub_kit.server.federation")
    assert old.Federation is server.Federation
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from activitypub_kit.server import Federation  # the public path: no warning
    assert Federation is server.Federation
    with pytest.raises(ImportError):
        importlib.import_module("activitypub_kit.server.no_such_module")
    with pytest.raises(ImportError):  # a private module is not reached under a third name
        importlib.import_module("activitypub_kit.server.__federation")
