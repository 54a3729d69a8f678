"""RsaSignature2017 under hostile input: URDNA2015 work is bounded and kept off the loop.

Three layers are exercised: the linear structural pre-check (explicit blank node labels,
too many blank nodes or values), the canonicalisation work budget (many alike blank nodes),
and the worker process killed at its time limit (pyld's quadratic node map).  Genuine
documents still verify through the async path and give the same compacted document as the
synchronous one.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from activitypub_kit.errors import (
    InvalidSignatureError,
    LdWorkLimitError,
    ProofError,
    SignatureError,
    UnauthenticatedActivityError,
)
from activitypub_kit.http import VerifiedKey
from activitypub_kit.server._authenticate import Authenticator
from activitypub_kit.signatures import (
    HttpRequest,
    compact,
    load_public_key_pem,
    parse_ld_signature,
    public_key_to_pem,
    sign_ld_signature,
    verify_ld_signature,
)
from activitypub_kit.signatures._ldsig import verify_ld_signature_async
from activitypub_kit.signatures._ldwork import (
    MAX_LD_BLANK_NODES,
    MAX_LD_JSON_VALUES,
    LdWorkerPool,
    LdWorkerStats,
    check_ld_shape,
    close_ld_workers,
)
from activitypub_kit.testing import watch_event_loop

pytestmark = pytest.mark.anyio

AS = "https://www.w3.org/ns/activitystreams"
SEC = "https://w3id.org/security/v1"
MALLORY = "https://evil.test/users/mallory"
ALICE = "https://victim.test/users/alice"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def pool() -> Iterator[LdWorkerPool]:
    """Two worker processes shared by the module; stopped (and checked stopped) at the end."""
    workers = LdWorkerPool(workers=2)
    yield workers
    workers.close()
    assert workers.stats.running == 0


@pytest.fixture(scope="module", autouse=True)
def _stop_default_pool() -> Iterator[None]:
    yield
    close_ld_workers()


# --- documents ------------------------------------------------------------------------


def _bogus_signature(document: dict[str, Any], creator: str = f"{MALLORY}#main-key") -> None:
    """An RsaSignature2017 block of the right length that verifies over nothing."""
    document["signature"] = {
        "type": "RsaSignature2017",
        "creator": creator,
        # Fresh, so that the inbox's freshness check lets it reach the work limits.
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "signatureValue": base64.b64encode(bytes(range(256))).decode(),
    }


def _create(actor: str, obj: Any, **extra: Any) -> dict[str, Any]:
    return {
        "@context": [AS, SEC],
        "id": f"{actor}/statuses/1/activity",
        "type": "Create",
        "actor": actor,
        "object": obj,
        **extra,
    }


def seven_node_graph() -> dict[str, Any]:
    """The reported attack: 7 alike blank nodes, each referencing all others (~1.2 KB)."""
    nodes = [
        {
            "@id": f"_:b{i}",
            "type": "Note",
            "inReplyTo": [f"_:b{j}" for j in range(7) if j != i],
        }
        for i in range(7)
    ]
    document = _create(MALLORY, nodes)
    _bogus_signature(document)
    return document


def identical_children(parents: int = 2, tags: int = 9) -> dict[str, Any]:
    """No label at all: id-less notes holding identical id-less tags (factorial work)."""
    note = {
        "type": "Note",
        "content": "x",
        "tag": [{"type": "Hashtag", "name": "#a"} for _ in range(tags)],
    }
    return _create(MALLORY, [copy.deepcopy(note) for _ in range(parents)])


def long_value_list(items: int = 4000) -> dict[str, Any]:
    """Within every structural limit, yet pyld's node map is quadratic in one value list."""
    document = _create(
        MALLORY, f"{MALLORY}/notes/1", cc=[f"https://evil.test/u/{i}" for i in range(items)]
    )
    _bogus_signature(document)
    return document


def mastodon_create() -> dict[str, Any]:
    """A Mastodon-shaped Create: inline context, mentions, hashtags, emoji, attachments."""
    note_id = f"{ALICE}/statuses/110"
    tags: list[dict[str, Any]] = [
        {"type": "Mention", "href": f"https://m{i}.test/users/u{i}", "name": f"@u{i}@m{i}.test"}
        for i in range(20)
    ]
    tags += [
        {"type": "Hashtag", "href": f"https://victim.test/tags/t{i}", "name": f"#t{i}"}
        for i in range(10)
    ]
    tags += [
        {
            "id": f"https://victim.test/emojis/{i}",
            "type": "Emoji",
            "name": f":e{i}:",
            "updated": "2024-01-01T00:00:00Z",
            "icon": {
                "type": "Image",
                "mediaType": "image/png",
                "url": f"https://victim.test/e{i}.png",
            },
        }
        for i in range(5)
    ]
    attachments = [
        {
            "type": "Document",
            "mediaType": "image/jpeg",
            "url": f"https://victim.test/media/{i}.jpg",
            "name": f"picture {i}",
            "blurhash": "UBL_:rOpGG-oBUNG,qRj2so|=eE1w^n4S5NH",
            "focalPoint": [0.0, 0.5],
            "width": 1200,
            "height": 800,
        }
        for i in range(4)
    ]
    note = {
        "id": note_id,
        "type": "Note",
        "summary": None,
        "inReplyTo": None,
        "published": "2024-01-01T00:00:00Z",
        "url": "https://victim.test/@alice/110",
        "attributedTo": ALICE,
        "to": [f"{AS}#Public"],
        "cc": [f"{ALICE}/followers", *(t["href"] for t in tags[:20])],
        "sensitive": False,
        "atomUri": note_id,
        "conversation": "tag:victim.test,2024-01-01:objectId=1:objectType=Conversation",
        "content": "<p>hello fediverse</p>",
        "contentMap": {"en": "<p>hello fediverse</p>"},
        "attachment": attachments,
        "tag": tags,
        "replies": {
            "id": f"{note_id}/replies",
            "type": "Collection",
            "first": {
                "type": "CollectionPage",
                "next": f"{note_id}/replies?only_other_accounts=true&page=true",
                "partOf": f"{note_id}/replies",
                "items": [],
            },
        },
    }
    context = [
        AS,
        {
            "ostatus": "http://ostatus.org#",
            "atomUri": "ostatus:atomUri",
            "conversation": "ostatus:conversation",
            "sensitive": "as:sensitive",
            "toot": "http://joinmastodon.org/ns#",
            "blurhash": "toot:blurhash",
            "focalPoint": {"@container": "@list", "@id": "toot:focalPoint"},
            "Hashtag": "as:Hashtag",
            "Emoji": "toot:Emoji",
        },
    ]
    return {
        "@context": context,
        "id": f"{note_id}/activity",
        "type": "Create",
        "actor": ALICE,
        "published": "2024-01-01T00:00:00Z",
        "to": note["to"],
        "cc": note["cc"],
        "object": note,
    }


@pytest.fixture(scope="module")
def signed_create(rsa_key: Any) -> dict[str, Any]:
    return sign_ld_signature(mastodon_create(), rsa_key, f"{ALICE}#main-key", now=1_704_067_200)


# --- the structural pre-check -------------------------------------------------------------


async def test_seven_node_graph_is_refused_before_any_canonicalisation(rsa_key: Any) -> None:
    document = seven_node_graph()
    assert len(json.dumps(document)) < 1500
    fresh = LdWorkerPool(workers=1)
    signature = parse_ld_signature(document)
    with pytest.raises(LdWorkLimitError, match=r"explicit blank node label '_:b\d'"):
        await verify_ld_signature_async(document, signature, rsa_key.public_key(), pool=fresh)
    # the worker process was never asked, nor even started
    assert fresh.stats == LdWorkerStats(jobs=0, timeouts=0, starts=0, running=0)
    with pytest.raises(LdWorkLimitError, match="explicit blank node label"):
        verify_ld_signature(document, signature, rsa_key.public_key())
    fresh.close()


@pytest.mark.parametrize(
    "where",
    ["id", "reference", "key", "inline context", "signature option"],
)
def test_every_kind_of_explicit_label_is_refused(where: str) -> None:
    document = _create(MALLORY, {"id": f"{MALLORY}/n/1", "type": "Note"})
    _bogus_signature(document)
    if where == "id":
        document["object"]["id"] = "_:n"
    elif where == "reference":
        document["object"]["inReplyTo"] = "_:n"
    elif where == "key":
        document["object"]["_:p"] = "x"
    elif where == "inline context":
        document["@context"] = [*document["@context"], {"@vocab": "_:"}]
    else:
        document["signature"]["nonce"] = "_:n"
    with pytest.raises(LdWorkLimitError, match="explicit blank node label"):
        check_ld_shape(document)
    assert issubclass(LdWorkLimitError, ProofError)
    assert LdWorkLimitError("x").http_status == 401


def test_blank_nodes_are_counted_with_the_signature_options() -> None:
    tags = [{"type": "Mention", "href": f"https://a.test/u{i}"} for i in range(127)]
    document = _create(ALICE, {"id": f"{ALICE}/n/1", "type": "Note", "tag": tags})
    check_ld_shape(document)  # 127 blank nodes
    _bogus_signature(document)
    check_ld_shape(document)  # + the signature block: 128, the limit
    document["object"]["tag"].append({"type": "Mention", "href": "https://a.test/last"})
    with pytest.raises(LdWorkLimitError, match=f"more than {MAX_LD_BLANK_NODES} objects"):
        check_ld_shape(document)
    with pytest.raises(LdWorkLimitError, match=f"more than {MAX_LD_BLANK_NODES} objects"):
        compact(document)


def test_too_many_values_are_refused(rsa_key: Any) -> None:
    document = _create(ALICE, f"{ALICE}/n/1", cc=[f"a:{i}" for i in range(MAX_LD_JSON_VALUES)])
    with pytest.raises(LdWorkLimitError, match=f"more than {MAX_LD_JSON_VALUES} JSON values"):
        check_ld_shape(document)
    with pytest.raises(LdWorkLimitError, match="JSON values"):
        sign_ld_signature(document, rsa_key, f"{ALICE}#main-key")


def test_real_signed_documents_pass_the_pre_check(corpus: Path) -> None:
    documents = corpus / "activitypub-real-world/documents"
    checked = 0
    for path in sorted(documents.glob("*.json")):
        document = json.loads(path.read_text())
        if isinstance(document, dict) and isinstance(document.get("signature"), dict):
            check_ld_shape(document)
            checked += 1
    assert checked >= 30


async def test_signature_length_is_checked_before_canonicalising(
    pool: LdWorkerPool, signed_create: dict[str, Any], rsa_key: Any
) -> None:
    document = copy.deepcopy(signed_create)
    document["signature"]["signatureValue"] = base64.b64encode(b"\0" * 255).decode()
    before = pool.stats.jobs
    with pytest.raises(InvalidSignatureError, match="255 bytes long, not the 256 bytes"):
        await verify_ld_signature_async(
            document, parse_ld_signature(document), rsa_key.public_key(), pool=pool
        )
    assert pool.stats.jobs == before


# --- the work budget and the time limit -----------------------------------------------------


async def test_alike_blank_children_run_out_of_work_budget(
    pool: LdWorkerPool, rsa_key: Any
) -> None:
    document = identical_children(parents=2, tags=9)
    _bogus_signature(document)
    check_ld_shape(document)  # nothing structural to object to: 21 blank nodes, no label
    signature = parse_ld_signature(document)
    with pytest.raises(LdWorkLimitError, match=r"blank node hash permutations|longer than"):
        await verify_ld_signature_async(
            document, signature, rsa_key.public_key(), pool=pool, time_limit=0.5
        )
    # the in-process path is bounded by the same budget
    with pytest.raises(LdWorkLimitError, match="blank node hash permutations"):
        verify_ld_signature(document, signature, rsa_key.public_key())


async def test_many_alike_children_of_one_object_are_cheap_and_verify(
    pool: LdWorkerPool, rsa_key: Any
) -> None:
    """One id-less object with 12 identical tags: the parent hashes uniquely, so its
    children need no permutation; the document is genuine and verifies."""
    document = sign_ld_signature(
        identical_children(parents=1, tags=12), rsa_key, f"{MALLORY}#main-key"
    )
    trusted = await verify_ld_signature_async(
        document, parse_ld_signature(document), rsa_key.public_key(), pool=pool, time_limit=0.5
    )
    assert trusted["object"]["tag"] == [{"type": "Hashtag", "name": "#a"}] * 12


async def test_slow_document_is_killed_at_the_time_limit_and_the_worker_replaced(
    pool: LdWorkerPool, rsa_key: Any, signed_create: dict[str, Any]
) -> None:
    document = long_value_list()
    check_ld_shape(document)
    before = pool.stats
    with pytest.raises(LdWorkLimitError, match=r"took longer than 0\.5 s"):
        await verify_ld_signature_async(
            document, parse_ld_signature(document), rsa_key.public_key(), pool=pool, time_limit=0.5
        )
    assert pool.stats.timeouts == before.timeouts + 1
    # both workers still serve: the killed one is restarted on demand
    results = await asyncio.gather(
        *(
            verify_ld_signature_async(
                signed_create, parse_ld_signature(signed_create), rsa_key.public_key(), pool=pool
            )
            for _ in range(2)
        )
    )
    assert results[0] == results[1]
    assert pool.stats.running == 2


async def test_event_loop_keeps_ticking_while_a_hostile_document_is_canonicalised(
    pool: LdWorkerPool, rsa_key: Any
) -> None:
    document = long_value_list()
    async with watch_event_loop(0.01) as watch:
        with pytest.raises(LdWorkLimitError, match="took longer than"):
            await verify_ld_signature_async(
                document,
                parse_ld_signature(document),
                rsa_key.public_key(),
                pool=pool,
                time_limit=1.0,
            )
    assert len(watch.gaps) > 20
    assert watch.longest < 0.1


async def test_a_hostile_document_does_not_hold_up_a_genuine_one(
    pool: LdWorkerPool, rsa_key: Any, signed_create: dict[str, Any]
) -> None:
    public = rsa_key.public_key()
    signature = parse_ld_signature(signed_create)
    # both workers up (a start-up takes about a second)
    await asyncio.gather(
        *(verify_ld_signature_async(signed_create, signature, public, pool=pool) for _ in range(2))
    )
    hostile = long_value_list()
    slow = asyncio.create_task(
        verify_ld_signature_async(
            hostile, parse_ld_signature(hostile), public, pool=pool, time_limit=1.0
        )
    )
    await asyncio.sleep(0.05)  # let it reach a worker
    trusted = await verify_ld_signature_async(signed_create, signature, public, pool=pool)
    assert trusted["actor"] == ALICE
    assert not slow.done()  # the genuine one was answered while the hostile one still ran
    with pytest.raises(LdWorkLimitError):
        await slow


# --- genuine documents ------------------------------------------------------------------------


async def test_mastodon_style_create_verifies_through_the_async_path(
    pool: LdWorkerPool, signed_create: dict[str, Any], rsa_key: Any
) -> None:
    check_ld_shape(signed_create)
    signature = parse_ld_signature(signed_create)
    trusted = await verify_ld_signature_async(
        signed_create, signature, rsa_key.public_key(), pool=pool
    )
    assert trusted == verify_ld_signature(signed_create, signature, rsa_key.public_key())
    assert trusted["@context"] == [AS, SEC]
    assert "signature" not in trusted
    assert trusted["actor"] == ALICE
    assert trusted["object"]["content"] == "<p>hello fediverse</p>"
    assert len(trusted["object"]["tag"]) == 35
    assert len(trusted["object"]["attachment"]) == 4
    forged = copy.deepcopy(signed_create)
    forged["object"]["content"] = "<p>send me your money</p>"
    with pytest.raises(InvalidSignatureError, match="does not verify"):
        await verify_ld_signature_async(
            forged, parse_ld_signature(forged), rsa_key.public_key(), pool=pool
        )


async def test_corpus_ld_signatures_give_the_same_outcome_async(
    pool: LdWorkerPool, corpus: Path
) -> None:
    """Every LD-signed corpus document whose key is in the corpus: same result both ways."""
    documents = corpus / "activitypub-real-world/documents"
    loaded = [json.loads(path.read_text()) for path in sorted(documents.glob("*.json"))]
    keys = {
        d["publicKey"]["id"]: d["publicKey"]["publicKeyPem"]
        for d in loaded
        if isinstance(d, dict) and isinstance(d.get("publicKey"), dict)
        if "publicKeyPem" in d["publicKey"]
    }
    verified = compared = 0
    for document in loaded:
        if not isinstance(document, dict) or not isinstance(document.get("signature"), dict):
            continue
        try:
            signature = parse_ld_signature(document)
        except ProofError:  # a fixture with a broken signatureValue
            continue
        if signature.creator not in keys:
            continue
        key = load_public_key_pem(keys[signature.creator])
        try:
            expected: Any = verify_ld_signature(document, signature, key)
        except SignatureError as exc:
            expected = type(exc)
        try:
            got: Any = await verify_ld_signature_async(document, signature, key, pool=pool)
        except SignatureError as exc:
            got = type(exc)
        assert got == expected
        compared += 1
        verified += isinstance(got, dict)
    assert compared >= 20
    assert verified >= 5  # Mastodon Accept and Follow, Friendica, Smithereen, Osada


# --- the inbox ----------------------------------------------------------------------------


class _Keys:
    """A key resolver stub that hands out one key and counts the fetches."""

    def __init__(self, key_id: str, owner: str, pem: str) -> None:
        self.key = VerifiedKey(key_id, owner, pem, None, 0.0)
        self.fetches = 0

    async def get_key(self, key_id: str) -> VerifiedKey:
        self.fetches += 1
        assert key_id == self.key.id
        return self.key


def _unsigned_request(document: dict[str, Any]) -> HttpRequest:
    body = json.dumps(document).encode()
    return HttpRequest(
        "POST", "https://us.test/inbox", [("content-type", "application/json")], body
    )


async def test_inbox_refuses_hostile_ld_documents_with_401(rsa_key: Any) -> None:
    keys = _Keys(f"{MALLORY}#main-key", MALLORY, public_key_to_pem(rsa_key.public_key()))
    authenticator = Authenticator(keys)  # type: ignore[arg-type]
    labelled = seven_node_graph()
    with pytest.raises(UnauthenticatedActivityError, match="explicit blank node label") as info:
        await authenticator.authenticate(_unsigned_request(labelled), labelled)
    assert info.value.http_status == 401
    assert "\n" not in str(info.value)
    assert keys.fetches == 0  # refused before any key was fetched
    alike = identical_children(parents=2, tags=9)
    _bogus_signature(alike)
    with pytest.raises(UnauthenticatedActivityError, match=r"permutations|longer than"):
        await authenticator.authenticate(_unsigned_request(alike), alike)
    genuine = sign_ld_signature(
        _create(MALLORY, {"id": f"{MALLORY}/n/1", "type": "Note", "content": "hi"}),
        rsa_key,
        f"{MALLORY}#main-key",
    )
    accepted = await authenticator.authenticate(_unsigned_request(genuine), genuine)
    assert accepted.method == "ld-signature"
    assert accepted.document["object"]["content"] == "hi"
