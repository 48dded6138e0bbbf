"""The wire protocol: client frames parsed into commands, server frames built.

Parsing never trusts identity fields: a ``userId``, ``roomId``, ``partnerId`` or
``connectionId`` in a client frame is ignored (the server decides those from Redis).
Every server frame carries a random ``id`` so a client can drop a duplicate delivery.
"""

from __future__ import annotations

import json
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Any

from pairchat.domain.errors import InvalidField, InvalidJson, PairchatError, TooLarge, UnknownAction
from pairchat.domain.keys import GENDERS, PREFERENCES

#: API Gateway's WebSocket frame limit; nothing larger can arrive, but the emulator and
#: direct invocations are held to it too.
MAX_FRAME_BYTES = 128 * 1024


@dataclass(frozen=True)
class Join:
    gender: str
    preference: str
    #: Normalized (see :func:`normalize_interests`), sorted, no duplicates.
    interests: tuple[str, ...] = ()
    fallback: bool = True


@dataclass(frozen=True)
class Next:
    """``next``: every field is optional; ``None`` (or '' for gender and preference) means
    "the last join's"."""

    gender: str = ""
    preference: str = ""
    interests: tuple[str, ...] | None = None
    fallback: bool | None = None


@dataclass(frozen=True)
class Send:
    text: str
    #: The client's own id for this message (optional), passed on in ``message`` so a page
    #: that also sends over a direct channel can drop a message it already got that way.
    mid: str = ""


@dataclass(frozen=True)
class Leave:
    pass


@dataclass(frozen=True)
class Heartbeat:
    pass


@dataclass(frozen=True)
class Report:
    """``report``: about the current (or just-left) partner, as the server knows it."""

    reason: str = ""


@dataclass(frozen=True)
class Block:
    """``block``: the current (or just-left) partner, as the server knows it."""


@dataclass(frozen=True)
class Signal:
    """``signal``: an opaque JSON object for the partner's browser (WebRTC offer, answer,
    candidate, consent). The server checks its size and passes it on; it never reads it."""

    data: dict[str, Any]


@dataclass(frozen=True)
class Typing:
    """``typing``: tell the partner whether this user is typing (best effort)."""

    typing: bool


Command = Join | Next | Send | Leave | Heartbeat | Report | Block | Signal | Typing
ACTIONS = ("join", "send", "next", "leave", "heartbeat", "report", "block", "signal", "typing")
#: Largest ``signal`` payload, as compact UTF-8 JSON: an SDP with every candidate fits in a
#: few KB; the bound keeps a relay hop cheap and the channel useless for bulk data.
MAX_SIGNAL_BYTES = 16 * 1024
#: Longest client message id (``send``'s ``mid``).
MAX_MID_CHARS = 64
MAX_REASON_CHARS = 500
MAX_INTERESTS = 5
MAX_INTEREST_CHARS = 32
#: Longest ``ref`` echoed back; a longer or non-string one is ignored.
MAX_REF_CHARS = 64


def _choice(frame: dict[str, Any], name: str, allowed: tuple[str, ...], required: bool) -> str:
    value = frame.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or value not in allowed:
        raise InvalidField(f"'{name}' must be one of: {', '.join(allowed)}.")
    return value


def _interest_char(c: str) -> bool:
    """A letter of any script (with its combining marks), a decimal digit, space, - or _."""
    return c in " -_" or unicodedata.category(c)[0] in "LM" or unicodedata.category(c) == "Nd"


def normalize_interest(raw: str) -> str | None:
    """NFKC, case-fold, trim, collapse inner white space; None when the result is not 1 to
    32 allowed characters. Case-folding after NFKC can leave a string that is not NFKC
    (``"ﬅ"``), so NFKC runs again: the same word always gives the same key."""
    text = unicodedata.normalize("NFKC", raw)
    text = unicodedata.normalize("NFKC", text.casefold())
    text = " ".join(text.split())
    if not 1 <= len(text) <= MAX_INTEREST_CHARS or not all(map(_interest_char, text)):
        return None
    return text


def normalize_interests(value: object) -> tuple[str, ...]:
    """The ``interests`` field: a list of at most 5 strings, each normalized; duplicates
    after normalization count once. Returned sorted (the order the server matches and
    reports them in). Raises :class:`InvalidField` naming the field."""
    if not isinstance(value, list) or len(value) > MAX_INTERESTS:
        raise InvalidField(f"'interests' must be a list of at most {MAX_INTERESTS} strings.")
    out = set()
    for item in value:
        if not isinstance(item, str):
            raise InvalidField("'interests' must be a list of strings.")
        _require_unicode(item, "interests")
        normalized = normalize_interest(item)
        if normalized is None:
            raise InvalidField(
                f"Each of 'interests' must be 1 to {MAX_INTEREST_CHARS} letters, digits, "
                "spaces, '-' or '_'."
            )
        out.add(normalized)
    return tuple(sorted(out))


def _interests(frame: dict[str, Any]) -> tuple[str, ...] | None:
    value = frame.get("interests")
    return None if value is None else normalize_interests(value)


def _flag(frame: dict[str, Any], name: str) -> bool | None:
    value = frame.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InvalidField(f"'{name}' must be true or false.")
    return value


def _require_unicode(value: str, name: str) -> None:
    """JSON can carry lone surrogates (``"\\ud800"``) that no UTF-8 frame can hold."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidField(f"'{name}' must be valid Unicode text.") from None


def parse(
    body: str | bytes | None, max_text_chars: int, max_reason_chars: int = MAX_REASON_CHARS
) -> Command:
    """Parses one client frame. Raises a :class:`PairchatError` subclass on bad input."""
    return parse_with_ref(body, max_text_chars, max_reason_chars)[0]


def _ref(frame: dict[str, Any]) -> str | None:
    ref = frame.get("ref")
    if isinstance(ref, str) and 0 < len(ref) <= MAX_REF_CHARS and ref.isprintable():
        return ref
    return None


def parse_with_ref(
    body: str | bytes | None, max_text_chars: int, max_reason_chars: int = MAX_REASON_CHARS
) -> tuple[Command, str | None]:
    """Parses one client frame and its optional ``ref``: an opaque client string that error
    frames echo, so a client can tell which of its frames a (late) error refers to. An error
    raised for a frame that had one carries it in ``.ref``."""
    if body is None or body == "" or body == b"":
        raise InvalidJson("The frame is empty; send a JSON object with an 'action'.")
    if len(body) > MAX_FRAME_BYTES:
        raise TooLarge(f"Frames are limited to {MAX_FRAME_BYTES} bytes.")
    try:
        frame = json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidJson("The frame is not valid JSON.") from None
    if not isinstance(frame, dict):
        raise InvalidJson("The frame must be a JSON object with an 'action'.")
    ref = _ref(frame)
    try:
        return _command(frame, max_text_chars, max_reason_chars), ref
    except PairchatError as error:
        error.ref = ref
        raise


def _command(frame: dict[str, Any], max_text_chars: int, max_reason_chars: int) -> Command:
    action = frame.get("action")
    if not isinstance(action, str) or not action:
        raise UnknownAction("The frame has no 'action'.")
    if action == "join":
        fallback = _flag(frame, "fallback")
        return Join(
            gender=_choice(frame, "gender", GENDERS, True),
            preference=_choice(frame, "preference", PREFERENCES, True),
            interests=_interests(frame) or (),
            fallback=True if fallback is None else fallback,
        )
    if action == "next":
        g = _choice(frame, "gender", GENDERS, False)
        p = _choice(frame, "preference", PREFERENCES, False)
        if bool(g) != bool(p):
            raise InvalidField("'next' takes both gender and preference, or neither.")
        return Next(g, p, _interests(frame), _flag(frame, "fallback"))
    if action == "send":
        text = frame.get("text")
        if not isinstance(text, str):
            raise InvalidField("'text' must be a string.")
        _require_unicode(text, "text")
        if not text.strip():
            raise InvalidField("'text' must not be empty.")
        if len(text) > max_text_chars:
            raise TooLarge(f"Messages are limited to {max_text_chars} characters.")
        return Send(text, _mid(frame))
    if action == "leave":
        return Leave()
    if action == "heartbeat":
        return Heartbeat()
    if action == "report":
        reason = frame.get("reason")
        if reason is None:
            reason = ""
        if not isinstance(reason, str):
            raise InvalidField("'reason' must be a string.")
        _require_unicode(reason, "reason")
        if len(reason) > max_reason_chars:
            raise TooLarge(f"Report reasons are limited to {max_reason_chars} characters.")
        return Report(reason.strip())
    if action == "block":
        return Block()
    if action == "signal":
        return Signal(_signal_data(frame))
    if action == "typing":
        typing = _flag(frame, "typing")
        if typing is None:
            raise InvalidField("'typing' must be true or false.")
        return Typing(typing)
    shown = action if len(action) <= 32 else action[:32] + "..."
    raise UnknownAction(f"Unknown action {shown!r}. Use one of: {', '.join(ACTIONS)}.")


def _mid(frame: dict[str, Any]) -> str:
    mid = frame.get("mid")
    if mid is None:
        return ""
    if not isinstance(mid, str) or not 0 < len(mid) <= MAX_MID_CHARS or not mid.isprintable():
        raise InvalidField(f"'mid' must be 1 to {MAX_MID_CHARS} printable characters.")
    return mid


def _signal_data(frame: dict[str, Any]) -> dict[str, Any]:
    data = frame.get("data")
    if not isinstance(data, dict):
        raise InvalidField("'data' must be a JSON object.")
    try:
        size = len(encode(data))
    except UnicodeEncodeError:
        raise InvalidField("'data' must hold valid Unicode text.") from None
    except RecursionError:
        raise InvalidJson("The frame is too deeply nested.") from None
    if size > MAX_SIGNAL_BYTES:
        raise TooLarge(f"Signals are limited to {MAX_SIGNAL_BYTES} bytes of JSON.")
    return data


def frame(type_: str, **fields: Any) -> dict[str, Any]:
    """A server frame: ``type``, a random ``id`` for de-duplication, then the fields."""
    return {"type": type_, "id": secrets.token_hex(8), **fields}


def encode(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
