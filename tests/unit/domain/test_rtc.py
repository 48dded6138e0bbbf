"""The ICE configuration ``matched`` hands a page, and TURN REST credentials."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest

from pairchat.domain.rtc import IceConfig, turn_credential
from pairchat.settings import Settings

STUN = '[{"urls":"stun:stun.example.com:3478"}]'


def rtc(**overrides: Any) -> Settings:
    return Settings(rtc_enabled=True, **overrides)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")
def test_turn_credential_is_base64_hmac_sha1_as_openssl_computes_it() -> None:
    """Checked against an independent implementation: coturn computes the same."""
    username = "1700000000:4f2a9c"
    out = subprocess.run(
        ["openssl", "dgst", "-sha1", "-hmac", "s3cret", "-binary"],
        input=username.encode(),
        capture_output=True,
        check=True,
    ).stdout
    b64 = subprocess.run(
        ["openssl", "base64", "-A"], input=out, capture_output=True, check=True
    ).stdout.decode()
    assert turn_credential("s3cret", username) == b64
    assert turn_credential("other", username) != b64


def test_off_by_default_nothing_is_offered() -> None:
    assert IceConfig(Settings(ice_servers=STUN)).for_client() is None


def test_enabled_without_servers_is_host_candidates_only() -> None:
    assert IceConfig(rtc()).for_client() == {"iceServers": [], "iceTransportPolicy": "all"}


def test_static_servers_are_passed_as_the_browser_wants_them() -> None:
    config = IceConfig(rtc(ice_servers=STUN)).for_client()
    assert config == {
        "iceServers": [{"urls": ["stun:stun.example.com:3478"]}],
        "iceTransportPolicy": "all",
    }


def test_each_user_gets_its_own_expiring_turn_credential() -> None:
    tokens = iter(["aaaa", "bbbb"])
    settings = rtc(
        turn_urls=("turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:5349"),
        turn_secret="s3cret",
        turn_credential_ttl_s=600,
    )
    ice = IceConfig(settings, clock=lambda: 1_700_000_000.7, opaque=lambda: next(tokens))
    first, second = ice.for_client(), ice.for_client()
    assert first is not None and second is not None
    turn = first["iceServers"][-1]
    assert turn == {
        "urls": ["turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:5349"],
        "username": "1700000600:aaaa",
        "credential": turn_credential("s3cret", "1700000600:aaaa"),
    }
    assert second["iceServers"][-1]["username"] == "1700000600:bbbb"
    assert second["iceServers"][-1]["credential"] != turn["credential"]


def test_the_default_opaque_part_is_random_not_an_identity() -> None:
    ice = IceConfig(rtc(turn_urls=("turn:t.example.com",), turn_secret="k"))
    names = set()
    for _ in range(20):
        config = ice.for_client()
        assert config is not None
        names.add(config["iceServers"][-1]["username"].split(":", 1)[1])
    assert len(names) == 20


def test_relay_only_sets_the_transport_policy() -> None:
    settings = rtc(rtc_relay_only=True, turn_urls=("turn:t.example.com",), turn_secret="k")
    config = IceConfig(settings).for_client()
    assert config is not None and config["iceTransportPolicy"] == "relay"


def test_the_secret_is_fetched_once_and_a_failing_store_never_breaks_a_match() -> None:
    calls: list[int] = []

    def fetch() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("ssm down")
        return "k"

    settings = rtc(
        ice_servers=STUN, turn_urls=("turn:t.example.com",), turn_secret_parameter="turn/secret"
    )
    ice = IceConfig(settings, fetch_secret=fetch)
    degraded = ice.for_client()
    assert degraded == {
        "iceServers": [{"urls": ["stun:stun.example.com:3478"]}],
        "iceTransportPolicy": "all",
    }
    for _ in range(3):
        config = ice.for_client()
        assert config is not None and config["iceServers"][-1]["urls"] == ["turn:t.example.com"]
    assert len(calls) == 2  # fetched again after the failure, then kept


def test_relay_only_without_a_usable_turn_server_offers_nothing() -> None:
    """Never a direct connection that would reveal addresses the operator meant to hide."""

    def fetch() -> str:
        raise ConnectionError("ssm down")

    settings = rtc(
        rtc_relay_only=True, turn_urls=("turn:t.example.com",), turn_secret_parameter="p"
    )
    assert IceConfig(settings, fetch_secret=fetch).for_client() is None
