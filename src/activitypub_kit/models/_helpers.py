"""Answers to the everyday questions, whatever shape the sender chose.

A property may hold an IRI, a :class:`~activitypub_kit.models.Link`, an embedded object, or a
list of those; these helpers accept all of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from activitypub_kit.models._base import ASModel
from activitypub_kit.models._jsonld import AS_NS

if TYPE_CHECKING:
    from activitypub_kit.models._core import Actor
    from activitypub_kit.models._extensions import Emoji, Key
    from activitypub_kit.models._vocabulary import Hashtag, Mention

#: The three spellings of the special "everyone" collection.
PUBLIC_IRIS = frozenset({AS_NS + "Public", "as:Public", "Public"})
#: The recipient properties, in the order :func:`recipients` reads them.
RECIPIENT_PROPERTIES = ("to", "cc", "bto", "bcc", "audience")


def as_list(value: Any) -> list[Any]:
    """``value`` as a list: ``None`` gives ``[]``, a list itself, anything else ``[value]``."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def id_of(ref: Any) -> str | None:
    """The IRI of a reference, whatever its shape: lenient, for reading.

    An IRI string is itself; a Link gives its ``href``; an object (model or dict) its ``id``
    (or ``href`` for a link-shaped dict); a list gives the IRI of its first element; anything
    else ``None``.  Not for deciding whom to trust: use :func:`single_id` there.
    """
    if isinstance(ref, str):
        return ref
    if isinstance(ref, ASModel):
        value = ref.__dict__.get("href") or ref.__dict__.get("id")
        return value if isinstance(value, str) else None
    if isinstance(ref, dict):
        value = ref.get("id") or ref.get("href")
        return value if isinstance(value, str) else None
    if isinstance(ref, list):
        return id_of(ref[0]) if ref else None
    return None


def single_id(value: Any) -> str | None:
    """The id of a property holding exactly one reference: strict, for trust decisions.

    A string is itself; a dict gives its ``id`` when that is a string; a list gives the id of
    its only element and ``None`` when it holds zero or several; anything else (a Link's
    ``href``, a model, a number) is ``None``.  The inbox's origin and actor checks read ids
    with it, so an ambiguous property (two actors, an ``href`` in place of an ``id``) is
    never silently reduced to its first value; :func:`id_of` is the lenient reading.
    """
    if isinstance(value, list):
        if len(value) != 1:
            return None
        value = value[0]
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else None


def type_names(document: Any) -> list[str]:
    """The ``type`` of a document (dict or model) as a list of names, AS spellings unified.

    ``as:Create`` and ``https://www.w3.org/ns/activitystreams#Create`` mean ``Create``, as a
    JSON-LD processor reads them: every comparison of types (origin rules, handler dispatch)
    goes through this one function, never through the raw strings.  Other names are kept as
    written; non-string entries are skipped.
    """
    value = document.__dict__.get("type") if isinstance(document, ASModel) else None
    if isinstance(document, dict):
        value = document.get("type")
    names = value if isinstance(value, list) else [value]
    found: list[str] = []
    for name in names:
        if isinstance(name, str):
            if name.startswith(AS_NS):
                name = name[len(AS_NS) :]
            elif name.startswith("as:"):
                name = name[3:]
            found.append(name)
    return found


def ids_of(value: Any) -> list[str]:
    """The IRIs of every reference in ``value`` (one or a list), skipping those without one."""
    return [found for item in as_list(value) if (found := id_of(item))]


def lookup_language(language_map: dict[str, str] | None, lang: str) -> str | None:
    """The entry of ``language_map`` for ``lang``: exact tag, then same primary language.

    Tags compare case-insensitively; ``en`` finds ``en-GB`` and ``en-GB`` finds ``en``.
    """
    if not language_map:
        return None
    wanted = lang.lower()
    primary = wanted.split("-", 1)[0]
    fallback = None
    for tag, text in language_map.items():
        tag = tag.lower()
        if tag == wanted:
            return text
        if fallback is None and tag.split("-", 1)[0] == primary:
            fallback = text
    return fallback


def best_text(
    text: str | dict[str, str] | None, language_map: dict[str, str] | None, lang: str | None = None
) -> str | None:
    """Pick the text to show for ``lang`` from a plain value and its language map.

    With ``lang``: the map's entry for it (:func:`lookup_language`).  Then the plain value,
    then the map's ``und`` entry, then its first entry.  A plain value given as a language map
    (``"name": {"en": ...}``) is treated as a map.
    """
    maps = [m for m in (language_map, text if isinstance(text, dict) else None) if m]
    if lang:
        for language_map_ in maps:
            found = lookup_language(language_map_, lang)
            if found is not None:
                return found
    if isinstance(text, str):
        return text
    for language_map_ in maps:
        if "und" in language_map_:
            return language_map_["und"]
        return next(iter(language_map_.values()))
    return None


def recipients(obj: Any, *, hidden: bool = True) -> list[str]:
    """The IRIs in ``to``, ``cc``, ``bto``, ``bcc`` and ``audience``, first occurrence order.

    ``hidden=False`` leaves out ``bto`` and ``bcc`` (which must not be forwarded).
    """
    seen: dict[str, None] = {}
    for prop in RECIPIENT_PROPERTIES:
        if not hidden and prop in ("bto", "bcc"):
            continue
        for iri in ids_of(getattr(obj, prop, None)):
            seen.setdefault(iri, None)
    return list(seen)


def is_public(obj: Any) -> bool:
    """Whether ``obj`` is addressed to the public collection, in any of its three spellings."""
    return any(iri in PUBLIC_IRIS for iri in recipients(obj))


def http_url(value: Any) -> str | None:
    """``value`` if it is an absolute ``http``/``https`` URL with a host, else ``None``."""
    if not isinstance(value, str) or any(c.isspace() or ord(c) < 32 for c in value):
        return None
    try:
        parts = urlsplit(value)
        hostname = parts.hostname
        _ = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not hostname:
        return None
    return value


def public_keys(actor: Actor) -> list[Key]:
    """The public keys embedded in ``actor.publicKey`` (one or a list; bare IRIs skipped)."""
    from activitypub_kit.models._extensions import Key

    return [key for key in as_list(actor.public_key) if isinstance(key, Key)]


def mentions(obj: Any) -> list[Mention]:
    """The :class:`Mention` entries of ``obj.tag``."""
    from activitypub_kit.models._vocabulary import Mention

    return [tag for tag in as_list(getattr(obj, "tag", None)) if isinstance(tag, Mention)]


def hashtags(obj: Any) -> list[Hashtag]:
    """The :class:`Hashtag` entries of ``obj.tag``."""
    from activitypub_kit.models._vocabulary import Hashtag

    return [tag for tag in as_list(getattr(obj, "tag", None)) if isinstance(tag, Hashtag)]


def emojis(obj: Any) -> list[Emoji]:
    """The custom :class:`Emoji` entries of ``obj.tag``."""
    from activitypub_kit.models._extensions import Emoji

    return [tag for tag in as_list(getattr(obj, "tag", None)) if isinstance(tag, Emoji)]


__all__ = [
    "PUBLIC_IRIS",
    "as_list",
    "id_of",
    "ids_of",
    "single_id",
    "type_names",
    "lookup_language",
    "best_text",
    "recipients",
    "is_public",
    "http_url",
    "public_keys",
    "mentions",
    "hashtags",
    "emojis",
]
