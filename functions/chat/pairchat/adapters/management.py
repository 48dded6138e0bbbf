"""Pushing frames to connections through the API Gateway Management API.

``post`` answers whether the frame was delivered (True) or the connection is gone
(False: a 410 GoneException). Throttling (429) and 5xx are retried with bounded attempts
and jittered exponential backoff (botocore's ``standard`` retry mode for the boto3 client).
The Lambda handlers use :class:`SignedHttpNotifier` (no boto3 on their cold start); tools
and tests may use :class:`ManagementApiNotifier` with a boto3 client.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any

from pairchat.adapters.httppool import ConnectionPool
from pairchat.domain.ports import DeliveryFailed
from pairchat.domain.protocol import encode

log = logging.getLogger(__name__)


class ManagementApiNotifier:
    def __init__(self, client: Any) -> None:
        self._client = client

    def post(self, connection_id: str, frame: dict[str, Any]) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=encode(frame))
        except ClientError as exc:
            err = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if err.get("Code") == "GoneException" or status == 410:
                return False
            raise DeliveryFailed(f"post_to_connection failed: {err.get('Code')}") from exc
        except BotoCoreError as exc:
            raise DeliveryFailed(f"post_to_connection failed: {type(exc).__name__}") from exc
        return True


def management_client(
    endpoint_url: str,
    region: str,
    timeout_s: float = 3.0,
    max_attempts: int = 3,
    max_pool_connections: int = 10,
) -> Any:
    """A Management API client for one endpoint (``https://{domain}/{stage}``)."""
    import boto3
    from botocore.config import Config

    config = Config(
        # total_max_attempts counts the first request too (botocore's max_attempts would
        # count only the retries: 3 would mean 4 posts, past the function's timeout).
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        tcp_keepalive=True,
        max_pool_connections=max_pool_connections,
    )
    return boto3.session.Session().client(
        "apigatewaymanagementapi", endpoint_url=endpoint_url, region_name=region, config=config
    )


class SignedHttpNotifier:
    """``post_to_connection`` as one SigV4-signed HTTPS request on a kept-alive connection.

    The Lambda handlers use this instead of a boto3 client: importing boto3 and building a
    client costs well over 100 ms of every cold start (bench/coldstart.py), while this needs
    only the standard library. Same contract as :class:`ManagementApiNotifier`: True when
    delivered, False on 410 Gone; throttling (429), 5xx and connection errors are retried
    with jittered exponential backoff up to ``max_attempts``, then :class:`DeliveryFailed`.
    Thread-safe (the local stack runs handlers on a thread pool): each thread takes a
    connection from a small pool.
    """

    RETRYABLE = frozenset({429, 500, 502, 503, 504})

    def __init__(
        self,
        endpoint_url: str,
        region: str,
        credentials: Credentials,
        timeout_s: float = 3.0,
        max_attempts: int = 3,
        max_pool_connections: int = 10,
    ) -> None:
        from urllib.parse import urlsplit

        url = urlsplit(endpoint_url)
        self._host = url.netloc
        self._base = url.path.rstrip("/")
        self._region = region
        self._credentials = credentials
        self._attempts = max(1, max_attempts)
        self._pool = ConnectionPool(
            url.netloc, url.scheme == "https", timeout_s, max_pool_connections
        )

    def post(self, connection_id: str, frame: dict[str, Any]) -> bool:
        from urllib.parse import quote

        body = encode(frame)
        path = f"{self._base}/@connections/{quote(connection_id, safe='')}"
        for attempt in range(1, self._attempts + 1):
            headers = sigv4_headers(
                "POST", self._host, path, body, self._region, "execute-api", self._credentials
            )
            try:
                status = self._send(path, body, headers)
            except OSError as exc:  # refused, reset, timed out (http.client errors included)
                if attempt == self._attempts:
                    raise DeliveryFailed(f"post_to_connection failed: {exc!r}") from exc
            else:
                if 200 <= status < 300:
                    return True
                if status == 410:
                    return False
                if status not in self.RETRYABLE or attempt == self._attempts:
                    raise DeliveryFailed(f"post_to_connection failed: HTTP {status}")
            time.sleep(random.uniform(0, min(1.0, 0.05 * 2**attempt)))
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        return self._pool.post(path, body, headers)[0]


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


def default_credentials() -> Credentials:
    """botocore's credential chain, for when none are configured (off Lambda: a profile,
    SSO...). Lambda always configures them, so the import cost stays off its cold start."""
    import botocore.session

    found = botocore.session.get_session().get_credentials()
    if found is None:
        raise DeliveryFailed("no AWS credentials to sign Management API requests with")
    frozen = found.get_frozen_credentials()
    return Credentials(frozen.access_key, frozen.secret_key, frozen.token)


def sigv4_headers(
    method: str,
    host: str,
    path: str,
    body: bytes,
    region: str,
    service: str,
    credentials: Credentials,
    now: datetime.datetime | None = None,
    signed: dict[str, str] | None = None,
) -> dict[str, str]:
    """AWS Signature Version 4 headers for a request with no query string.

    ``path`` is the request path as sent (already percent-encoded); as for every service
    but S3, the canonical URI encodes it once more. ``signed``: more headers to sign and send
    (DynamoDB's ``x-amz-target`` and ``content-type``), returned with the others.
    tests/unit/adapters/test_management_sigv4.py checks the result against botocore's signer.
    """
    from urllib.parse import quote

    now = now or datetime.datetime.now(datetime.UTC)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    headers = {k.lower(): v for k, v in (signed or {}).items()}
    headers.update({"host": host, "x-amz-date": amz_date})
    if credentials.session_token:
        headers["x-amz-security-token"] = credentials.session_token
    names = sorted(headers)
    canonical = "\n".join(
        [
            method,
            quote(path, safe="/~"),
            "",
            "".join(f"{n}:{headers[n].strip()}\n" for n in names),
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = ("AWS4" + credentials.secret_access_key).encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    out = {k: v for k, v in headers.items() if k != "host"}
    out["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key_id}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return out
