"""The local stack's doors: which Host names it answers, and who may use the Management API.

- **Host allowlist** (DNS rebinding). A page on any web site can make a browser send requests
  to ``127.0.0.1`` under the site's own name (``evil.example`` re-resolved to 127.0.0.1), and
  read the answers. Bound to a loopback address, the gateway therefore answers only requests
  whose ``Host`` is a loopback name with its own port (``127.0.0.1:3001``, ``localhost:3001``,
  ``[::1]:3001``): every other name gets 403, on every path (chat page, ``/ops``,
  ``@connections``, the WebSocket upgrade). Bound elsewhere on purpose (``--host``), the
  names it will be reached by are the operator's, and any Host is answered.
- **Management API secret**. Bound beyond loopback, anyone on the network could post into any
  chat or close any socket. ``pairchat dev`` then makes a random secret per run, passes it to
  the handlers as their ``AWS_SECRET_ACCESS_KEY`` (the stock clients sign every post with it,
  exactly as in AWS; no product code knows about it) and prints it in the banner; the
  emulator verifies each request's SigV4 signature against it, as API Gateway verifies IAM
  signatures. A missing, wrong or stale signature gets 403.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import ipaddress
import re
from collections.abc import Iterable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, quote

Scope = MutableMapping[str, Any]

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
#: How far a request's X-Amz-Date may be from now (AWS allows 5 minutes of clock skew).
MAX_SKEW = datetime.timedelta(minutes=5)
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/,\s]+)/(?P<scope>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)


def is_loopback_bind(host: str) -> bool:
    """Whether a listen address is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def loopback_hosts(port: int) -> frozenset[str]:
    """The Host header values a loopback-bound server answers."""
    names = {f"{name}:{port}" for name in LOOPBACK_NAMES}
    if port == 80:
        names.update(LOOPBACK_NAMES)
    return frozenset(names)


def request_host(scope: Scope) -> str:
    """The request's Host, lowercased; several Host headers join with commas (and so match
    no allowed name: HTTP allows one)."""
    values = [v.decode("latin-1") for n, v in scope.get("headers", ()) if n == b"host"]
    return ",".join(values).lower()


def _canonical_query(raw: bytes) -> str:
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
    encoded = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").lower()
        value = " ".join(raw_value.decode("latin-1").split())
        out[name] = f"{out[name]},{value}" if name in out else value
    return out


def _signing_key(secret: str, scope_parts: Iterable[str]) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in scope_parts:
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _fresh(amz_date: str, now: datetime.datetime | None) -> bool:
    try:
        when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
    except ValueError:
        return False
    return abs((now or datetime.datetime.now(datetime.UTC)) - when) <= MAX_SKEW


def _canonical_request(
    scope: Scope, headers: dict[str, str], signed: list[str], payload: str
) -> str:
    raw_path = scope.get("raw_path") or scope["path"].encode()
    return "\n".join(
        [
            scope["method"],
            quote(raw_path.decode("latin-1"), safe="/~"),
            _canonical_query(scope.get("query_string", b"")),
            "".join(f"{name}:{headers[name]}\n" for name in signed),
            ";".join(signed),
            payload,
        ]
    )


def sigv4_valid(
    scope: Scope,
    body: bytes,
    access_key_id: str,
    secret: str,
    now: datetime.datetime | None = None,
) -> bool:
    """Whether an ASGI HTTP request carries a valid AWS SigV4 signature by this key pair.

    Recomputes the signature from the request as received (method, the path encoded once
    more as for every service but S3, the query, the headers the client signed, the body's
    SHA-256) and compares in constant time. The date must be within :data:`MAX_SKEW`.
    """
    headers = _headers(scope)
    match = _AUTH.match(headers.get("authorization", ""))
    if match is None or not hmac.compare_digest(match["key"], access_key_id):
        return False
    signed = match["signed"].split(";")
    amz_date = headers.get("x-amz-date", "")
    credential_scope = match["scope"].split("/")
    well_formed = (
        "host" in signed
        and all(name in headers for name in signed)
        and len(credential_scope) == 4
        and credential_scope[0] == amz_date[:8]
    )
    if not well_formed or not _fresh(amz_date, now):
        return False
    payload = hashlib.sha256(body).hexdigest()
    declared = headers.get("x-amz-content-sha256", payload)
    if declared not in (payload, "UNSIGNED-PAYLOAD"):
        return False
    canonical = _canonical_request(scope, headers, signed, declared)
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{match['scope']}\n{digest}"
    key = _signing_key(secret, credential_scope)
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, match["signature"])
