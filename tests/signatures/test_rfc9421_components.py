"""The 23 RFC 9421 Section 2 component examples from the corpus."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from activitypub_kit.signatures import Headers, HttpRequest, HttpResponse
from activitypub_kit.signatures._components import component_value
from activitypub_kit.signatures._sfv import parse_component_id

from .helpers import parse_message, parse_request

_LINE = re.compile(r'^("[^"]*"(?:;[a-z]+(?:=(?:"[^"]*"|[^;:"]+))?)*): (.*)$', re.S)


def _examples(corpus: Path) -> list[dict[str, Any]]:
    path = corpus / "http-signatures/rfc9421/rfc9421_component_examples.json"
    examples: list[dict[str, Any]] = json.loads(path.read_text())["examples"]
    return examples


def _message(example: dict[str, Any]) -> HttpRequest | HttpResponse:
    raw = example["input"]
    if raw is None:  # "@query" of a request without a query
        return HttpRequest("GET", "https://www.example.com/path")
    if "Trailer:" in raw:
        head, _, rest = raw.partition("\n\n")
        trailer_line = rest.strip().splitlines()[-1]
        name, _, value = trailer_line.partition(":")
        response = parse_message(head)
        assert isinstance(response, HttpResponse)
        return HttpResponse(
            response.status,
            response.headers,
            b"HTTPMessageSignatures",
            trailers=Headers([(name, value)]),
        )
    if raw.split(" ", 1)[0].isupper() or raw.startswith("HTTP/"):
        scheme = "http" if example["title"] == "@scheme" else "https"
        if raw.startswith("HTTP/"):
            return parse_message(raw)
        return parse_request(raw, scheme=scheme)
    return parse_request("GET / HTTP/1.1\n" + raw)


def _lines(example: dict[str, Any]) -> list[str]:
    expected = example["expected"]
    lines: list[str] = []
    for key in ("signature_base_lines", "line", "plain_line", "raw_value_line", "sf_value_line",
                "bs_line"):  # fmt: skip
        if key in expected:
            lines.extend(
                expected[key].split("\n") if key == "signature_base_lines" else [expected[key]]
            )
    return lines


def _render(message: HttpRequest | HttpResponse, line: str) -> str:
    match = _LINE.match(line)
    assert match, line
    ident = match.group(1)
    return f"{ident}: {component_value(message, parse_component_id(ident))}"


def test_there_are_23_examples(corpus: Path) -> None:
    assert len(_examples(corpus)) == 23


@pytest.mark.parametrize("index", range(23))
def test_component_example(corpus: Path, index: int) -> None:
    example = _examples(corpus)[index]
    message = _message(example)
    expected_lines = _lines(example)
    assert expected_lines
    if example.get("expected_invalid"):
        # The counter-example shows values that were NOT re-encoded; ours must differ.
        ours = [
            component_value(message, parse_component_id(f'"@query-param";name="{name}"'))
            for name in ("var", "bar")
        ]
        assert ours == ["this%20is%20a%20big%0Amultiline%20value", "with%20plus%20whitespace"]
        assert "this is a big" not in ours[0]
        return
    for line in expected_lines:
        assert _render(message, line) == line
    if "value" in example["expected"]:
        ident = _LINE.match(expected_lines[0]).group(1)  # type: ignore[union-attr]
        assert component_value(message, parse_component_id(ident)) == example["expected"]["value"]
