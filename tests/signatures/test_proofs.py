"""FEP-8b32 / eddsa-jcs-2022 vectors, JCS (the rfc8785 package) edge cases, proof rules."""

from __future__ import annotations

import copy
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given
from hypothesis import strategies as st

from activitypub_kit.errors import ProofError
from activitypub_kit.signatures import (
    canonicalize,
    create_proof,
    multibase_to_private_key,
    multibase_to_public_key,
    parse_proof,
    verify_proof,
)
from activitypub_kit.signatures._encoding import b58encode
from activitypub_kit.signatures._proofs import hash_data


@pytest.fixture(scope="module")
def fep(corpus: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (corpus / "integrity-proofs/fep/fep-8b32_vectors.json").read_text()
    )
    return data


@pytest.fixture(scope="module")
def vc(corpus: Path) -> Path:
    return corpus / "integrity-proofs/vc-di-eddsa/TestVectors"


def test_fep_8b32_proof_reproduced(fep: dict[str, Any]) -> None:
    case = fep["cases"][0]
    key = multibase_to_private_key(case["secret_key_multibase"])
    signed = create_proof(
        case["input_document"], key, case["verification_method"], created=case["current_time"]
    )
    assert signed == case["expected_signed_document"]
    assert signed["proof"]["proofValue"] == case["expected_signed_document"]["proof"]["proofValue"]


def test_fep_8b32_verification(fep: dict[str, Any]) -> None:
    case = fep["cases"][1]
    method = case["actor"]["assertionMethod"][0]
    proof = parse_proof(case["signed_document"])
    assert proof.verification_method == method["id"]
    key = multibase_to_public_key(method["publicKeyMultibase"])
    unsecured = verify_proof(case["signed_document"], proof, key)
    assert "proof" not in unsecured
    assert unsecured["object"]["location"]["longitude"] == -71.184902


def test_vc_di_eddsa_jcs_every_intermediate(vc: Path) -> None:
    pair = json.loads((vc / "keyPair.json").read_text())
    unsigned = json.loads((vc / "unsigned.json").read_text())
    config = json.loads((vc / "eddsa-jcs-2022/proofConfigJCS.json").read_text())
    text = lambda name: (vc / "eddsa-jcs-2022" / name).read_text().strip()  # noqa: E731
    assert canonicalize(unsigned).decode() == text("canonDocJCS.txt")
    assert canonicalize(config).decode() == text("proofCanonJCS.txt")
    assert hashlib.sha256(canonicalize(unsigned)).hexdigest() == text("docHashJCS.txt")
    assert hashlib.sha256(canonicalize(config)).hexdigest() == text("proofHashJCS.txt")
    assert hash_data(unsigned, config).hex() == text("combinedHashJCS.txt")
    key = multibase_to_private_key(pair["privateKeyMultibase"])
    signed = create_proof(unsigned, key, config["verificationMethod"], created=config["created"])
    assert key.sign(hash_data(unsigned, config)).hex() == text("sigHexJCS.txt")
    assert "z" + b58encode(bytes.fromhex(text("sigHexJCS.txt"))) == text("sigBTC58JCS.txt")
    expected = json.loads((vc / "eddsa-jcs-2022/signedJCS.json").read_text())
    assert signed["proof"]["proofValue"] == expected["proof"]["proofValue"]
    assert signed == expected
    public = multibase_to_public_key(pair["publicKeyMultibase"])
    verify_proof(expected, parse_proof(expected), public)


def _signed(fep: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    case = fep["cases"][1]
    key = multibase_to_public_key(case["actor"]["assertionMethod"][0]["publicKeyMultibase"])
    return copy.deepcopy(case["signed_document"]), key


def test_tampered_document_is_rejected(fep: dict[str, Any]) -> None:
    document, key = _signed(fep)
    document["object"]["content"] = "Goodbye world"
    with pytest.raises(ProofError, match="does not verify over the document"):
        verify_proof(document, parse_proof(document), key)


def test_float_re_serialisation_is_still_valid(fep: dict[str, Any]) -> None:
    """JCS: 25.273962 and 25.2739620 are one number; the proof still verifies."""
    document, key = _signed(fep)
    reparsed = json.loads(json.dumps(document).replace("25.273962", "25.2739620"))
    verify_proof(reparsed, parse_proof(reparsed), key)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p.update(proofPurpose="authentication"), "proofPurpose is 'authentication'"),
        (lambda p: p.update(cryptosuite="eddsa-rdfc-2022"), "cryptosuite 'eddsa-rdfc-2022'"),
        (lambda p: p.update(type="Ed25519Signature2020"), "not DataIntegrityProof"),
        (lambda p: p.pop("verificationMethod"), "no verificationMethod"),
        (lambda p: p.update(proofValue="zabc"), "not 64"),
        (lambda p: p.update(proofValue="uAAAA"), "multibase base58btc"),
        (lambda p: p.update({"@context": ["https://example.com/other"]}), "not a prefix"),
        (
            lambda p: p.update(verificationMethod="https://evil.example/users/alice#key"),
            "not on the origin",
        ),
    ],
)
def test_proof_rules(fep: dict[str, Any], mutate: Any, message: str) -> None:
    document, key = _signed(fep)
    mutate(document["proof"])
    with pytest.raises(ProofError, match=message):
        verify_proof(document, parse_proof(document), key)


def test_proof_sets_and_absent_proofs(fep: dict[str, Any]) -> None:
    document, key = _signed(fep)
    single = copy.deepcopy(document)
    single["proof"] = [single["proof"]]
    verify_proof(single, parse_proof(single), key)
    double = copy.deepcopy(document)
    double["proof"] = [document["proof"], document["proof"]]
    with pytest.raises(ProofError, match="2 proofs"):
        parse_proof(double)
    del document["proof"]
    with pytest.raises(ProofError, match="no proof object"):
        parse_proof(document)


def test_create_refuses_existing_proof_and_wrong_key(fep: dict[str, Any], rsa_key: Any) -> None:
    case = fep["cases"][0]
    key = multibase_to_private_key(case["secret_key_multibase"])
    with pytest.raises(ProofError, match="already has a proof"):
        create_proof(case["expected_signed_document"], key, "https://server.example/k")
    with pytest.raises(ProofError, match="Ed25519 private key"):
        create_proof(case["input_document"], rsa_key, "https://server.example/k")


# --- JCS --------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**54), max_value=2**54)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_jcs_is_a_fixed_point_and_raises_only_proof_error(value: Any) -> None:
    """Any value either canonicalises or raises ProofError (never a package or codec error);
    the canonical form parses back to a value whose canonical form is itself."""
    try:
        canonical = canonicalize(value)
    except ProofError:
        return
    # Numbers are doubles in JCS: 2.0**53 canonicalises to "9007199254740992", an integer
    # text that only a double may carry.
    assert canonicalize(json.loads(canonical, parse_int=float)) == canonical


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (0.0, "0"), (-0.0, "0"), (1e21, "1e+21"), (1e20, "100000000000000000000"),
        (1e-7, "1e-7"), (0.000001, "0.000001"), (-1.5, "-1.5"), (123.456, "123.456"),
        (5e-324, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"),
        (2.0**60, "1152921504606847000"), (333333333.3333333, "333333333.3333333"),
    ],
)  # fmt: skip
def test_jcs_numbers(number: float, text: str) -> None:
    assert canonicalize(number).decode() == text


def test_jcs_rejects_non_json() -> None:
    with pytest.raises(ProofError, match="cannot represent"):
        canonicalize(math.nan)
    with pytest.raises(ProofError, match="cannot represent"):
        canonicalize(-math.inf)
    with pytest.raises(ProofError, match="unsupported type"):
        canonicalize({1, 2})
    with pytest.raises(ProofError, match="unsupported type"):
        canonicalize({"a": b"bytes"})
    with pytest.raises(ProofError, match="outside the exactly representable range"):
        canonicalize(2**53)
    with pytest.raises(ProofError, match="outside the exactly representable range"):
        canonicalize([-(2**53)])
    with pytest.raises(ProofError, match="non-UTF-8"):
        canonicalize("\ud800")
    with pytest.raises(ProofError, match="key is not valid UTF-8"):
        canonicalize({"\udfff": 1})


def test_jcs_integer_edges() -> None:
    """±(2**53 − 1) is the widest integer JCS can carry exactly; -0.0 is "0"."""
    edges = [2**53 - 1, -(2**53 - 1), -0.0]
    assert canonicalize(edges) == b"[9007199254740991,-9007199254740991,0]"


def test_jcs_refuses_non_string_keys_with_a_typed_error() -> None:
    # The hand-written serialiser sorted the keys before checking them and let an
    # AttributeError escape for a mixed-key object.
    with pytest.raises(ProofError, match="keys must be strings"):
        canonicalize({1: "a", "b": 2})
    with pytest.raises(ProofError, match="keys must be strings"):
        canonicalize({(1, 2): "a"})


def test_jcs_refuses_a_too_deep_document_with_a_typed_error() -> None:
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(ProofError, match="nested too deeply"):
        canonicalize(deep)


def test_jcs_is_the_rfc8785_package() -> None:
    """The canonical form is the well-kept package's, byte for byte (no second implementation)."""
    document = {"b": [1.5, 1e21, 1e-7, "\u2028\x7f\x1f"], "a": {"\U0001f600": None, "\ufb33": True}}
    assert canonicalize(document) == rfc8785.dumps(document)


def test_jcs_sorts_by_utf16_code_units() -> None:
    # U+1F600 (surrogates D83D DE00) sorts before U+FB33 in UTF-16, after it in code points.
    value = {"\ufb33": 1, "\U0001f600": 2, "a": 3}
    assert canonicalize(value) == '{"a":3,"\U0001f600":2,"\ufb33":1}'.encode()


def test_fep_c390_identity_proof(corpus: Path) -> None:
    """FEP-c390 identity proofs use the same suite on a document without @context."""
    cases = json.loads((corpus / "integrity-proofs/fep/fep-c390_vectors.json").read_text())["cases"]
    create, check = cases
    key = multibase_to_private_key(create["private_key_multibase"])
    signed = create_proof(
        create["expected_identity_claim"], key, create["did"], created=create["current_time"]
    )
    assert signed == create["expected_identity_proof"]
    statement = check["actor"]["attachment"][0]
    proof = parse_proof(statement)
    public = multibase_to_public_key(proof.verification_method.removeprefix("did:key:"))
    verify_proof(statement, proof, public)


def test_an_activitystreams_document_gets_the_context_that_defines_proof():
    key = ed25519.Ed25519PrivateKey.generate()
    method = "https://a.example/users/alice#ed25519-key"
    bare = {"@context": "https://www.w3.org/ns/activitystreams", "type": "Note", "id": "x"}
    signed = create_proof(bare, key, method, now=0)
    assert signed["@context"] == [
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/data-integrity/v1",
    ]
    assert signed["proof"]["@context"] == signed["@context"]
    verify_proof(signed, parse_proof(signed), key.public_key())
    with_v2 = {
        **bare,
        "@context": [bare["@context"], "https://w3id.org/security/data-integrity/v2"],
    }
    assert create_proof(with_v2, key, method, now=0)["@context"] == with_v2["@context"]
    other = {"@context": "https://www.w3.org/ns/credentials/v2", "type": "VerifiableCredential"}
    assert create_proof(other, key, method, now=0)["@context"] == other["@context"]
