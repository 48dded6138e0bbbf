"""What a page needs to open a direct (WebRTC) connection to its partner: the ICE servers.

The server never carries the direct connection; it only introduces the two browsers (the
``signal`` action, relayed like ``send``). What it owns is the configuration each browser
gets in ``matched``: the operator's STUN/TURN servers, and for a TURN server that shares a
secret with us, a credential that expires (the TURN REST scheme: ``username`` =
``<expiry unix time>:<opaque>``, ``credential`` = base64(HMAC-SHA1(secret, username)), which
coturn checks with ``use-auth-secret``). The opaque part is random, never a user id: the
TURN server's logs learn nothing about who chatted with whom.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from pairchat.settings import Settings, parse_ice_servers

log = logging.getLogger(__name__)


def turn_credential(secret: str, username: str) -> str:
    """The TURN REST password of ``username``: base64(HMAC-SHA1(secret, username))."""
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class IceConfig:
    """Builds the ``rtc`` field of ``matched`` (``None`` when direct connections are off).

    ``fetch_secret`` returns the TURN shared secret; it is called once, on the first
    credential, and kept (in AWS it reads SSM). If it fails, the page gets the static
    servers only, and nothing at all in relay-only mode (a relay-only page without TURN
    could never connect, and must never fall back to revealing addresses).
    """

    def __init__(
        self,
        settings: Settings,
        fetch_secret: Callable[[], str] | None = None,
        clock: Callable[[], float] = time.time,
        opaque: Callable[[], str] = lambda: secrets.token_hex(8),
    ) -> None:
        self.settings = settings
        self._servers = parse_ice_servers(settings.ice_servers)
        if fetch_secret is None and settings.turn_secret:
            secret = settings.turn_secret

            def fetch_secret() -> str:
                return secret

        self._fetch_secret = fetch_secret
        self._secret: str | None = None
        self._lock = threading.Lock()
        self._clock = clock
        self._opaque = opaque

    @property
    def enabled(self) -> bool:
        return self.settings.rtc_enabled

    def for_client(self) -> dict[str, Any] | None:
        """``{"iceServers": [...], "iceTransportPolicy": "all"|"relay"}`` for one user."""
        s = self.settings
        if not s.rtc_enabled:
            return None
        servers = [dict(server) for server in self._servers]
        if s.turn_urls:
            turn = self._turn_server()
            if turn is not None:
                servers.append(turn)
        relay_only = s.rtc_relay_only
        if relay_only and not any(
            url.startswith(("turn:", "turns:")) for server in servers for url in server["urls"]
        ):
            return None
        return {"iceServers": servers, "iceTransportPolicy": "relay" if relay_only else "all"}

    def _turn_server(self) -> dict[str, Any] | None:
        secret = self._shared_secret()
        if secret is None:
            return None
        expiry = int(self._clock()) + self.settings.turn_credential_ttl_s
        username = f"{expiry}:{self._opaque()}"
        return {
            "urls": list(self.settings.turn_urls),
            "username": username,
            "credential": turn_credential(secret, username),
        }

    def _shared_secret(self) -> str | None:
        if self._secret is None and self._fetch_secret is not None:
            with self._lock:
                if self._secret is None:
                    try:
                        self._secret = self._fetch_secret()
                    except Exception as exc:  # the secret store failing must not stop matching
                        log.warning("TURN secret unavailable: %s", type(exc).__name__)
                        return None
        return self._secret
