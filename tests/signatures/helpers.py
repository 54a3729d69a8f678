"""Helpers for the signature tests: raw HTTP text from the corpus -> message values."""

from __future__ import annotations

from activitypub_kit.signatures import HttpRequest, HttpResponse


def _split(raw: str) -> tuple[str, list[tuple[str, str]], str]:
    head, _, body = raw.partition("\n\n")
    # The corpus' proxy example has an extra blank line before its body (an extraction
    # artefact of the RFC text); HTTP bodies in these vectors never start with a newline.
    body = body.lstrip("\n")
    lines = head.split("\n")
    start, headers = lines[0], []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + "\n" + line)  # obs-fold, kept for the library
        else:
            name, _, value = line.partition(":")
            headers.append((name, value))
    return start, headers, body


def parse_request(raw: str, scheme: str = "https") -> HttpRequest:
    """Build an HttpRequest from raw HTTP/1.1 text (start line, headers, blank, body)."""
    start, headers, body = _split(raw)
    method, target, _ = start.split(" ")
    host = next((v.strip() for k, v in headers if k.lower() == "host"), "")
    if target.startswith(("http://", "https://")):
        return HttpRequest(method, target, headers, body.encode(), request_target=target)
    if target == "*" or method == "CONNECT":
        return HttpRequest(
            method, f"{scheme}://{host}/", headers, body.encode(), request_target=target
        )
    return HttpRequest(method, f"{scheme}://{host}{target}", headers, body.encode())


def parse_response(raw: str, request: HttpRequest | None = None) -> HttpResponse:
    """Build an HttpResponse from raw HTTP/1.1 text."""
    start, headers, body = _split(raw)
    status = int(start.split(" ")[1])
    return HttpResponse(status, headers, body.encode(), request)


def parse_message(raw: str, request: HttpRequest | None = None) -> HttpRequest | HttpResponse:
    """A request or a response, depending on the start line."""
    if raw.startswith("HTTP/"):
        return parse_response(raw, request)
    return parse_request(raw)
