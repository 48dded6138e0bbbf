"""Token identity and the origin allowlist (auth.py), without Redis."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from moto import mock_aws

from pairchat.adapters.auth import Authenticator, Refused, check_origin
from pairchat.domain.identity import token_user_id
from pairchat.settings import Settings, SettingsError

SECRET = "a-test-secret-of-at-least-32-bytes!!"
BASE = Settings(auth_mode="required", auth_secret=SECRET)
ALICE = token_user_id("", "alice")


def token(
    claims: dict[str, Any] | None = None,
    key: Any = SECRET,
    alg: str = "HS256",
    headers: dict[str, Any] | None = None,
    **extra: Any,
) -> str:
    body: dict[str, Any] = {"sub": "alice", "exp": int(time.time()) + 300, **extra}
    if claims is not None:
        body = claims
    return jwt.encode(body, key, algorithm=alg, headers=headers)


def refusal(auth: Authenticator, tok: str | None) -> Refused:
    with pytest.raises(Refused) as info:
        auth.identify(tok)
    return info.value


def test_a_valid_token_gives_a_digest_of_its_issuer_and_subject_as_the_user_id() -> None:
    identity = Authenticator.from_settings(BASE).identify(token())
    assert identity.user_id == ALICE and identity.authenticated
    assert identity.user_id.startswith("t:") and "alice" not in identity.user_id


def test_token_ids_never_collide_with_anonymous_ids_whatever_the_subject() -> None:
    """Finding 1: a token whose sub is a stranger's anonymous id must not become that id."""
    auth = Authenticator.from_settings(replace(BASE, auth_mode="optional"))
    victim = auth.identify(None).user_id
    assert victim.startswith("a:")
    for sub in (victim, victim[2:], "a:" + victim, "t:" + victim):
        if not sub or len(sub) > 128:
            continue
        attacker = auth.identify(token(sub=sub)).user_id
        assert attacker != victim and attacker.startswith("t:")


def test_the_same_subject_at_two_issuers_is_two_users() -> None:
    auth = Authenticator.from_settings(BASE)
    one = auth.identify(token(iss="https://one.example")).user_id
    two = auth.identify(token(iss="https://two.example")).user_id
    assert one != two and one == token_user_id("https://one.example", "alice")


@pytest.mark.parametrize(
    "bad",
    [
        token(exp=int(time.time()) - 120),  # expired beyond the leeway
        token(key="another-secret-of-at-least-32-bytes"),  # forged signature
        token(claims={"sub": "alice"}),  # no exp
        token(claims={"exp": int(time.time()) + 60}),  # no sub
        token(sub=42),  # sub not a string
        token(sub="has space"),
        token(sub="x" * 129),
        token(sub="{pairchat}:sess:bob"),  # braces could move a key to another slot
        token(nbf=int(time.time()) + 3600),  # not valid yet
        jwt.encode({"sub": "alice", "exp": int(time.time()) + 60}, None, algorithm="none"),
        "not.a.jwt",
        "x" * 9000,
        token()[:-3] + "abc",  # tampered signature
    ],
    # stable ids: the tokens differ per process (timestamps), xdist workers must agree
    ids=[
        "expired",
        "forged",
        "no-exp",
        "no-sub",
        "int-sub",
        "space-sub",
        "long-sub",
        "brace-sub",
        "nbf",
        "alg-none",
        "not-jwt",
        "too-long",
        "tampered",
    ],
)
def test_unverifiable_tokens_are_refused_with_401(bad: str) -> None:
    r = refusal(Authenticator.from_settings(BASE), bad)
    assert r.status == 401
    assert bad not in r.reason and "alice" not in r.reason  # safe to log


def test_issuer_and_audience_are_checked_when_configured() -> None:
    auth = Authenticator.from_settings(
        replace(BASE, auth_issuer="https://id", auth_audience="chat")
    )
    assert auth.identify(token(iss="https://id", aud="chat")).user_id == token_user_id(
        "https://id", "alice"
    )
    assert refusal(auth, token(iss="https://evil", aud="chat")).status == 401
    assert refusal(auth, token(iss="https://id", aud="other")).status == 401
    assert refusal(auth, token()).status == 401


def test_modes() -> None:
    anon = Authenticator.from_settings(Settings())
    a = anon.identify(token())  # anonymous mode ignores tokens
    assert not a.authenticated and a.user_id.startswith("a:")
    assert anon.identify(None).user_id != anon.identify(None).user_id
    optional = Authenticator.from_settings(replace(BASE, auth_mode="optional"))
    assert not optional.identify(None).authenticated
    assert not optional.identify("").authenticated
    assert optional.identify(token()).user_id == ALICE
    assert refusal(optional, "garbage").status == 401  # a bad token is never downgraded
    required = Authenticator.from_settings(BASE)
    assert refusal(required, None).status == 401
    assert refusal(required, "").status == 401


def test_auth_modes_need_a_key_source() -> None:
    with pytest.raises(SettingsError):
        Settings(auth_mode="required")
    with pytest.raises(SettingsError):
        Settings.from_env({"AUTH_MODE": "sometimes"})
    s = Settings.from_env(
        {
            "AUTH_MODE": "optional",
            "AUTH_SECRET_PARAMETER": "pairchat/jwt",
            "ALIAS_SECRET": "alias-key",
            "ALLOWED_ORIGINS": "https://a.example, https://b.example",
            "RATE_JOINS_PER_WINDOW": "5",
            "RATE_MESSAGES_PER_WINDOW": "0",
            "RECONNECT_GRACE_SECONDS": "0",
        }
    )
    assert s.allowed_origins == ("https://a.example", "https://b.example")
    assert (s.rate_joins, s.rate_messages, s.reconnect_grace_s) == (5, 0, 0)
    assert SECRET not in repr(replace(s, auth_secret=SECRET))
    assert "alias-key" not in repr(s)
    with pytest.raises(SettingsError, match="ALIAS_SECRET"):
        # Tokens without a key for the aliases: strangers could test guessed subjects.
        Settings(auth_mode="optional", auth_jwks_url="https://issuer.example/jwks.json")


def test_the_secret_is_fetched_once_per_cold_start() -> None:
    calls: list[int] = []

    def fetch() -> str:
        calls.append(1)
        return SECRET

    auth = Authenticator.from_settings(BASE, fetch_secret=fetch)
    for _ in range(5):
        assert auth.identify(token()).user_id == ALICE
    assert calls == [1]


def test_a_failing_key_source_is_503_not_401() -> None:
    def fetch() -> str:
        raise ConnectionError("ssm down")

    assert refusal(Authenticator.from_settings(BASE, fetch_secret=fetch), token()).status == 503


@mock_aws
def test_secret_from_ssm_parameter_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name="/pairchat/jwt", Value=SECRET, Type="SecureString"
    )
    s = Settings(auth_mode="required", auth_secret_parameter="pairchat/jwt", alias_secret="k")
    assert Authenticator.from_settings(s).identify(token()).user_id == ALICE


@mock_aws
def test_secret_from_secrets_manager(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name="pairchat-jwt", SecretString=SECRET
    )
    s = Settings(auth_mode="required", auth_secret_id="pairchat-jwt", alias_secret="k")
    auth = Authenticator.from_settings(s)
    assert auth.identify(token(sub="bob")).user_id == token_user_id("", "bob")
    assert refusal(auth, token(key="wrong-secret-but-long-enough-32-bytes")).status == 401


@pytest.fixture
def jwks() -> Iterator[tuple[str, Any]]:
    """An issuer's JWKS endpoint on loopback, with one RSA key (kid k1)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    body = json.dumps({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json", key
    finally:
        server.shutdown()
        server.server_close()


def test_tokens_from_a_jwks_issuer(jwks: tuple[str, Any]) -> None:
    url, key = jwks
    s = Settings(auth_mode="required", auth_jwks_url=url, alias_secret="k")
    auth = Authenticator.from_settings(s)
    good = token(key=key, alg="RS256", headers={"kid": "k1"})
    assert auth.identify(good).user_id == ALICE
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert refusal(auth, token(key=other, alg="RS256", headers={"kid": "k1"})).status == 401
    assert refusal(auth, token(key=key, alg="RS256", headers={"kid": "nope"})).status == 401
    # Algorithm confusion: an HS256 token MACed with the issuer's public key must not pass
    # (PyJWT would not even create one; an attacker crafts it by hand).
    pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)

    def b64(raw: bytes) -> bytes:
        return base64.urlsafe_b64encode(raw).rstrip(b"=")

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    claims = b64(json.dumps({"sub": "mallory", "exp": int(time.time()) + 60}).encode())
    mac = b64(hmac.new(pem, head + b"." + claims, hashlib.sha256).digest())
    assert refusal(auth, (head + b"." + claims + b"." + mac).decode()).status == 401


@pytest.mark.parametrize(
    ("headers", "allowed", "ok"),
    [
        ({"Origin": "https://chat.example.com"}, ("https://chat.example.com",), True),
        ({"origin": "HTTPS://Chat.Example.com/"}, ("https://chat.example.com",), True),
        ({"Origin": "https://evil.example"}, ("https://chat.example.com",), False),
        ({"Origin": "https://chat.example.com.evil.example"}, ("https://chat.example.com",), False),
        ({"Origin": "null"}, ("https://chat.example.com",), False),
        ({}, ("https://chat.example.com",), True),  # not a browser
        (None, ("https://chat.example.com",), True),
        ({"Origin": "https://evil.example"}, (), True),  # no allowlist configured
        ({"Origin": "https://evil.example"}, ("*",), True),
    ],
)
def test_origin_allowlist(
    headers: dict[str, str] | None, allowed: tuple[str, ...], ok: bool
) -> None:
    if ok:
        check_origin(headers, allowed)
    else:
        with pytest.raises(Refused) as info:
            check_origin(headers, allowed)
        assert info.value.status == 403
