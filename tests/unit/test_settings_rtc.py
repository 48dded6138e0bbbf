"""Direct-connection settings: off by default, checked at cold start."""

from __future__ import annotations

import pytest

from pairchat.settings import Settings, SettingsError, parse_ice_servers


def test_defaults_offer_nothing() -> None:
    s = Settings.from_env({})
    assert (s.rtc_enabled, s.rtc_relay_only, s.ice_servers, s.turn_urls) == (False, False, "[]", ())
    assert s.turn_credential_ttl_s == 86400


def test_from_env_reads_the_rtc_settings() -> None:
    s = Settings.from_env(
        {
            "RTC_ENABLED": "true",
            "RTC_RELAY_ONLY": "true",
            "ICE_SERVERS": '[{"urls":["stun:a.example.com","turn:a.example.com"],'
            '"username":"u","credential":"c"}]',
            "TURN_URLS": "turn:t.example.com:3478, turns:t.example.com:5349",
            "TURN_SECRET_PARAMETER": "pairchat/turn",
            "TURN_CREDENTIAL_TTL_SECONDS": "600",
        }
    )
    assert s.rtc_enabled and s.rtc_relay_only
    assert s.turn_urls == ("turn:t.example.com:3478", "turns:t.example.com:5349")
    assert (s.turn_secret_parameter, s.turn_credential_ttl_s) == ("pairchat/turn", 600)


def test_secrets_stay_out_of_the_repr() -> None:
    s = Settings(
        ice_servers='[{"urls":"turn:t.example.com","username":"u","credential":"hunter2"}]',
        turn_urls=("turn:t.example.com",),
        turn_secret="sekrit",
    )
    assert "hunter2" not in repr(s) and "sekrit" not in repr(s)


@pytest.mark.parametrize(
    "env",
    [
        {"ICE_SERVERS": "stun:a.example.com"},
        {"ICE_SERVERS": '{"urls":"stun:a.example.com"}'},
        {"ICE_SERVERS": '[{"url":"stun:a.example.com"}]'},
        {"ICE_SERVERS": '[{"urls":[]}]'},
        {"ICE_SERVERS": '[{"urls":"http://a.example.com"}]'},
        {"ICE_SERVERS": '[{"urls":"turn:a.example.com","credential":5}]'},
        {"TURN_URLS": "stun:a.example.com", "TURN_SECRET": "k"},
        {"TURN_URLS": "turn:a.example.com"},
        {"TURN_SECRET": "k"},
        {"RTC_ENABLED": "true", "RTC_RELAY_ONLY": "true"},
        {"RTC_ENABLED": "true", "RTC_RELAY_ONLY": "true", "ICE_SERVERS": '[{"urls":"stun:a"}]'},
        {"RTC_ENABLED": "sometimes"},
        {"TURN_CREDENTIAL_TTL_SECONDS": "10"},
    ],
)
def test_bad_rtc_configuration_is_refused(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        Settings.from_env(env)


def test_relay_only_accepts_a_static_turn_server() -> None:
    s = Settings.from_env(
        {
            "RTC_ENABLED": "true",
            "RTC_RELAY_ONLY": "true",
            "ICE_SERVERS": '[{"urls":"turns:t.example.com","username":"u","credential":"c"}]',
        }
    )
    assert parse_ice_servers(s.ice_servers)[0]["urls"] == ["turns:t.example.com"]
