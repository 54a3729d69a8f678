"""The app's own state in every callback: ``Federation(context_data=...)`` and ``ctx.data``.

Real HTTP (uvicorn) and a real queue worker: the data reaches an inbox handler run by the
worker and an object dispatcher answering a ``GET``; ``context_data_factory`` is called once
per context.  ``typed_context_data.py`` is checked with ``mypy --strict``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from activitypub_kit.errors import NoContextDataError, RouteError
from activitypub_kit.models import Like, Note
from activitypub_kit.server import Context, Federation

pytestmark = pytest.mark.anyio
AP = {"Accept": "application/activity+json"}
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class AppState:
    """What a real app would hold: a session factory, settings, a cache."""

    name: str
    likes: list[str] = field(default_factory=list)
    serial: int = 0


async def test_data_reaches_an_inbox_handler_run_by_the_worker(start_node):
    state = AppState("b")
    b = await start_node("b.test", users={"bob": "Bob"}, context_data=state)
    a = await start_node("a.test", users={"alice": "Alice"})
    seen: list[AppState] = []

    @b.fed.inbox.on(Like, replace=True)
    async def on_like(ctx: Context[AppState], like: Like) -> None:
        seen.append(ctx.data)
        ctx.data.likes.append(str(like.id))
        b.changed()

    like = Like(
        id=a.ctx.new_id(a.actor("alice"), "likes"), actor=a.actor("alice"), object=b.note_uri("1")
    )
    await a.ctx.send(like, to=[b.actor("bob")])
    await b.wait_for(lambda: bool(state.likes))
    assert state.likes == [like.id]
    assert seen == [state]
    assert seen[0] is state  # the very value given, not a copy


async def test_a_factory_is_called_once_per_context_of_a_served_object(start_node, client):
    serials = itertools.count(1)
    made: list[AppState] = []

    def make() -> AppState:
        made.append(AppState("a", serial=next(serials)))
        return made[-1]

    node = await start_node("a.test", users={"alice": "Alice"}, context_data_factory=make)
    served: list[int] = []

    @node.fed.object(Note, "/notes/{id}", replace=True)
    async def note(ctx: Context[AppState], id: str) -> Note | None:
        assert ctx.data is ctx.data  # read twice, made once for this context
        served.append(ctx.data.serial)
        return Note(id=ctx.object_uri(Note, id=id), content=f"{ctx.data.name}{ctx.data.serial}")

    contents = []
    for note_id in ("1", "2"):
        response = await client.get(node.note_uri(note_id), headers=AP, auth=None)
        assert response.status_code == 200
        contents.append(response.json()["content"])
    assert served == [made[0].serial, made[1].serial]
    assert contents == [f"a{made[0].serial}", f"a{made[1].serial}"]
    assert len({id(state) for state in made}) == len(made)  # a fresh value per context


async def test_fed_context_data_is_the_value_or_a_fresh_factory_result():
    state = AppState("app")
    fed = Federation[AppState]("https://a.example", context_data=state)
    assert fed.context().data is state
    assert fed.context(inbox="alice").data is state  # one value, shared by every context

    calls: list[AppState] = []
    made = Federation(
        "https://a.example",
        context_data_factory=lambda: calls.append(AppState(str(len(calls)))) or calls[-1],
    )
    first, second = made.context(), made.context()
    assert calls == []  # nothing is made before ctx.data is read
    assert (second.data.name, first.data.name, first.data.name) == ("0", "1", "1")
    assert len(calls) == 2

    assert Federation("https://a.example", context_data=None).context().data is None


async def test_without_context_data_ctx_data_raises_a_clear_error():
    fed = Federation("https://a.example")
    ctx = fed.context()
    with pytest.raises(NoContextDataError, match=r"context_data=.*context_data_factory"):
        _ = ctx.data
    assert NoContextDataError.http_status == 500


async def test_context_data_options_are_checked_when_built():
    async def make_async() -> AppState:
        return AppState("x")

    with pytest.raises(RouteError, match="not both"):
        Federation("https://a.example", context_data=AppState("x"), context_data_factory=list)
    with pytest.raises(RouteError, match="plain zero-argument callable"):
        Federation("https://a.example", context_data_factory=make_async)


@pytest.mark.slow
def test_context_data_is_typed_under_mypy_strict():
    """``mypy --strict`` types ``ctx.data`` as the Federation's data type, everywhere."""
    mypy_api = pytest.importorskip("mypy.api")
    example = ROOT / "tests" / "server" / "typed_context_data.py"
    out, err, status = mypy_api.run(
        ["--strict", "--config-file", str(ROOT / "pyproject.toml"), str(example)]
    )
    assert status == 0, out + err
