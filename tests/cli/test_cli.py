"""The activitypub-kit command line, run in-process (lookups against a loopback server)."""

from __future__ import annotations

import io
import json
import os
import stat

import anyio
import pytest

from activitypub_kit.cli import main
from activitypub_kit.signatures import load_private_key_pem, multibase_to_public_key
from loopback import StartServer


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def test_keygen_prints_a_usable_key_pair():
    code, text = run("keygen", "--type", "ed25519")
    assert code == 0
    generated = json.loads(text)
    private = load_private_key_pem(generated["privateKeyPem"])
    public = multibase_to_public_key(generated["publicKeyMultibase"])
    signature = private.sign(b"hello")
    public.verify(signature, b"hello")  # raises if the halves do not match


def test_keygen_writes_a_private_file_and_never_overwrites(tmp_path, capsys):
    prefix = str(tmp_path / "actor")
    code, _ = run("keygen", "--bits", "2048", "--out", prefix)
    assert code == 0
    mode = stat.S_IMODE(os.stat(prefix + ".pem").st_mode)
    assert mode == 0o600
    public = json.loads((tmp_path / "actor.pub.json").read_text())
    assert public["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert "privateKeyPem" not in public
    code, _ = run("keygen", "--out", prefix)
    assert code == 1
    assert "refusing to overwrite" in capsys.readouterr().err


def test_validate_reports_each_file(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"type": "Note", "id": "https://a.example/n/1", "content": "x"}))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"type": "Note", "content": 5}))
    code, text = run("validate", str(good), str(bad))
    assert code == 1
    lines = text.splitlines()
    assert lines[0].endswith("ok: Note (type 'Note') https://a.example/n/1")
    assert "bad.json: invalid: content:" in lines[1]
    assert run("validate", str(good))[0] == 0


def test_missing_file_is_a_one_line_error(tmp_path, capsys):
    assert run("validate", str(tmp_path / "absent.json"))[0] == 1
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.anyio
async def test_lookup_resolves_a_handle_on_loopback(start_server: StartServer, capsys):
    server = await start_server("social.a.test")
    actor_url = server.url("/users/alice")
    handle = f"alice@social.a.test:{server.port}"
    server.json(
        "/.well-known/webfinger",
        {
            "subject": f"acct:{handle}",
            "links": [{"rel": "self", "type": "application/activity+json", "href": actor_url}],
        },
        content_type="application/jrd+json",
    )
    server.json(
        "/users/alice",
        {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": actor_url,
            "type": "Person",
            "preferredUsername": "alice",
            "inbox": actor_url + "/inbox",
            "endpoints": {"sharedInbox": server.url("/inbox")},
        },
    )
    pin = "--resolve=social.a.test:127.0.0.1"
    argv = ["lookup", "@" + handle, "--allow-private", "--http", pin]
    code, text = await anyio.to_thread.run_sync(run, *argv)
    assert code == 0, text
    assert f"id: {actor_url}" in text
    assert f"shared inbox: {server.url('/inbox')}" in text

    # without the development flags the SSRF guard refuses loopback before connecting
    before = len(server.seen)
    code, _ = await anyio.to_thread.run_sync(run, "lookup", "@alice@social.a.test", pin)
    assert code == 1
    assert "a loopback address" in capsys.readouterr().err
    assert len(server.seen) == before
