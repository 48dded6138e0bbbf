"""Who is connecting: the ``$connect`` identity and the browser origin check.

A user id comes from exactly two places: the server generates one (``a:<uuid>``), or it is
derived from the ``iss`` and ``sub`` of a JWT the client passes as ``?token=`` and PyJWT
verifies (``t:<digest>``; HS256 with a secret held in SSM Parameter Store or Secrets Manager,
or an issuer's JWKS for RS256/ES256). The two namespaces never meet, whatever a token says
(pairchat.domain.identity). A stable id is what lets recent partners, blocks and the
reconnect grace survive a new socket.

Nothing here logs a token or a query string: refusals carry a short reason that is safe to
log (never the token or its claims).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pairchat.domain.identity import anonymous_user_id, token_user_id
from pairchat.settings import Settings

#: Token subjects become parts of Redis key names: keep them short and unambiguous.
SUBJECT = re.compile(r"[A-Za-z0-9._:@|+=-]{1,128}")
#: Anything longer is not a token we issue; refuse before parsing it.
MAX_TOKEN_CHARS = 8192
#: Clock skew tolerated on ``exp``/``nbf``/``iat``.
LEEWAY_S = 30
#: Asymmetric algorithms accepted with a JWKS. HS256 is never accepted with a JWKS key (that
#: would let a public key serve as an HMAC secret: the classic algorithm confusion).
JWKS_ALGORITHMS = ["RS256", "ES256"]


class Refused(Exception):
    """The connection is refused with ``status`` (401 identity, 403 origin, 503 no key)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Identity:
    #: ``a:<uuid>`` (anonymous) or ``t:<digest of iss and sub>`` (a verified token).
    user_id: str
    #: True when the id comes from a verified token (stable across connections).
    authenticated: bool


def header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    """A header's value, looked up case-insensitively (API Gateway keeps the client's case)."""
    if not headers:
        return None
    wanted = name.lower()
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == wanted:
            return str(value) if value is not None else None
    return None


def _normal_origin(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def check_origin(headers: Mapping[str, Any] | None, allowed: tuple[str, ...]) -> None:
    """Refuses (403) a browser whose Origin is not on the allowlist.

    An empty allowlist allows every origin. A request without an Origin header is not from a
    browser page, and any non-browser client could send whatever Origin it liked, so the
    check only protects browsers from foreign pages (cross-site WebSocket hijacking); the
    token is what authenticates.
    """
    if not allowed or "*" in allowed:
        return
    origin = header(headers, "origin")
    if origin is None:
        return
    if _normal_origin(origin) not in {_normal_origin(a) for a in allowed}:
        raise Refused(403, "origin not allowed")


KeyResolver = Callable[[str], tuple[Any, list[str]]]


class Authenticator:
    """Verifies ``$connect`` tokens. Built once per cold start: the key is fetched once."""

    def __init__(self, settings: Settings, resolve_key: KeyResolver | None = None) -> None:
        self.settings = settings
        self._resolve_key = resolve_key

    @classmethod
    def from_settings(
        cls, settings: Settings, fetch_secret: Callable[[], str] | None = None
    ) -> Authenticator:
        """The authenticator for the configured key source (none needed in anonymous mode)."""
        if settings.auth_mode == "anonymous":
            return cls(settings)
        if settings.auth_jwks_url:
            return cls(settings, _jwks_resolver(settings.auth_jwks_url))
        if fetch_secret is None:
            if settings.auth_secret:
                secret = settings.auth_secret

                def fetch_secret() -> str:
                    return secret

            elif settings.auth_secret_parameter or settings.auth_secret_id:
                fetch_secret = _aws_secret_fetcher(settings)
            else:
                raise ValueError(
                    "AUTH_MODE needs a key: AUTH_SECRET_PARAMETER, AUTH_SECRET_ID or AUTH_JWKS_URL"
                )
        return cls(settings, _hs256_resolver(fetch_secret))

    def identify(self, token: str | None) -> Identity:
        """The identity of a connection: a verified token's, or a new anonymous id."""
        mode = self.settings.auth_mode
        if mode == "anonymous" or (mode == "optional" and not token):
            return Identity(anonymous_user_id(), authenticated=False)
        if not token:
            raise Refused(401, "token required")
        issuer, subject = self.verify_claims(token)
        return Identity(token_user_id(issuer, subject), authenticated=True)

    def verify(self, token: str) -> str:
        """The token's subject. Raises :class:`Refused` for anything not verifiable."""
        return self.verify_claims(token)[1]

    def verify_claims(self, token: str) -> tuple[str, str]:
        """The token's issuer ('' when it names none) and subject, verified."""
        import jwt

        if self._resolve_key is None:
            raise Refused(401, "tokens are not accepted")
        if len(token) > MAX_TOKEN_CHARS:
            raise Refused(401, "token too long")
        try:
            key, algorithms = self._resolve_key(token)
        except jwt.PyJWTError:
            raise Refused(401, "token key not found") from None
        except Exception as exc:
            # The secret store or the JWKS endpoint failed: not the client's fault.
            raise Refused(503, f"key source unavailable: {type(exc).__name__}") from None
        s = self.settings
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=s.auth_audience,
                issuer=s.auth_issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise Refused(401, "token expired") from None
        except jwt.PyJWTError as exc:
            raise Refused(401, f"token invalid: {type(exc).__name__}") from None
        sub = claims.get("sub")
        if not isinstance(sub, str) or not SUBJECT.fullmatch(sub):
            raise Refused(401, "token subject unusable")
        iss = claims.get("iss")
        return (iss if isinstance(iss, str) else ""), sub


def _hs256_resolver(fetch_secret: Callable[[], str]) -> KeyResolver:
    """Fetches the secret on first use and keeps it for the container's life."""
    lock = threading.Lock()
    cached: list[str] = []

    def resolve(_token: str) -> tuple[Any, list[str]]:
        if not cached:
            with lock:
                if not cached:
                    cached.append(fetch_secret())
        return cached[0], ["HS256"]

    return resolve


def _jwks_resolver(url: str) -> KeyResolver:
    import jwt

    client = jwt.PyJWKClient(url, cache_keys=True, lifespan=3600, timeout=3)

    def resolve(token: str) -> tuple[Any, list[str]]:
        return client.get_signing_key_from_jwt(token).key, JWKS_ALGORITHMS

    return resolve


def _aws_secret_fetcher(settings: Settings) -> Callable[[], str]:
    def fetch() -> str:
        import boto3

        session = boto3.session.Session()
        name = settings.auth_secret_parameter
        if name:
            # The template's IAM policy names a hierarchical parameter without its leading
            # slash (as SAM's SSMParameterReadPolicy wants); the API wants it with one.
            if "/" in name and not name.startswith("/"):
                name = "/" + name
            ssm = session.client("ssm", region_name=settings.aws_region)
            reply = ssm.get_parameter(Name=name, WithDecryption=True)
            return str(reply["Parameter"]["Value"])
        sm = session.client("secretsmanager", region_name=settings.aws_region)
        return str(sm.get_secret_value(SecretId=settings.auth_secret_id)["SecretString"])

    return fetch
