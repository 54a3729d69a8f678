"""The ActivityStreams 2.0 Extended types: activities, actors, objects and links.

The class hierarchy follows the vocabulary (``TentativeAccept`` is an ``Accept``, ``Block``
an ``Ignore``, ``Image`` a ``Document``...), so ``isinstance`` and handlers registered for a
base class see the subclasses too.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from activitypub_kit.models._core import (
    Activity,
    Actor,
    IntransitiveActivity,
    Link,
    Object,
)
from activitypub_kit.models._fields import (
    AnyValue,
    DateTime,
    ExtBool,
    ExtInt,
    ExtNumber,
    ExtStr,
    Number,
    Refs,
    Str,
    Strs,
)

# --- activities -------------------------------------------------------------------------


class Accept(Activity):
    """``as:Accept``: the actor accepts the object (a Follow, an invitation...)."""

    type_names: ClassVar[tuple[str, ...]] = ("Accept",)


class TentativeAccept(Accept):
    """``as:TentativeAccept``: a tentative Accept."""

    type_names: ClassVar[tuple[str, ...]] = ("TentativeAccept",)


class Add(Activity):
    """``as:Add``: the object was added to the target (a collection)."""

    type_names: ClassVar[tuple[str, ...]] = ("Add",)


class Announce(Activity):
    """``as:Announce``: the actor shares the object (a boost)."""

    type_names: ClassVar[tuple[str, ...]] = ("Announce",)


class Arrive(IntransitiveActivity):
    """``as:Arrive``: the actor arrived at the location."""

    type_names: ClassVar[tuple[str, ...]] = ("Arrive",)


class Create(Activity):
    """``as:Create``: the actor created the object."""

    type_names: ClassVar[tuple[str, ...]] = ("Create",)


class Delete(Activity):
    """``as:Delete``: the actor deleted the object."""

    type_names: ClassVar[tuple[str, ...]] = ("Delete",)


class Dislike(Activity):
    """``as:Dislike``: the actor dislikes the object."""

    type_names: ClassVar[tuple[str, ...]] = ("Dislike",)


class Flag(Activity):
    """``as:Flag``: the actor reports the object."""

    type_names: ClassVar[tuple[str, ...]] = ("Flag",)


class Follow(Activity):
    """``as:Follow``: the actor follows the object (an actor)."""

    type_names: ClassVar[tuple[str, ...]] = ("Follow",)


class Ignore(Activity):
    """``as:Ignore``: the actor ignores the object."""

    type_names: ClassVar[tuple[str, ...]] = ("Ignore",)


class Join(Activity):
    """``as:Join``: the actor joined the object."""

    type_names: ClassVar[tuple[str, ...]] = ("Join",)


class Leave(Activity):
    """``as:Leave``: the actor left the object."""

    type_names: ClassVar[tuple[str, ...]] = ("Leave",)


class Like(Activity):
    """``as:Like``: the actor likes the object."""

    type_names: ClassVar[tuple[str, ...]] = ("Like",)


class Listen(Activity):
    """``as:Listen``: the actor listened to the object."""

    type_names: ClassVar[tuple[str, ...]] = ("Listen",)


class Move(Activity):
    """``as:Move``: the actor moved the object from origin to target (account migration)."""

    type_names: ClassVar[tuple[str, ...]] = ("Move",)


class Offer(Activity):
    """``as:Offer``: the actor offers the object to the target."""

    type_names: ClassVar[tuple[str, ...]] = ("Offer",)


class Read(Activity):
    """``as:Read``: the actor read the object."""

    type_names: ClassVar[tuple[str, ...]] = ("Read",)


class Reject(Activity):
    """``as:Reject``: the actor rejects the object."""

    type_names: ClassVar[tuple[str, ...]] = ("Reject",)


class TentativeReject(Reject):
    """``as:TentativeReject``: a tentative Reject."""

    type_names: ClassVar[tuple[str, ...]] = ("TentativeReject",)


class Remove(Activity):
    """``as:Remove``: the object was removed from the origin or target."""

    type_names: ClassVar[tuple[str, ...]] = ("Remove",)


class Travel(IntransitiveActivity):
    """``as:Travel``: the actor travelled to the target from the origin."""

    type_names: ClassVar[tuple[str, ...]] = ("Travel",)


class Undo(Activity):
    """``as:Undo``: the actor undoes the object (a previous activity)."""

    type_names: ClassVar[tuple[str, ...]] = ("Undo",)


class Update(Activity):
    """``as:Update``: the actor updated the object."""

    type_names: ClassVar[tuple[str, ...]] = ("Update",)


class View(Activity):
    """``as:View``: the actor viewed the object."""

    type_names: ClassVar[tuple[str, ...]] = ("View",)


class Block(Ignore):
    """``as:Block``: the actor blocks the object (an actor)."""

    type_names: ClassVar[tuple[str, ...]] = ("Block",)


class Invite(Offer):
    """``as:Invite``: the actor invites the object to the target."""

    type_names: ClassVar[tuple[str, ...]] = ("Invite",)


class Question(IntransitiveActivity):
    """``as:Question``.

    A poll, with ``oneOf`` or ``anyOf`` options, ``closed`` and Mastodon's ``votersCount``.
    """

    type_names: ClassVar[tuple[str, ...]] = ("Question",)

    one_of: Refs = Field(None, alias="oneOf")
    any_of: Refs = Field(None, alias="anyOf")
    closed: AnyValue = None
    voters_count: ExtInt = Field(None, alias="votersCount")


# --- actors -----------------------------------------------------------------------------


class Application(Actor):
    """``as:Application``: a software application."""

    type_names: ClassVar[tuple[str, ...]] = ("Application",)


class Group(Actor):
    """``as:Group``: a group of actors (a Lemmy community, a Guppe group)."""

    type_names: ClassVar[tuple[str, ...]] = ("Group",)


class Organization(Actor):
    """``as:Organization``: an organisation."""

    type_names: ClassVar[tuple[str, ...]] = ("Organization",)


class Person(Actor):
    """``as:Person``: a person."""

    type_names: ClassVar[tuple[str, ...]] = ("Person",)


class Service(Actor):
    """``as:Service``: a service (a bot, a relay)."""

    type_names: ClassVar[tuple[str, ...]] = ("Service",)


# --- objects ----------------------------------------------------------------------------


class Article(Object):
    """``as:Article``: a multi-paragraph written work (blog posts, some servers' posts)."""

    type_names: ClassVar[tuple[str, ...]] = ("Article",)


class Note(Object):
    """``as:Note``: a short written work (a Mastodon status, a Lemmy comment)."""

    type_names: ClassVar[tuple[str, ...]] = ("Note",)


class Event(Object):
    """``as:Event``: an event, with ``startTime`` and ``endTime``."""

    type_names: ClassVar[tuple[str, ...]] = ("Event",)


class Document(Object):
    """``as:Document``.

    A document; with Mastodon's media ``width``, ``height`` ``blurhash`` and ``focalPoint``.
    """

    type_names: ClassVar[tuple[str, ...]] = ("Document",)

    width: ExtNumber = None
    height: ExtNumber = None
    blurhash: ExtStr = None
    focal_point: AnyValue = Field(None, alias="focalPoint")


class Image(Document):
    """``as:Image``: an image (avatars, headers, attachments, emoji icons)."""

    type_names: ClassVar[tuple[str, ...]] = ("Image",)


class Audio(Document):
    """``as:Audio``: an audio document."""

    type_names: ClassVar[tuple[str, ...]] = ("Audio",)


class Video(Document):
    """``as:Video``.

    A video; with PeerTube's basics: ``uuid``, ``views``, ``state``, ``commentsEnabled``,
    ``downloadEnabled``, ``isLiveBroadcast``, ``support``.
    """

    type_names: ClassVar[tuple[str, ...]] = ("Video",)

    uuid: ExtStr = None
    views: ExtInt = None
    state: AnyValue = None
    comments_enabled: ExtBool = Field(None, alias="commentsEnabled")
    download_enabled: ExtBool = Field(None, alias="downloadEnabled")
    is_live_broadcast: ExtBool = Field(None, alias="isLiveBroadcast")
    support: ExtStr = None


class Page(Document):
    """``as:Page``: a web page; Lemmy posts (with ``stickied``, ``commentsEnabled``)."""

    type_names: ClassVar[tuple[str, ...]] = ("Page",)

    stickied: ExtBool = None
    comments_enabled: ExtBool = Field(None, alias="commentsEnabled")


class Place(Object):
    """``as:Place``.

    A location, with ``latitude``, ``longitude``, ``altitude``, ``accuracy``, ``radius`` and
    ``units``.
    """

    type_names: ClassVar[tuple[str, ...]] = ("Place",)

    accuracy: Number = None
    altitude: Number = None
    latitude: Number = None
    longitude: Number = None
    radius: Number = None
    units: Str = None


class Profile(Object):
    """``as:Profile``: content about the object it ``describes``."""

    type_names: ClassVar[tuple[str, ...]] = ("Profile",)

    describes: Refs = None


class Relationship(Object):
    """``as:Relationship``: ``subject`` is in ``relationship`` with ``object``."""

    type_names: ClassVar[tuple[str, ...]] = ("Relationship",)

    subject: Refs = None
    object: Refs = None
    relationship: Refs = None


class Tombstone(Object):
    """``as:Tombstone``: a deleted object, with ``formerType`` and ``deleted``."""

    type_names: ClassVar[tuple[str, ...]] = ("Tombstone",)

    former_type: Strs = Field(None, alias="formerType")
    deleted: DateTime = None


# --- links ------------------------------------------------------------------------------


class Mention(Link):
    """``as:Mention``: a mention of an actor (``href`` is the actor, ``name`` the handle)."""

    type_names: ClassVar[tuple[str, ...]] = ("Mention",)


class Hashtag(Link):
    """``as:Hashtag`` (a Mastodon extension term): ``name`` is ``#tag``, ``href`` its page."""

    type_names: ClassVar[tuple[str, ...]] = ("Hashtag",)


__all__ = [
    "Accept",
    "TentativeAccept",
    "Add",
    "Announce",
    "Arrive",
    "Create",
    "Delete",
    "Dislike",
    "Flag",
    "Follow",
    "Ignore",
    "Join",
    "Leave",
    "Like",
    "Listen",
    "Move",
    "Offer",
    "Read",
    "Reject",
    "TentativeReject",
    "Remove",
    "Travel",
    "Undo",
    "Update",
    "View",
    "Block",
    "Invite",
    "Question",
    "Application",
    "Group",
    "Organization",
    "Person",
    "Service",
    "Article",
    "Note",
    "Event",
    "Document",
    "Image",
    "Audio",
    "Video",
    "Page",
    "Place",
    "Profile",
    "Relationship",
    "Tombstone",
    "Mention",
    "Hashtag",
]
