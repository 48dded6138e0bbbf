from __future__ import annotations

import pytest

from pairchat.settings import Settings, SettingsError, hash_tag


def test_from_env_reads_every_setting_once() -> None:
    s = Settings.from_env(
        {
            "REDIS_URL": "rediss://cache:6379",
            "REDIS_CLUSTER": "true",
            "KEY_PREFIX": "{eu}:",
            "SESSION_TTL_SECONDS": "30",
            "MAX_MESSAGE_CHARS": "100",
        }
    )
    assert (s.redis_url, s.redis_cluster, s.key_prefix) == ("rediss://cache:6379", True, "{eu}:")
    assert (s.session_ttl_s, s.max_text_chars, s.room_ttl_s) == (30, 100, 600)


@pytest.mark.parametrize(
    "env",
    [
        {"REDIS_URL": "http://x"},
        {"SESSION_TTL_SECONDS": "soon"},
        {"SESSION_TTL_SECONDS": "0"},
        {"REDIS_CLUSTER": "maybe"},
        {"REDIS_CLUSTER": "true", "KEY_PREFIX": "pairchat:"},
        {"KEY_PREFIX": "{a}{b}:"},
    ],
)
def test_bad_configuration_is_refused(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        Settings.from_env(env)


def test_hash_tag_follows_redis_rules() -> None:
    assert hash_tag("{pairchat}:") == "pairchat"
    assert hash_tag("app:{eu-1}:") == "eu-1"
    assert hash_tag("{}:") is None
    assert hash_tag("plain:") is None
