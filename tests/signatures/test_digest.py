"""RFC 9530 and legacy Digest vectors, plus the digest rules."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activitypub_kit.errors import DigestError, DigestMismatchError, UnsupportedAlgorithmError
from activitypub_kit.signatures._digest import (
    choose_digest_algorithm,
    content_digest,
    legacy_digest,
    parse_digest_field,
    parse_legacy_digest,
    parse_want_digest,
    verify_content_digest,
    verify_legacy_digest,
)


@pytest.fixture(scope="module")
def rfc9530(corpus: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((corpus / "digest/rfc9530_vectors.json").read_text())
    return data


@pytest.fixture(scope="module")
def legacy(corpus: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((corpus / "digest/rfc3230_digest_vectors.json").read_text())
    return data


def _input(vector: dict[str, Any]) -> bytes:
    if "input_hex" in vector:
        return bytes.fromhex(vector["input_hex"].replace(" ", ""))
    return str(vector["input_text"]).encode()


def test_rfc9530_vectors(rfc9530: dict[str, Any]) -> None:
    matched = mismatched = syntax_only = 0
    for vector in rfc9530["vectors"]:
        value, field = vector["field_value"], vector["field"]
        expect = vector["expected_to_match_input"]
        if expect is None:
            # syntax example: members from different inputs; must parse into two digests
            assert set(parse_digest_field(value, field)) == {"sha-256", "sha-512"}
            syntax_only += 1
        elif expect:
            body = _input(vector)
            assert verify_content_digest(value, body, field) in ("sha-256", "sha-512")
            algorithm = value.split("=", 1)[0]
            assert content_digest(body, [algorithm]) == value
            matched += 1
        else:
            # documented errata: wrong digest of the shown bytes, or an extra '=' of padding
            with pytest.raises(DigestError):
                verify_content_digest(value, _input(vector), field)
            mismatched += 1
    assert (matched, mismatched, syntax_only) == (16, 6, 2)


def test_rfc9530_malformed_padding_errata_are_parse_errors(rfc9530: dict[str, Any]) -> None:
    padded = [v for v in rfc9530["vectors"] if "FabDg==:" in v["field_value"]]
    assert len(padded) == 3
    for vector in padded:
        with pytest.raises(DigestError, match=r"not a valid structured field|byte sequence"):
            parse_digest_field(vector["field_value"], vector["field"])
        fixed = vector["field_value"].replace("FabDg==:", "FabDg=:")
        verify_content_digest(fixed, _input(vector), vector["field"])


def test_rfc9530_brotli_errata_mismatch(rfc9530: dict[str, Any]) -> None:
    brotli = [v for v in rfc9530["vectors"] if "input_hex" in v]
    assert len(brotli) == 3
    for vector in brotli:
        with pytest.raises(DigestMismatchError, match="does not match the body"):
            verify_content_digest(vector["field_value"], _input(vector), vector["field"])


def test_appendix_d_sample_values(rfc9530: dict[str, Any]) -> None:
    sample = rfc9530["sample_digest_values"]
    body = sample["input_text"].encode()
    values = sample["values"]
    for algorithm in ("sha-256", "sha-512"):
        assert content_digest(body, [algorithm]) == f"{algorithm}={values[algorithm]}"
    # The insecure ones parse, decode to the right bytes, and are never trusted.
    assert base64.b64decode(values["md5"].strip(":")) == hashlib.md5(body).digest()
    assert base64.b64decode(values["sha"].strip(":")) == hashlib.sha1(body).digest()
    for insecure in ("md5", "sha", "unixsum", "unixcksum", "adler", "crc32c"):
        field = f"{insecure}={values[insecure]}"
        assert insecure in parse_digest_field(field)
        with pytest.raises(UnsupportedAlgorithmError, match="sha-256 or sha-512 is required"):
            verify_content_digest(field, body)


def test_want_digest_examples(rfc9530: dict[str, Any]) -> None:
    parsed = []
    for example in rfc9530["want_digest_examples"][0]["examples"]:
        name, _, value = example.partition(": ")
        parsed.append(parse_want_digest(value, name))
    assert parsed[0] == {"sha-256": 1}
    assert parsed[1] == {"sha-512": 3, "sha-256": 10, "unixsum": 0}
    assert choose_digest_algorithm(parsed[1]) == "sha-256"
    assert choose_digest_algorithm({"md5": 10}) is None
    with pytest.raises(DigestError, match="integer 0-10"):
        parse_want_digest("sha-256=11")


def test_legacy_digest_vectors(legacy: dict[str, Any]) -> None:
    for vector in legacy["vectors"]:
        value = vector["header"].removeprefix("Digest: ")
        body = vector["input_text"].encode()
        algorithm = value.split("=", 1)[0].lower()
        if algorithm in ("sha-256", "sha-512"):
            assert verify_legacy_digest(value, body) == algorithm
            assert legacy_digest(body, algorithm).lower() == value.lower()
        else:
            with pytest.raises(UnsupportedAlgorithmError):
                verify_legacy_digest(value, body)


def test_legacy_syntax_examples(legacy: dict[str, Any]) -> None:
    values = legacy["rfc3230_syntax_examples"]["values"]
    assert parse_legacy_digest(values[0].removeprefix("Digest: ")) == {
        "md5": "HUXZLQLMuI/KZ5KDcJPcOA=="
    }
    assert parse_legacy_digest(values[1].removeprefix("Digest: ")) == {
        "sha": "thvDyvhfIqlvFe+A9MYgxAfm1q5=",
        "unixsum": "30637",
    }


def test_one_wrong_member_fails_the_field() -> None:
    body = b'{"hello": "world"}'
    good = content_digest(body, ["sha-256"])
    bad512 = content_digest(b"other", ["sha-512"])
    with pytest.raises(DigestMismatchError, match="sha-512 does not match"):
        verify_content_digest(f"{good}, {bad512}", body)
    with pytest.raises(DigestMismatchError):
        verify_legacy_digest(f"{legacy_digest(body)},{legacy_digest(b'x', 'sha-512')}", body)


def test_digest_field_errors() -> None:
    with pytest.raises(DigestError, match="Content-Digest header is missing"):
        verify_content_digest(None, b"")
    with pytest.raises(DigestError, match="Digest header is missing"):
        verify_legacy_digest(None, b"")
    with pytest.raises(DigestError, match="not a byte sequence"):
        parse_digest_field("sha-256=abc")
    with pytest.raises(DigestError, match="repeats"):
        parse_digest_field("sha-256=:AA==:, sha-256=:AA==:")
    with pytest.raises(DigestError, match="not valid padded base64"):
        verify_legacy_digest("SHA-256=not base64!", b"")
    with pytest.raises(DigestError, match="repeats the algorithm"):
        parse_legacy_digest("SHA-256=a, sha-256=b")
    with pytest.raises(UnsupportedAlgorithmError, match="md5"):
        content_digest(b"", ["md5"])


@given(st.binary(max_size=256), st.binary(min_size=1, max_size=256))
def test_digest_detects_any_other_body(body: bytes, other: bytes) -> None:
    value = content_digest(body, ["sha-256", "sha-512"])
    assert verify_content_digest(value, body) == "sha-512"
    legacy_value = legacy_digest(body)
    assert verify_legacy_digest(legacy_value, body) == "sha-256"
    if other != body:
        with pytest.raises(DigestMismatchError):
            verify_content_digest(value, other)
        with pytest.raises(DigestMismatchError):
            verify_legacy_digest(legacy_value, other)
