"""Pushing frames to connections through the API Gateway Management API.

``post`` answers whether the frame was delivered (True) or the connection is gone
(False: a 410 GoneException). Throttling (429) and 5xx are retried by botocore's
``standard`` retry mode: bounded attempts with jittered exponential backoff.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from .protocol import encode

log = logging.getLogger(__name__)


class Notifier(Protocol):
    def post(self, connection_id: str, frame: dict[str, Any]) -> bool: ...


class DeliveryFailed(RuntimeError):
    """The Management API failed for a reason other than a gone connection."""


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
