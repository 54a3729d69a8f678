"""The complete example of docs/federation.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.anyio
DOC = Path(__file__).resolve().parents[2] / "docs" / "federation.md"
AP = {"Accept": "application/activity+json"}


def example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    return blocks[0]


async def test_the_documented_blog_serves_and_publishes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(example(), str(DOC), "exec"), namespace)
    app, fed = namespace["app"], namespace["fed"]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://blog.example") as http:
        actor = (await http.get("/users/author", headers=AP)).json()
        assert actor["id"] == "https://blog.example/users/author"
        assert actor["followers"] == "https://blog.example/users/author/followers"
        assert actor["publicKey"]["owner"] == actor["id"]
        assert (await http.get("/users/nobody", headers=AP)).status_code == 404
        unsigned = await http.post(
            "/users/author/inbox",
            content=b'{"id": "https://x.example/1",'
            b' "type": "Follow", "actor": "https://x.example/u"}',
        )
        assert unsigned.status_code == 401
        jrd = await http.get("/.well-known/webfinger?resource=acct:author@blog.example")
        assert jrd.json()["links"][0]["href"] == actor["id"]

        await namespace["publish"]("hello", "Hello", "<p>hi</p>")
        article = (await http.get("/articles/hello", headers=AP)).json()
        assert article["name"] == "Hello"
        assert (await fed.queue.stats()).depth == 1  # one fan-out message, nothing sent yet
    await fed.queue.aclose()
    await fed.store.aclose()


TUTORIAL = DOC.parent / "tutorial.md"


async def test_the_tutorial_steps_run_together():
    blocks = re.findall(r"```python\n(.*?)```", TUTORIAL.read_text(), flags=re.DOTALL)
    # Steps 1, 3, 4 and 6 build one app; 2 and 5 show other constructor arguments.
    assert "fed = Federation(" in blocks[1]
    assert "SqliteDatabase" in blocks[4]
    namespace: dict = {}
    for index in (0, 2, 3, 5):
        exec(compile(blocks[index], f"{TUTORIAL}#{index}", "exec"), namespace)
    fed, app = namespace["fed"], namespace["app"]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
        actor = (await http.get("/users/author", headers=AP)).json()
        assert actor["followers"] == "http://127.0.0.1:8000/users/author/followers"
        await namespace["publish"]("hello", "Hello", "<p>hi</p>")
        article = (await http.get("/articles/hello", headers=AP)).json()
        assert article["type"] == "Article"
        assert (await fed.queue.stats()).depth == 1
    assert {"on_follow", "on_undo", "on_reply"} <= set(namespace)
