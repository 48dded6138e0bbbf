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


def test_every_setting_read_from_the_environment_is_in_the_readme_table() -> None:
    """A setting nobody can find is a setting nobody can use: the README's configuration
    table names every variable ``Settings.from_env`` reads (AWS_* and POWERTOOLS_* are the
    platform's own and covered by a row each family)."""
    import re
    from pathlib import Path

    import pairchat.settings as settings_module

    source = Path(settings_module.__file__).read_text()
    read = set(re.findall(r'"([A-Z][A-Z0-9_]{2,})"', source))
    read = {name for name in read if not name.startswith(("AWS_", "POWERTOOLS_"))}
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme[readme.index("## Configuration") :].split("\n## ", 1)[0]
    missing = sorted(name for name in read if f"`{name}`" not in table)
    assert not missing, f"settings missing from the README configuration table: {missing}"


def test_pools_default_to_one_pool_that_keeps_the_key_prefix() -> None:
    s = Settings.from_env({})
    assert s.pools == ("default",) and s.default_pool == "default"
    assert s.prefix_for() == s.prefix_for("default") == "{pairchat}:"


def test_pools_are_read_in_order_and_each_gets_its_own_hash_tag() -> None:
    s = Settings.from_env({"POOLS": " en, es ,pt-br", "KEY_PREFIX": "app:{pc}:"})
    assert s.pools == ("en", "es", "pt-br") and s.default_pool == "en"
    assert [s.prefix_for(p) for p in s.pools] == [
        "app:{pc:en:dbd3}:",
        "app:{pc:es:c0bc}:",
        "app:{pc:pt-br:1b73}:",
    ]
    assert {hash_tag(s.prefix_for(p)) for p in s.pools} == {
        "pc:en:dbd3",
        "pc:es:c0bc",
        "pc:pt-br:1b73",
    }
    # `default` may sit beside others and keeps the bare prefix (and its keys)
    mixed = Settings(pools=("default", "es"))
    assert [mixed.prefix_for(p) for p in mixed.pools] == ["{pairchat}:", "{pairchat:es:c0bc}:"]


@pytest.mark.parametrize(
    "pools",
    ["en,en", "EN", "en,", "pt_br", "a" * 33, "en es", ",".join(f"p{i}" for i in range(65))],
)
def test_bad_pool_lists_are_refused(pools: str) -> None:
    with pytest.raises(SettingsError, match="POOLS"):
        Settings.from_env({"POOLS": pools})


def test_pools_other_than_default_need_a_hash_tag() -> None:
    with pytest.raises(SettingsError, match="hash tag"):
        Settings.from_env({"POOLS": "en", "KEY_PREFIX": "pairchat:"})
    assert Settings.from_env({"KEY_PREFIX": "pairchat:"}).prefix_for() == "pairchat:"
