"""Types outside the ActivityStreams vocabulary that real servers emit.

Security vocabulary: :class:`Key` (``publicKey``), :class:`Multikey` (FEP-521a
``assertionMethod``), :class:`DataIntegrityProof` (FEP-8b32 ``proof``), :class:`Signature`
(Linked Data Signatures, ``RsaSignature2017``).  ActivityPub's :class:`Endpoints` and
:class:`Source`.  Mastodon's :class:`Emoji` and :class:`PropertyValue` (profile fields),
Pleroma's :class:`ChatMessage` and :class:`EmojiReact`, FEP-044f's :class:`QuoteRequest` and
:class:`QuoteAuthorization`.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from activitypub_kit.models._base import ASModel
from activitypub_kit.models._core import Activity, Object
from activitypub_kit.models._fields import (
    BlockContext,
    Context,
    ExtDateTime,
    ExtRefs,
    ExtStr,
    TypeValue,
)

# --- security vocabulary ------------------------------------------------------------------


class Key(Object):
    """A public key (``sec:Key``): ``id``, ``owner`` and ``publicKeyPem``.

    Mastodon embeds one as the actor's ``publicKey`` without a ``type``; an untyped document
    carrying ``publicKeyPem`` parses to this class too.
    """

    type_names: ClassVar[tuple[str, ...]] = ("Key", "CryptographicKey")
    as_vocabulary: ClassVar[bool] = False

    owner: ExtStr = None
    public_key_pem: ExtStr = Field(None, alias="publicKeyPem")


class Multikey(Object):
    """A FEP-521a ``Multikey``: ``controller`` and ``publicKeyMultibase``."""

    type_names: ClassVar[tuple[str, ...]] = ("Multikey",)
    as_vocabulary: ClassVar[bool] = False

    controller: ExtStr = None
    public_key_multibase: ExtStr = Field(None, alias="publicKeyMultibase")
    expires: ExtDateTime = None
    revoked: ExtDateTime = None


class DataIntegrityProof(Object):
    """A Data Integrity ``proof`` (FEP-8b32).

    ``cryptosuite``, ``verificationMethod``, ``proofPurpose``, ``proofValue`` and ``created``.
    """

    type_names: ClassVar[tuple[str, ...]] = ("DataIntegrityProof",)
    as_vocabulary: ClassVar[bool] = False

    #: The block's own context applies to the block only and is read by the verifier, not
    #: judged against ActivityStreams (see ``jsonld.context_aliases_keyword``).
    jsonld_context: BlockContext = Field(None, alias="@context")

    cryptosuite: ExtStr = None
    verification_method: ExtStr = Field(None, alias="verificationMethod")
    proof_purpose: ExtStr = Field(None, alias="proofPurpose")
    proof_value: ExtStr = Field(None, alias="proofValue")
    created: ExtDateTime = None


class Signature(Object):
    """A Linked Data Signature (``RsaSignature2017``).

    ``creator``, ``created`` ``signatureValue``.
    """

    type_names: ClassVar[tuple[str, ...]] = ("RsaSignature2017",)
    as_vocabulary: ClassVar[bool] = False

    #: As for proofs: Fedify sends ``https://w3id.org/identity/v1`` here.
    jsonld_context: BlockContext = Field(None, alias="@context")

    creator: ExtStr = None
    created: ExtDateTime = None
    signature_value: ExtStr = Field(None, alias="signatureValue")


# --- ActivityPub helpers objects ----------------------------------------------------------


class Endpoints(ASModel):
    """An actor's ``endpoints``: ``sharedInbox`` and the client-to-server endpoints."""

    jsonld_context: Context = Field(None, alias="@context")
    id: ExtStr = None
    type: TypeValue = None
    shared_inbox: ExtStr = Field(None, alias="sharedInbox")
    proxy_url: ExtStr = Field(None, alias="proxyUrl")
    oauth_authorization_endpoint: ExtStr = Field(None, alias="oauthAuthorizationEndpoint")
    oauth_token_endpoint: ExtStr = Field(None, alias="oauthTokenEndpoint")
    provide_client_key: ExtStr = Field(None, alias="provideClientKey")
    sign_client_key: ExtStr = Field(None, alias="signClientKey")
    upload_media: ExtStr = Field(None, alias="uploadMedia")


class Source(ASModel):
    """An object's ``source``: the text it was rendered from and that text's ``mediaType``."""

    content: ExtStr = None
    media_type: ExtStr = Field(None, alias="mediaType")


# --- Mastodon, Pleroma, quote posts -------------------------------------------------------


class Emoji(Object):
    """A custom emoji (``toot:Emoji``): ``name`` is ``:shortcode:``, ``icon`` its Image."""

    type_names: ClassVar[tuple[str, ...]] = ("Emoji",)
    as_vocabulary: ClassVar[bool] = False


class PropertyValue(Object):
    """A profile field (``schema:PropertyValue``) in an actor's ``attachment``.

    ``name`` And ``value`` (HTML).
    """

    type_names: ClassVar[tuple[str, ...]] = ("PropertyValue",)
    as_vocabulary: ClassVar[bool] = False

    value: ExtStr = None


class ChatMessage(Object):
    """Pleroma's ``ChatMessage`` (``litepub:ChatMessage``): a one-to-one chat message."""

    type_names: ClassVar[tuple[str, ...]] = ("ChatMessage",)
    as_vocabulary: ClassVar[bool] = False


class EmojiReact(Activity):
    """Pleroma's ``EmojiReact``.

    A reaction whose ``content`` is the emoji (custom emoji in ``tag``).
    """

    type_names: ClassVar[tuple[str, ...]] = ("EmojiReact",)
    as_vocabulary: ClassVar[bool] = False


class QuoteRequest(Activity):
    """FEP-044f ``QuoteRequest``: ``actor`` asks to quote ``object`` in ``instrument``."""

    type_names: ClassVar[tuple[str, ...]] = ("QuoteRequest",)
    as_vocabulary: ClassVar[bool] = False


class QuoteAuthorization(Object):
    """FEP-044f ``QuoteAuthorization``: ``interactingObject`` may quote ``interactionTarget``."""

    type_names: ClassVar[tuple[str, ...]] = ("QuoteAuthorization",)
    as_vocabulary: ClassVar[bool] = False

    interacting_object: ExtRefs = Field(None, alias="interactingObject")
    interaction_target: ExtRefs = Field(None, alias="interactionTarget")


__all__ = [
    "Key",
    "Multikey",
    "DataIntegrityProof",
    "Signature",
    "Endpoints",
    "Source",
    "Emoji",
    "PropertyValue",
    "ChatMessage",
    "EmojiReact",
    "QuoteRequest",
    "QuoteAuthorization",
]
