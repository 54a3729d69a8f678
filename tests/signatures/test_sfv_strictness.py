"""Structured-field inputs RFC 8941/9651 require a parser to refuse.

These are the reasons (besides speed, see ``benchmarks/libraries.py``) that
``activitypub_kit.signatures._sfv`` is kept instead of ``http-sfv``: version 0.9.9 of that
package accepts the first three, and a signature field one parser accepts and another
refuses is a parser differential.
"""

from __future__ import annotations

import pytest

from activitypub_kit.errors import MalformedSignatureError
from activitypub_kit.signatures import parse_rfc9421
from activitypub_kit.signatures._message import HttpRequest
from activitypub_kit.signatures._sfv import parse_dictionary, parse_item, parse_list


@pytest.mark.parametrize(
    "text",
    [
        "1.",  # a decimal needs a fractional digit
        ":=aGVsbG8=:",  # base64 padding before the data
        ":a=GVsbG8=:",  # base64 padding inside the data
        ":aGVsbG8.:",
        "1.1234",  # at most three fractional digits
        "1234567890123.0",  # at most twelve integer digits
        "1234567890123456",  # at most fifteen digits
        "-",
        '"\x7f"',
        '"a\\b"',  # only \" and \\ are escapes
        "?2",
        "@1.5",  # a date is an integer
        "a;A=1",  # keys are lower case
        "é",
    ],
)
def test_item_refused(text: str) -> None:
    with pytest.raises(MalformedSignatureError):
        parse_item(text)


@pytest.mark.parametrize("text", ["a=1,", "a=1,,b=2", "A=1", "a=(1 2", "a=(1,2)", "a=1 b=2"])
def test_dictionary_refused(text: str) -> None:
    with pytest.raises(MalformedSignatureError):
        parse_dictionary(text)


@pytest.mark.parametrize("text", ["1,", ",1", "(1)(2)", "1 2"])
def test_list_refused(text: str) -> None:
    with pytest.raises(MalformedSignatureError):
        parse_list(text)


@pytest.mark.parametrize("signature", ["sig1=:=aGVsbG8=:", "sig1=:a=GVsbG8=:"])
def test_signature_with_misplaced_padding_refused(signature: str) -> None:
    """The same inputs reach the parser through a ``Signature`` header."""
    request = HttpRequest(
        "POST",
        "https://inbox.example/inbox",
        [("Signature-Input", 'sig1=("@method");created=1;keyid="k"'), ("Signature", signature)],
        b"",
    )
    with pytest.raises(MalformedSignatureError, match="not base64"):
        parse_rfc9421(request)
