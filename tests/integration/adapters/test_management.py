"""SignedHttpNotifier against a real HTTP server on loopback: status mapping, retries,
kept-alive connections, signatures botocore agrees with, and the Lambda entry points."""

from __future__ import annotations

import datetime
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from unittest import mock
from urllib.parse import unquote

import pytest
import redis
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from pairchat.adapters.management import Credentials, DeliveryFailed, SignedHttpNotifier
from pairchat.handlers import ws
from tests.support import free_port, load_event

pytestmark = pytest.mark.integration
CREDS = Credentials("AKIDTEST", "test-secret", "test-token")


class Api:
    """Records posts; ``script`` maps a connection id to the statuses to answer in turn."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, bytes, dict[str, str]]] = []
        self.script: dict[str, list[int]] = {}
        self.peers: set[int] = set()
        self.bad_signatures = 0


def valid_signature(api_host: str, path: str, body: bytes, headers: dict[str, str]) -> bool:
    """Re-signs the request with botocore at the request's own x-amz-date."""
    when = datetime.datetime.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ")
    request = AWSRequest(method="POST", url=f"http://{api_host}{path}", data=body)
    creds = BotoCredentials(CREDS.access_key_id, CREDS.secret_access_key, CREDS.session_token)
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        SigV4Auth(creds, "execute-api", "us-east-1").add_auth(request)
    return bool(request.headers["Authorization"] == headers.get("authorization"))


@pytest.fixture
def api() -> Iterator[tuple[Api, str]]:
    state = Api()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            if not valid_signature(headers["host"], self.path, body, headers):
                state.bad_signatures += 1
            cid = unquote(self.path.rsplit("/", 1)[-1])
            state.posts.append((cid, body, headers))
            state.peers.add(self.client_address[1])
            statuses = state.script.get(cid)
            status = statuses.pop(0) if statuses else 200
            payload = b'{"message": "x"}' if status != 200 else b""
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/dev"
    server.shutdown()
    server.server_close()


def test_delivered_frames_are_signed_and_share_one_connection(api: tuple[Api, str]) -> None:
    state, endpoint = api
    notifier = SignedHttpNotifier(endpoint, "us-east-1", CREDS)
    for i in range(5):
        assert notifier.post("Abc+/1=", {"type": "message", "n": i}) is True
    assert [json.loads(body)["n"] for _, body, _ in state.posts] == [0, 1, 2, 3, 4]
    assert {cid for cid, _, _ in state.posts} == {"Abc+/1="}
    assert state.bad_signatures == 0
    assert state.posts[0][2]["x-amz-security-token"] == "test-token"
    assert len(state.peers) == 1  # kept alive: one TCP connection for every post


def test_gone_is_false_and_not_retried(api: tuple[Api, str]) -> None:
    state, endpoint = api
    state.script["gone"] = [410]
    assert SignedHttpNotifier(endpoint, "us-east-1", CREDS).post("gone", {"type": "x"}) is False
    assert len(state.posts) == 1


def test_throttling_is_retried_until_it_passes(api: tuple[Api, str]) -> None:
    state, endpoint = api
    state.script["busy"] = [429, 503]
    notifier = SignedHttpNotifier(endpoint, "us-east-1", CREDS, max_attempts=3)
    assert notifier.post("busy", {"type": "x"}) is True
    assert len(state.posts) == 3


@pytest.mark.parametrize(("statuses", "requests"), [([500, 500, 500], 3), ([403], 1)])
def test_failures_raise_after_bounded_attempts(
    api: tuple[Api, str], statuses: list[int], requests: int
) -> None:
    state, endpoint = api
    state.script["bad"] = statuses
    with pytest.raises(DeliveryFailed):
        SignedHttpNotifier(endpoint, "us-east-1", CREDS, max_attempts=3).post("bad", {"type": "x"})
    assert len(state.posts) == requests


def test_an_unreachable_endpoint_raises_delivery_failed() -> None:
    notifier = SignedHttpNotifier(
        f"http://127.0.0.1:{free_port()}/dev", "us-east-1", CREDS, timeout_s=1, max_attempts=2
    )
    with pytest.raises(DeliveryFailed):
        notifier.post("x", {"type": "x"})


class Context:
    function_name = "pairchat-MessageFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:pairchat-Message"
    aws_request_id = "req-1"


def test_lambda_entry_points_post_through_the_signed_client(
    api: tuple[Api, str],
    redis_url: str,
    redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state, endpoint = api
    for name, value in {
        "REDIS_URL": redis_url,
        "KEY_PREFIX": "{signed}:",
        "MANAGEMENT_ENDPOINT": endpoint,
        "AWS_ACCESS_KEY_ID": CREDS.access_key_id,
        "AWS_SECRET_ACCESS_KEY": CREDS.secret_access_key,
        "AWS_SESSION_TOKEN": str(CREDS.session_token),
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MANAGEMENT_TRANSPORT", raising=False)
    monkeypatch.setattr(ws, "_runtime", None)
    for cid, g in (("S1=", "male"), ("S2=", "female")):
        assert ws.on_connect(load_event("$connect", cid), Context())["statusCode"] == 200
        body = {"action": "join", "gender": g, "preference": "any"}
        assert ws.on_message(load_event("join", cid, body), Context())["statusCode"] == 200
    frames = [(cid, json.loads(body)["type"]) for cid, body, _ in state.posts]
    assert frames == [("S1=", "queued"), ("S1=", "matched"), ("S2=", "matched")]
    assert state.bad_signatures == 0
    monkeypatch.setattr(ws, "_runtime", None)
