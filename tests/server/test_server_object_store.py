"""``Federation(object_store=...)``: ``ctx.lookup`` reads the app's database first and
fetches only what is missing or stale (issue 12).

Real HTTP on loopback: a Federation node (uvicorn) looks remote URIs up on a loopback
server standing for another host, whose request log shows what was — and was not — fetched.
Two app-side stores, run through the same tests: a dict (documents, aware timestamps) and
an app's own SQLite table (``sqlite3``: models rebuilt from rows, naive UTC timestamps).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hostile import AS

from activitypub_kit.errors import (
    BlockedError,
    FetchError,
    HttpStatusError,
    ResourceGoneError,
    RouteError,
    WrongTypeError,
)
from activitypub_kit.models import Note, Person, Tombstone, parse
from activitypub_kit.server import Federation, ObjectStore, StoredObject

pytestmark = pytest.mark.anyio

HOUR = timedelta(hours=1)
STALE = 2 * HOUR  # with refresh_after=HOUR


class DictObjects:
    """An object store in a dict: the documents it was given, aware timestamps."""

    def __init__(self) -> None:
        self.rows: dict[str, StoredObject] = {}
        self.calls: list[tuple[str, str]] = []

    async def read(self, uri: str) -> StoredObject | None:
        self.calls.append(("read", uri))
        return self.rows.get(uri)

    async def save(self, uri: str, document: dict[str, Any]) -> None:
        self.calls.append(("save", uri))
        self.rows[uri] = StoredObject(document, datetime.now(UTC))

    async def delete(self, uri: str) -> None:
        self.calls.append(("delete", uri))
        self.rows.pop(uri, None)

    # -- for the tests ---------------------------------------------------------------

    def put(self, uri: str, document: dict[str, Any], age: timedelta) -> None:
        self.rows[uri] = StoredObject(document, datetime.now(UTC) - age)

    def document(self, uri: str) -> dict[str, Any] | None:
        row = self.rows.get(uri)
        return None if row is None else dict(row.document)  # type: ignore[arg-type]

    def age(self, uri: str) -> timedelta:
        return self.rows[uri].age()


class SqliteObjects:
    """An app's own table of remote objects; reads give models, timestamps are naive UTC."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path)
        self.db.execute(
            "CREATE TABLE remote_objects (uri TEXT PRIMARY KEY, type TEXT NOT NULL,"
            " body TEXT NOT NULL, refreshed_at TEXT NOT NULL)"
        )
        self.calls: list[tuple[str, str]] = []

    async def read(self, uri: str) -> StoredObject | None:
        self.calls.append(("read", uri))
        row = self.db.execute(
            "SELECT body, refreshed_at FROM remote_objects WHERE uri = ?", (uri,)
        ).fetchone()
        if row is None:
            return None
        return StoredObject(parse(json.loads(row[0])), datetime.fromisoformat(row[1]))

    async def save(self, uri: str, document: dict[str, Any]) -> None:
        self.calls.append(("save", uri))
        self._write(uri, document, datetime.now(UTC))

    async def delete(self, uri: str) -> None:
        self.calls.append(("delete", uri))
        self.db.execute("DELETE FROM remote_objects WHERE uri = ?", (uri,))

    def _write(self, uri: str, document: dict[str, Any], at: datetime) -> None:
        self.db.execute(
            "INSERT INTO remote_objects VALUES (?, ?, ?, ?) ON CONFLICT(uri) DO UPDATE SET"
            " type = excluded.type, body = excluded.body, refreshed_at = excluded.refreshed_at",
            (uri, str(document.get("type")), json.dumps(document), _naive(at)),
        )

    # -- for the tests ---------------------------------------------------------------

    def put(self, uri: str, document: dict[str, Any], age: timedelta) -> None:
        self._write(uri, document, datetime.now(UTC) - age)

    def document(self, uri: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT body FROM remote_objects WHERE uri = ?", (uri,)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def age(self, uri: str) -> timedelta:
        (at,) = self.db.execute(
            "SELECT refreshed_at FROM remote_objects WHERE uri = ?", (uri,)
        ).fetchone()
        return datetime.now(UTC) - datetime.fromisoformat(at).replace(tzinfo=UTC)


def _naive(at: datetime) -> str:
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


Store = DictObjects | SqliteObjects


@pytest.fixture(params=["dict", "sqlite"])
def objects(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return DictObjects() if request.param == "dict" else SqliteObjects(tmp_path / "app.sqlite")


def note(server: Any, path: str, content: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"@context": AS, "id": server.url(path), "type": "Note", "content": content, **extra}


async def node_with(start_node: Any, objects: Store, **options: Any) -> Any:
    return await start_node(
        "a.test", worker=False, object_store=objects, refresh_after=HOUR, **options
    )


# -- the four paths: fresh, absent, stale, gone ------------------------------------------


async def test_a_fresh_stored_copy_is_returned_without_a_request(start_node, start_server, objects):
    remote = await start_server("b.test")
    uri = remote.url("/notes/1")
    remote.json("/notes/1", note(remote, "/notes/1", "from the origin"))
    objects.put(uri, note(remote, "/notes/1", "from our database"), age=HOUR / 2)
    a = await node_with(start_node, objects)

    found = await a.ctx.lookup(uri, Note)
    assert found.content == "from our database"
    assert remote.seen == []  # the origin was not asked
    assert objects.calls == [("read", uri)]


async def test_an_absent_object_is_fetched_once_and_saved_as_verified(
    start_node, start_server, objects
):
    remote, other = await start_server("b.test"), await start_server("c.test")
    uri = remote.url("/notes/1")
    foreign = {"id": other.url("/users/mallory"), "type": "Person", "name": "forged"}
    remote.json("/notes/1", note(remote, "/notes/1", attributedTo=foreign))
    a = await node_with(start_node, objects)

    found = await a.ctx.lookup(uri, Note)
    assert found.content == "hi"
    assert remote.hits("/notes/1") == 1
    assert objects.calls == [("read", uri), ("save", uri)]
    saved = objects.document(uri)
    assert saved is not None
    assert saved["id"] == uri
    assert saved["attributedTo"] == other.url("/users/mallory")  # a reference, not the forgery
    assert objects.age(uri) < HOUR

    # the next lookup is the store's: no second request
    assert (await a.ctx.lookup(uri, Note)).content == "hi"
    assert remote.hits("/notes/1") == 1
    assert objects.calls[-1] == ("read", uri)


async def test_a_stale_copy_is_fetched_again_and_replaced(start_node, start_server, objects):
    remote = await start_server("b.test")
    uri = remote.url("/users/bob")
    bob = {"@context": AS, "id": uri, "type": "Person", "inbox": remote.url("/inbox")}
    remote.json("/users/bob", {**bob, "name": "Bob, renamed"})
    objects.put(uri, {**bob, "name": "Bob"}, age=STALE)
    a = await node_with(start_node, objects)

    actor = await a.ctx.lookup_actor(uri)
    assert actor.name == "Bob, renamed"
    assert remote.hits("/users/bob") == 1
    assert objects.calls == [("read", uri), ("save", uri)]
    saved = objects.document(uri)
    assert saved is not None
    assert saved["name"] == "Bob, renamed"
    assert objects.age(uri) < HOUR  # fresh again


@pytest.mark.parametrize("deleted", ["410", "tombstone"])
async def test_gone_at_the_origin_deletes_the_copy_and_raises(
    start_node, start_server, objects, deleted
):
    remote = await start_server("b.test")
    uri = remote.url("/notes/1")
    if deleted == "410":
        remote.json("/notes/1", {"error": "gone"}, status=410)
    else:
        remote.json("/notes/1", {"@context": AS, "id": uri, "type": "Tombstone"})
    objects.put(uri, note(remote, "/notes/1"), age=STALE)
    a = await node_with(start_node, objects)

    with pytest.raises(ResourceGoneError) as gone:
        await a.ctx.lookup(uri, Note)
    assert gone.value.status_code == 410
    assert objects.document(uri) is None
    assert objects.calls == [("read", uri), ("delete", uri)]
    assert remote.hits("/notes/1") == 1


async def test_a_stored_copy_of_the_wrong_type_is_refused_without_a_request(
    start_node, start_server, objects
):
    remote = await start_server("b.test")
    person, post = remote.url("/users/bob"), remote.url("/notes/1")
    objects.put(person, {"@context": AS, "id": person, "type": "Person", "inbox": "i"}, HOUR / 2)
    objects.put(post, note(remote, "/notes/1"), HOUR / 2)
    a = await node_with(start_node, objects)

    with pytest.raises(WrongTypeError, match="/users/bob is a Person, not Note") as wrong:
        await a.ctx.lookup(person, Note)
    assert (wrong.value.expected, wrong.value.actual) == ("Note", "Person")
    with pytest.raises(WrongTypeError, match="is a Note, not Actor"):
        await a.ctx.lookup_actor(post)
    assert isinstance(await a.ctx.lookup_actor(person), Person)
    assert remote.seen == []


# -- failures while refreshing, refresh=True, moderation, local URIs ---------------------


async def test_a_stale_copy_outlives_a_failure_that_may_pass(start_node, start_server, objects):
    remote = await start_server("b.test")
    busy, down = remote.url("/notes/busy"), remote.url("/notes/down")
    missing = remote.url("/notes/missing")
    remote.json("/notes/busy", {"error": "overloaded"}, status=503)
    remote.json("/notes/missing", {"error": "not found"}, status=404)
    for uri in (busy, down, missing):
        objects.put(uri, note(remote, uri.removeprefix(remote.origin), "old"), STALE)
    a = await node_with(start_node, objects)

    assert (await a.ctx.lookup(busy, Note)).content == "old"  # 503: served from the store
    assert remote.hits("/notes/busy") == 1
    # 404 is an answer, not an outage: raised, and the copy is the app's to drop or keep
    with pytest.raises(HttpStatusError) as not_found:
        await a.ctx.lookup(missing, Note)
    assert not_found.value.status_code == 404
    assert objects.document(missing) is not None
    await remote.stop()  # connection refused
    assert (await a.ctx.lookup(down, Note)).content == "old"
    assert ("save", busy) not in objects.calls
    assert ("delete", down) not in objects.calls


async def test_refresh_skips_a_fresh_copy(start_node, start_server, objects):
    remote = await start_server("b.test")
    uri = remote.url("/notes/1")
    remote.json("/notes/1", note(remote, "/notes/1", "edited"))
    objects.put(uri, note(remote, "/notes/1", "before the edit"), HOUR / 2)
    a = await node_with(start_node, objects)

    assert (await a.ctx.lookup(uri, Note, refresh=True)).content == "edited"
    assert remote.hits("/notes/1") == 1
    assert objects.calls == [("save", uri)]  # not even read
    # a refresh that finds nothing usable raises: no copy was read to fall back on
    await remote.stop()
    with pytest.raises(FetchError):
        await a.ctx.lookup(uri, Note, refresh=True)


async def test_a_blocked_host_or_actor_is_not_served_from_the_store(
    start_node, start_server, objects
):
    remote = await start_server("b.test")
    bob, eve = remote.url("/users/bob"), remote.url("/users/eve")
    for uri in (bob, eve):
        objects.put(uri, {"@context": AS, "id": uri, "type": "Person", "inbox": "i"}, HOUR / 2)
    blocked_hosts = {"b.test"}
    a = await node_with(
        start_node,
        objects,
        block_host=lambda host: host in blocked_hosts,
        block_actor=lambda actor: actor == eve,
    )

    with pytest.raises(BlockedError, match=r"b\.test is blocked here") as refused:
        await a.ctx.lookup_actor(bob)
    assert refused.value.host == "b.test"
    blocked_hosts.clear()  # lifted: the copy (never deleted) is served again
    assert (await a.ctx.lookup_actor(bob)).id == bob
    with pytest.raises(BlockedError, match="users/eve: it is blocked here"):
        await a.ctx.lookup_actor(eve)
    assert objects.document(eve) is not None
    assert remote.seen == []
    assert [call for call in objects.calls if call[1] == eve] == []  # not even read


async def test_local_uris_never_reach_the_store(start_node, objects):
    a = await node_with(start_node, objects)
    a.state.users["alice"] = "Alice"
    assert (await a.ctx.lookup_actor(a.actor("alice"))).name == "Alice"
    assert objects.calls == []


# -- without an object store, and the settings ------------------------------------------


async def test_without_a_store_a_tombstone_or_a_blocked_actor_is_refused(start_node, start_server):
    remote = await start_server("b.test")
    uri = remote.url("/notes/1")
    remote.json("/notes/1", {"@context": AS, "id": uri, "type": "Tombstone"})
    eve = remote.url("/users/eve")
    remote.json("/users/eve", {"@context": AS, "id": eve, "type": "Person", "inbox": "i"})
    a = await start_node("a.test", worker=False, block_actor=lambda actor: actor == eve)
    with pytest.raises(ResourceGoneError, match="is a Tombstone"):
        await a.ctx.lookup(uri)
    with pytest.raises(BlockedError):
        await a.ctx.lookup_actor(eve)
    assert remote.hits("/users/eve") == 0


def test_the_settings_are_checked_when_the_federation_is_built(tmp_path: Path) -> None:
    assert isinstance(DictObjects(), ObjectStore)
    fed = Federation("https://a.example", object_store=DictObjects())
    assert fed.refresh_after == timedelta(days=1)
    with pytest.raises(RouteError, match="read, save and delete"):
        Federation("https://a.example", object_store=object())  # type: ignore[arg-type]
    with pytest.raises(RouteError, match="refresh_after"):
        Federation("https://a.example", refresh_after=timedelta(seconds=-1))
    with pytest.raises(RouteError, match="refresh_after"):
        Federation("https://a.example", refresh_after=3600)  # type: ignore[arg-type]


def test_a_stored_model_or_document_and_its_age() -> None:
    now = datetime(2025, 1, 2, 12, tzinfo=UTC)
    naive = StoredObject({"type": "Tombstone", "id": "https://x.example/1"}, datetime(2025, 1, 2))
    assert naive.age(now) == timedelta(hours=12)  # naive is UTC
    assert isinstance(naive.model(), Tombstone)
    model = Note(id="https://x.example/2")
    assert StoredObject(model, now).model() is model
