"""``local/guard.py``: the SigV4 check the Management API emulator runs beyond loopback,
against signatures made by the product's own signer (itself pinned to botocore's), and the
loopback rules."""

from __future__ import annotations

import datetime
from typing import Any

from pairchat.adapters.management import Credentials, sigv4_headers
from pairchat_tools.local.guard import is_loopback_bind, loopback_hosts, sigv4_valid

KEY, SECRET = "pairchat-local", "s3cret-of-this-run"
WHEN = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)


def scope(body: bytes, secret: str = SECRET, *, sent_body: bytes | None = None) -> dict[str, Any]:
    """An ASGI request as the emulator receives a signed post."""
    raw = "/@connections/abc%3D"
    signed = sigv4_headers(
        "POST", "127.0.0.1:3001", raw, body, "us-east-1", "execute-api",
        Credentials(KEY, secret), now=WHEN,
    )  # fmt: skip
    headers = [(b"host", b"127.0.0.1:3001"), *((k.encode(), v.encode()) for k, v in signed.items())]
    return {"method": "POST", "path": "/@connections/abc=", "raw_path": raw.encode(),
            "query_string": b"", "headers": headers}  # fmt: skip


def test_a_post_signed_with_the_runs_secret_passes() -> None:
    assert sigv4_valid(scope(b'{"type":"x"}'), b'{"type":"x"}', KEY, SECRET, now=WHEN)


def test_wrong_secret_tampered_body_stale_date_or_no_signature_fail() -> None:
    body = b'{"type":"x"}'
    assert not sigv4_valid(scope(body, "guess"), body, KEY, SECRET, now=WHEN)
    assert not sigv4_valid(scope(body), b'{"type":"forged"}', KEY, SECRET, now=WHEN)
    later = WHEN + datetime.timedelta(minutes=6)
    assert not sigv4_valid(scope(body), body, KEY, SECRET, now=later)
    assert not sigv4_valid(scope(body), body, "another-key", SECRET, now=WHEN)
    unsigned = {**scope(body), "headers": [(b"host", b"127.0.0.1:3001")]}
    assert not sigv4_valid(unsigned, body, KEY, SECRET, now=WHEN)


def test_loopback_binds_and_names() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        assert is_loopback_bind(host), host
    for host in ("0.0.0.0", "::", "192.168.1.10", "example.com"):
        assert not is_loopback_bind(host), host
    assert loopback_hosts(3001) == {"127.0.0.1:3001", "localhost:3001", "[::1]:3001"}
