"""Byte encodings used by signatures and keys: base64, base58btc, multibase, multicodec."""

from __future__ import annotations

import base64
import binascii
import re

from activitypub_kit.errors import KeyFormatError, MalformedSignatureError

_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58_ALPHABET)}


def b64encode(data: bytes) -> str:
    """Standard base64 with padding, as text."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str | bytes, *, what: str = "base64 value") -> bytes:
    """Strictly decode standard, padded base64.

    :raises MalformedSignatureError: naming ``what`` when ``text`` is not valid base64.
    """
    try:
        raw = text.encode("ascii") if isinstance(text, str) else text
        return binascii.a2b_base64(raw, strict_mode=True)
    except (binascii.Error, ValueError):
        raise MalformedSignatureError(f"{what} is not valid padded base64") from None


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url (JWK, RFC 7515)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str, *, what: str = "base64url value") -> bytes:
    """Decode unpadded (or padded) base64url.

    :raises KeyFormatError: naming ``what`` when ``text`` is not base64url.
    """
    if not isinstance(text, str) or not re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", text):
        raise KeyFormatError(f"{what} is not base64url")
    stripped = text.rstrip("=")
    try:
        return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except (binascii.Error, ValueError):
        raise KeyFormatError(f"{what} is not base64url") from None


def b58encode(data: bytes) -> str:
    """Bitcoin-alphabet base58 (``base58btc``)."""
    zeros = len(data) - len(data.lstrip(b"\0"))
    number = int.from_bytes(data, "big")
    out = []
    while number:
        number, rem = divmod(number, 58)
        out.append(_B58_ALPHABET[rem])
    return "1" * zeros + "".join(reversed(out))


def b58decode(text: str, *, what: str = "base58btc value") -> bytes:
    """Decode Bitcoin-alphabet base58.

    :raises KeyFormatError: naming ``what`` on a character outside the alphabet.
    """
    number = 0
    for char in text:
        digit = _B58_INDEX.get(char)
        if digit is None:
            raise KeyFormatError(f"{what} contains {char!r}, which is not base58btc")
        number = number * 58 + digit
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + body


def multibase_encode(data: bytes) -> str:
    """Multibase ``z`` (base58btc) encoding."""
    return "z" + b58encode(data)


def multibase_decode(text: str, *, what: str = "multibase value") -> bytes:
    """Decode a multibase ``z`` (base58btc) string; other bases are refused.

    :raises KeyFormatError: when ``text`` is not a ``z``-prefixed base58btc string.
    """
    if not isinstance(text, str) or not text.startswith("z") or len(text) < 2:
        raise KeyFormatError(f"{what} must be multibase base58btc (start with 'z')")
    return b58decode(text[1:], what=what)


def varint_encode(number: int) -> bytes:
    """Unsigned LEB128 varint (multicodec prefixes)."""
    out = bytearray()
    while True:
        byte = number & 0x7F
        number >>= 7
        if number:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def varint_decode(data: bytes, *, what: str = "multicodec prefix") -> tuple[int, int]:
    """Decode an unsigned varint at the start of ``data``; return ``(value, length)``.

    :raises KeyFormatError: when ``data`` ends inside the varint or it is over 9 bytes.
    """
    value = 0
    for index, byte in enumerate(data[:9]):
        value |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            return value, index + 1
    raise KeyFormatError(f"{what} is not a valid varint")


__all__ = [
    "b64encode",
    "b64decode",
    "b64url_encode",
    "b64url_decode",
    "b58encode",
    "b58decode",
    "multibase_encode",
    "multibase_decode",
    "varint_encode",
    "varint_decode",
]
