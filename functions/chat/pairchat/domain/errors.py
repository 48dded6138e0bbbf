"""Domain errors, and the one place where Lua script error codes become Python types.

Every error carries the ``code`` a client sees in its ``error`` frame; the codes are listed
in docs/protocol.md.
"""

from __future__ import annotations

from typing import ClassVar


class PairchatError(Exception):
    """A request that is refused. Its code and message go to the client as an error frame."""

    code: ClassVar[str] = "internal"
    default_message: ClassVar[str] = "Something went wrong."
    #: The handler's status code (API Gateway only uses it with route responses).
    status: ClassVar[int] = 400

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        #: The client's ``ref`` of the refused frame, echoed in the error frame.
        self.ref: str | None = None


class InvalidJson(PairchatError):
    code = "invalid_json"
    default_message = "The frame is not a JSON object."


class UnknownAction(PairchatError):
    code = "unknown_action"
    default_message = "Unknown action."


class InvalidField(PairchatError):
    code = "invalid_field"
    default_message = "A field is missing or invalid."


class TooLarge(PairchatError):
    code = "too_large"
    default_message = "The message is too long."


class SessionExpired(PairchatError):
    code = "session_expired"
    default_message = "Your session has expired. Reconnect to continue."
    status = 410


class NotInRoom(PairchatError):
    code = "not_in_room"
    default_message = "You are not in a chat."
    status = 409


class AlreadyInRoom(PairchatError):
    code = "already_in_room"
    default_message = "You are already in a chat. Leave it or use next."
    status = 409


class NotJoined(PairchatError):
    code = "not_joined"
    default_message = "Join first: next needs a gender and preference to reuse."
    status = 409


class Unavailable(PairchatError):
    code = "unavailable"
    default_message = "The service is briefly unavailable. Try again."
    status = 503


class RateLimited(PairchatError):
    code = "rate_limited"
    default_message = "Too many requests. Slow down and try again in a few seconds."
    status = 429


class NoPartner(PairchatError):
    code = "no_partner"
    default_message = "There is no current or recent partner to act on."
    status = 409


class TooSoon(PairchatError):
    """``report`` about a room younger than ``REPORT_MIN_ROOM_AGE_SECONDS``: nothing counted."""

    code = "too_soon"
    default_message = "This chat has only just started: report it after a few more seconds."
    status = 409


class PartnerAway(PairchatError):
    code = "partner_away"
    default_message = "Your partner is reconnecting; the message was not delivered."
    status = 409


class TextRefused(PairchatError):
    """``TEXT_FILTER=block``: the message holds a listed word; it was not delivered."""

    code = "text_refused"
    default_message = "The message contains words that are not allowed here; it was not sent."


_BY_CODE: dict[str, type[PairchatError]] = {
    cls.code: cls
    for cls in (
        InvalidJson,
        UnknownAction,
        InvalidField,
        TooLarge,
        SessionExpired,
        NotInRoom,
        AlreadyInRoom,
        NotJoined,
        Unavailable,
        RateLimited,
        NoPartner,
        TooSoon,
        PartnerAway,
    )
}


class ScriptContractError(RuntimeError):
    """A script answered something outside its documented contract: a bug, not bad input."""


def error_for_code(code: str) -> PairchatError:
    """The typed error for a code returned by a Lua script as ``{'error', code}``."""
    try:
        return _BY_CODE[code]()
    except KeyError:
        raise ScriptContractError(f"unknown script error code {code!r}") from None
