"""RFC 8785 JSON Canonicalization Scheme (JCS).

Objects get their members sorted by the UTF-16 code units of the names, strings the
minimal JSON escapes, and numbers the ECMAScript ``Number.prototype.toString`` form of the
IEEE 754 double they denote.  The output is UTF-8 bytes.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from activitypub_kit.errors import ProofError

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


_MAX_SAFE_INTEGER = 2**53 - 1


def _string(value: str) -> str:
    out = ['"']
    for char in value:
        escaped = _ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
        elif char < " ":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _number(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        raise ProofError(f"JCS cannot represent the number {value!r}")
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    # The shortest round-tripping digits (what repr gives) are what ECMAScript uses.
    _, digits_tuple, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, digits_tuple))
    k = len(digits)
    n = k + int(exponent)  # value = 0.digits * 10**n
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = f"{digits[:n]}.{digits[n:]}"
    elif -6 < n <= 0:
        text = "0." + "0" * (-n) + digits
    else:
        exp = n - 1
        mantissa = digits if k == 1 else f"{digits[0]}.{digits[1:]}"
        text = f"{mantissa}e{'+' if exp >= 0 else '-'}{abs(exp)}"
    return sign + text


def _sort_key(name: str) -> list[int]:
    encoded = name.encode("utf-16-be")
    return [int.from_bytes(encoded[i : i + 2], "big") for i in range(0, len(encoded), 2)]


def _serialize(value: Any, out: list[str], depth: int) -> None:
    if depth > 256:
        raise ProofError("JSON document is nested deeper than 256 levels")
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, int):
        if abs(value) > _MAX_SAFE_INTEGER:
            # Beyond 2**53 an integer has no exact double: signer and verifier could
            # disagree on its canonical form, so refuse it (as the rfc8785 package does).
            raise ProofError(f"integer {value} is outside the exactly representable range")
        out.append(str(value))
    elif isinstance(value, float):
        out.append(_number(value))
    elif isinstance(value, dict):
        out.append("{")
        for index, name in enumerate(sorted(value, key=_sort_key)):
            if not isinstance(name, str):
                raise ProofError(f"JSON object key {name!r} is not a string")
            if index:
                out.append(",")
            out.append(_string(name))
            out.append(":")
            _serialize(value[name], out, depth + 1)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _serialize(item, out, depth + 1)
        out.append("]")
    else:
        raise ProofError(f"JCS cannot serialise a {type(value).__name__}")


def canonicalize(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 serialisation of a JSON value.

    :raises ProofError: for NaN/Infinity, non-string keys or non-JSON types.
    """
    out: list[str] = []
    _serialize(value, out, 0)
    try:
        return "".join(out).encode("utf-8")
    except UnicodeEncodeError:
        raise ProofError("JSON string holds a lone surrogate, which JCS cannot encode") from None


__all__ = ["canonicalize"]
