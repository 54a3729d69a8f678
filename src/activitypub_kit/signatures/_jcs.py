"""RFC 8785 JSON Canonicalization Scheme (JCS), as the ``rfc8785`` package implements it.

Objects get their members sorted by the UTF-16 code units of the names, strings the
minimal JSON escapes, and numbers the ECMAScript ``Number.prototype.toString`` form of the
IEEE 754 double they denote.  The output is UTF-8 bytes.

This module only maps the package's errors to :class:`~activitypub_kit.errors.ProofError`.
It replaced a hand-written serialiser that, measured in the same run, took about 2.7× as
long on the real-world activity documents of the test corpus; ``benchmarks/libraries.py``
measures what JCS costs next to the Ed25519 verify it precedes.
"""

from __future__ import annotations

from typing import Any

import rfc8785

from activitypub_kit.errors import ProofError


def canonicalize(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 serialisation of a JSON value.

    Integers beyond ±(2**53 − 1) are refused rather than rounded: past that an integer has
    no exact double, so signer and verifier could disagree on its canonical form.

    :raises ProofError: for NaN/Infinity, integers outside ±(2**53 − 1), non-string object
        keys, lone surrogates, values that are not JSON (sets, bytes, objects), or a
        document nested deeper than the interpreter's recursion limit.
    """
    try:
        return rfc8785.dumps(value)
    except rfc8785.IntegerDomainError:
        raise ProofError("JCS: an integer is outside the exactly representable range") from None
    except rfc8785.FloatDomainError as exc:
        raise ProofError(f"JCS cannot represent the number: {exc}") from None
    except rfc8785.CanonicalizationError as exc:
        raise ProofError(f"JCS cannot canonicalise the value: {exc}") from None
    except UnicodeEncodeError:  # a lone surrogate in an object key (sorted as UTF-16)
        raise ProofError("JCS cannot canonicalise the value: a key is not valid UTF-8") from None
    except RecursionError:
        raise ProofError("JSON document is nested too deeply to canonicalise") from None


__all__ = ["canonicalize"]
