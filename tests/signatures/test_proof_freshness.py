"""FEP-8b32 proofs that stand in for an HTTP signature must be fresh (``check_proof_time``).

``verify_proof`` itself never looks at the time (a proof on an object fetched from its origin
stays valid); an inbox calls ``check_proof_time`` so a captured activity cannot be replayed.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activitypub_kit.errors import ClockSkewError, ProofError
from activitypub_kit.signatures import (
    DataIntegrityProof,
    TimeWindow,
    check_created,
    check_proof_time,
    create_proof,
    parse_proof,
    verify_proof,
)
from activitypub_kit.signatures._clock import _parse_xsd_datetime
from activitypub_kit.signatures._encoding import multibase_encode
from activitypub_kit.signatures._proofs import CRYPTOSUITE, hash_data

NOW = 1_732_000_000  # 2024-11-19T07:06:40Z
STAMP = "2024-11-19T07:06:40Z"
HOUR, DAY, YEAR = 3600, 86400, 365 * 86400
ACTOR = "https://sender.example/users/alice"
METHOD = f"{ACTOR}#ed25519-key"
NOTE = {
    "@context": "https://www.w3.org/ns/activitystreams",
    "id": f"{ACTOR}/statuses/1/activity",
    "type": "Create",
    "actor": ACTOR,
    "object": {"id": f"{ACTOR}/statuses/1", "type": "Note", "content": "Hello"},
}


def _stamp(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _signed(key: Any, **times: str) -> dict[str, Any]:
    """A document with an eddsa-jcs-2022 proof whose options (created, expires) are signed."""
    options: dict[str, Any] = {
        "@context": [NOTE["@context"], "https://w3id.org/security/data-integrity/v1"],
        "type": "DataIntegrityProof",
        "cryptosuite": CRYPTOSUITE,
        "verificationMethod": METHOD,
        "proofPurpose": "assertionMethod",
        **times,
    }
    document = {**NOTE, "@context": options["@context"]}
    value = multibase_encode(key.sign(hash_data(document, options)))
    return {**document, "proof": {**options, "proofValue": value}}


def _proof(key: Any, **times: str) -> DataIntegrityProof:
    document = _signed(key, **times)
    proof = parse_proof(document)
    verify_proof(document, proof, key.public_key())  # the signature itself is always good
    return proof


def test_fresh_proof_is_accepted(ed_key: Any) -> None:
    proof = parse_proof(create_proof(NOTE, ed_key, METHOD, now=NOW))
    assert proof.created == STAMP
    check_proof_time(proof, now=NOW)
    check_proof_time(proof, now=NOW + HOUR)
    check_proof_time(proof, now=NOW - 300)  # the signer's clock is 5 minutes fast


def test_old_proof_verifies_but_is_not_fresh(ed_key: Any) -> None:
    signed = create_proof(NOTE, ed_key, METHOD, now=NOW - 25 * YEAR)
    proof = parse_proof(signed)
    verify_proof(signed, proof, ed_key.public_key())  # still a valid proof of authorship
    with pytest.raises(ClockSkewError, match=r"^proof created is 788400000s old") as info:
        check_proof_time(proof, now=NOW)
    assert info.value.skew == -25 * YEAR
    with pytest.raises(ClockSkewError, match="proof created is 3601s old"):
        check_proof_time(parse_proof(create_proof(NOTE, ed_key, METHOD, now=NOW)), now=NOW + 3601)


def test_proof_from_the_future_is_refused(ed_key: Any) -> None:
    proof = parse_proof(create_proof(NOTE, ed_key, METHOD, now=NOW + 600))
    with pytest.raises(ClockSkewError, match=re.escape("proof created is 600s in the future")):
        check_proof_time(proof, now=NOW)
    check_proof_time(proof, now=NOW + 300)


def test_missing_created_is_refused(ed_key: Any) -> None:
    proof = _proof(ed_key)
    assert proof.created is None
    with pytest.raises(ProofError, match="proof has no created time"):
        check_proof_time(proof, now=NOW)


@pytest.mark.parametrize(
    "created",
    [
        "yesterday",
        "1732000000",
        "2024-11-19",
        "2024-11-19 07:06:40Z",
        "2024-11-19t07:06:40z",
        "2024-11-19T07:06Z",
        "2024-11-19T07:06:40.Z",
        "2024-11-19T07:06:40+0000",
        "2024-11-19T07:06:40+15:00",
        "2024-11-19T07:06:40+05:60",
        "2024-11-19T07:06:40ZZ",
        " 2024-11-19T07:06:40Z",
        "2024-11-19T07:06:40Z\n",
        "2024-02-30T07:06:40Z",
        "2024-13-19T07:06:40Z",
        "0000-01-01T00:00:00Z",
        "2024-11-19T25:00:00Z",
        "2024-11-19T24:00:01Z",
        "2024-11-19T07:60:40Z",
        "2024-11-19T07:06:60Z",
        "+2024-11-19T07:06:40Z",
        "12024-11-19T07:06:40Z",
        "２０２４-11-19T07:06:40Z",  # full-width digits are not ASCII digits
    ],
)
def test_unparsable_created_is_refused(ed_key: Any, created: str) -> None:
    proof = parse_proof(create_proof(NOTE, ed_key, METHOD, created=created))
    with pytest.raises(ProofError, match=r"proof created .* is not an XML Schema dateTime"):
        check_proof_time(proof, now=NOW)


@pytest.mark.parametrize(
    "created",
    [
        STAMP,
        "2024-11-19T07:06:40.000Z",
        "2024-11-19T07:06:40.123456789123Z",
        "2024-11-19T07:06:40+00:00",
        "2024-11-19T07:06:40-00:00",
        "2024-11-19T07:06:40.5+00:00",
        "2024-11-19T09:06:40+02:00",
        "2024-11-19T02:36:40-04:30",
        "2024-11-19T21:06:40+14:00",
        "2024-11-19T07:06:40",  # no timezone: read as UTC
    ],
)
def test_fractions_and_offsets_are_accepted(ed_key: Any, created: str) -> None:
    check_proof_time(parse_proof(create_proof(NOTE, ed_key, METHOD, created=created)), now=NOW)
    # The offsets are applied, not ignored: within a second of NOW, no more.
    tight = TimeWindow(max_age=1, max_future=1)
    check_created(created, now=NOW, window=tight)
    with pytest.raises(ClockSkewError, match="proof created is 2s in the future"):
        check_created(created, now=NOW - 2, window=tight)
    with pytest.raises(ClockSkewError, match=r"proof created is [12]s old"):
        check_created(created, now=NOW + 2, window=tight)


def test_empty_created_is_refused() -> None:
    with pytest.raises(ProofError, match="proof created '' is not an XML Schema dateTime"):
        check_created("", now=NOW)


def test_midnight_24_ends_the_day() -> None:
    assert _parse_xsd_datetime("2024-11-19T24:00:00Z") == _parse_xsd_datetime(
        "2024-11-20T00:00:00Z"
    )


@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.integers(-14 * 60, 14 * 60),
    st.sampled_from(["seconds", "milliseconds", "microseconds"]),
)
def test_isoformat_round_trips(moment: datetime, offset: int, spec: str) -> None:
    kept = {"seconds": 0, "milliseconds": moment.microsecond // 1000 * 1000}
    moment = moment.replace(microsecond=kept.get(spec, moment.microsecond))
    aware = moment.replace(tzinfo=timezone(timedelta(minutes=offset)))
    text = aware.isoformat(timespec=spec)
    parsed = _parse_xsd_datetime(text)
    assert parsed is not None
    assert parsed == pytest.approx(aware.timestamp(), abs=1e-3)
    if offset == 0:
        assert _parse_xsd_datetime(text.replace("+00:00", "Z")) == parsed


def test_expires_is_honoured_with_the_lifetime_cap(ed_key: Any) -> None:
    # Expires within 12 hours: accepted past max_age, until expires (plus skew).
    six = _proof(ed_key, created=STAMP, expires=_stamp(NOW + 6 * HOUR))
    check_proof_time(six, now=NOW + 6 * HOUR + 300)
    with pytest.raises(ClockSkewError, match="signature expired 301s ago"):
        check_proof_time(six, now=NOW + 6 * HOUR + 301)
    # Expires 13 hours ahead: cut at 12.
    thirteen = _proof(ed_key, created=STAMP, expires=_stamp(NOW + 13 * HOUR))
    check_proof_time(thirteen, now=NOW + 12 * HOUR + 300)
    with pytest.raises(ClockSkewError, match="signature lifetime 46800s exceeds the 43200s limit"):
        check_proof_time(thirteen, now=NOW + 12 * HOUR + 301)
    # Created 30 days ago, expires in 10 years: refused.
    forever = _proof(ed_key, created=_stamp(NOW - 30 * DAY), expires=_stamp(NOW + 10 * YEAR))
    with pytest.raises(ClockSkewError, match=r"signature lifetime \d+s exceeds the 43200s limit"):
        check_proof_time(forever, now=NOW)
    # Expires before created: refused.
    backwards = _proof(ed_key, created=STAMP, expires=_stamp(NOW - 60))
    with pytest.raises(ClockSkewError, match="signature expires before it was made"):
        check_proof_time(backwards, now=NOW)
    # A longer lifetime is the caller's choice.
    check_proof_time(thirteen, now=NOW + 13 * HOUR, window=TimeWindow(max_lifetime=DAY))


def test_bad_expires_is_refused(ed_key: Any) -> None:
    with pytest.raises(ProofError, match="proof expires 'never' is not an XML Schema dateTime"):
        check_proof_time(_proof(ed_key, created=STAMP, expires="never"), now=NOW)
    document = _signed(ed_key, created=STAMP)
    document["proof"]["expires"] = 2_000_000_000
    with pytest.raises(ProofError, match="proof expires is not a string"):
        check_proof_time(parse_proof(document), now=NOW)


def test_check_created_is_generic() -> None:
    """The same check serves other proofs (RsaSignature2017 ``created``)."""
    check_created(STAMP, now=NOW, what="LD signature")
    with pytest.raises(ProofError, match="LD signature has no created time"):
        check_created(None, now=NOW, what="LD signature")
    with pytest.raises(ClockSkewError, match="LD signature created is 7200s old"):
        check_created(STAMP, now=NOW + 2 * HOUR, what="LD signature")
    check_created(STAMP, now=NOW + 2 * HOUR, window=TimeWindow(max_age=DAY))
