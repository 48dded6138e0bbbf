"""User ids, and the aliases strangers see instead of them.

Two rules from the trust-and-safety audit (issue 13):

* **Anonymous and token identities never share a namespace.** A server-made id is
  ``a:<uuid4>``; a token user's id is ``t:<digest of issuer and subject>``. No token can name
  an anonymous user's id (every token id starts ``t:``), and no subject can name another
  issuer's user. Before this, a token whose ``sub`` was a stranger's anonymous uuid (learnt
  from ``matched.partnerId``) took over that stranger's session and room.
* **Strangers see an alias, never the id.** ``matched.partnerId`` and ``pong.partnerId`` carry
  ``partner_alias(secret, room, user)``: an HMAC keyed by a deployment secret over the room id
  and the user id. It is stable within a room (``matched`` and every ``pong`` agree), differs
  from room to room (two rooms with the same person cannot be linked), and without the secret
  it cannot be tested against a guessed account (a token id is a plain digest of the subject,
  so a room-keyed-only alias could be checked against guessed e-mail addresses).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid

ANONYMOUS_PREFIX = "a:"
TOKEN_PREFIX = "t:"
#: Hex characters of a token user's digest (128 bits) and of an alias (64 bits).
TOKEN_ID_HEX = 32
ALIAS_HEX = 16


def anonymous_user_id() -> str:
    """A fresh server-made id: nobody can come back as it."""
    return ANONYMOUS_PREFIX + str(uuid.uuid4())


def token_user_id(issuer: str, subject: str) -> str:
    """The stable id of a verified token's subject at its issuer.

    A digest, not the subject itself: the id ends up in key names, the ops API and logs, and
    a subject is often an e-mail address. Unkeyed, so it survives secret rotation (blocks and
    recent partners keep holding); what strangers see is the keyed :func:`partner_alias`.
    """
    material = f"{len(issuer)}:{issuer}|{subject}".encode()
    return TOKEN_PREFIX + hashlib.sha256(material).hexdigest()[:TOKEN_ID_HEX]


def partner_alias(secret: str, room_id: str, user_id: str) -> str:
    """What the partner in room ``room_id`` is told ``user_id`` is called."""
    message = f"{room_id}|{user_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:ALIAS_HEX]
