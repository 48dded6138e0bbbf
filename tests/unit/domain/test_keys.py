"""The Python key builder and the Lua scripts must agree on every key name."""

from __future__ import annotations

import re

import pytest

from pairchat.domain.keys import GENDERS, PREFERENCES, Keys, compatible
from pairchat.domain.scripts import SCRIPT_NAMES, lua_dir, source


def test_key_names_keep_the_old_design() -> None:
    k = Keys("{pc}:")
    assert k.session("u") == "{pc}:sess:u"
    assert k.room("r") == "{pc}:room:r"
    assert k.recent("u") == "{pc}:recent:u"
    assert k.queue("male", "any") == "{pc}:wait:chat:male:any"
    assert len(k.all_queues()) == len(GENDERS) * len(PREFERENCES)


def test_lua_builds_the_same_names_as_keys_py() -> None:
    common = (lua_dir() / "common.lua").read_text()
    k = Keys("P")
    for fn, kind in [("sess_key", k.session), ("conn_key", k.connection), ("room_key", k.room)]:
        literal = re.search(rf"function {fn}\(\w+\) return PREFIX \.\. '([^']+)'", common)
        assert literal, fn
        assert "P" + literal.group(1) + "x" == kind("x")
    match = source("match")
    assert "'wait:chat:' .. g2 .. ':' .. p2" in match
    assert k.queue_name("male", "any") == "wait:chat:" + "male" + ":" + "any"


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_every_script_documents_its_contract(name: str) -> None:
    raw = (lua_dir() / f"{name}.lua").read_text()
    header = raw.split("]]", 1)[0]
    for part in ("KEYS[1]", "ARGV[1]", "Returns", "Errors"):
        assert part in header, f"{name}.lua header lacks {part}"
    assert not re.search(r"^-- @include", source(name), re.M), "includes must be spliced"


def test_compatibility_is_mutual() -> None:
    assert compatible("male", "female", "female", "male")
    assert compatible("male", "any", "female", "any")
    assert not compatible("male", "female", "female", "female")
    assert not compatible("male", "male", "female", "any")
