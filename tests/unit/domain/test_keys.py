"""The Python key builder and the Lua scripts must agree on every key name.

Each key builder of lua/common.lua is evaluated here (its ``..`` chain of literals and
parameters) and compared with keys.py's; no other Lua file may spell a key.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from pairchat.domain.keys import GENDERS, PREFERENCES, Keys, compatible
from pairchat.domain.scripts import SCRIPT_NAMES, lua_dir, source

COMMON = (lua_dir() / "common.lua").read_text()
BUILDER = re.compile(
    r"^local function (\w+_key|\w+_queue_name)\(([\w, ]*)\) return (.+) end$", re.M
)

K = Keys("P")
#: Every Lua builder, the arguments to try, and what keys.py builds for them.
PINS: dict[str, tuple[tuple[object, ...], str]] = {
    "sess_key": (("u",), K.session("u")),
    "conn_key": (("c",), K.connection("c")),
    "room_key": (("r",), K.room("r")),
    "recent_key": (("u",), K.recent("u")),
    "block_key": (("u",), K.blocks("u")),
    "rate_key": (("send", "u"), K.rate("send", "u")),
    "open_queue_name": (("male", "any"), K.queue_name("male", "any")),
    "shadow_queue_name": (("male", "any"), K.queue_name("male", "any", shadow=True)),
    "queue_key": (("wait:chat:male:any",), K.queue("male", "any")),
    "open_index_key": (("female",), K.index("female")),
    "shadow_index_key": (("female",), K.index("female", shadow=True)),
    "shadow_key": (("u",), K.shadow("u")),
    "relax_key": ((), K.relax()),
    "pool_key": ((), K.pool()),
    "online_key": ((), K.online()),
    "reporters_key": (("u",), K.reporters("u")),
    "shadowed_key": ((), K.shadowed()),
    "stats_matches_key": ((29000000,), K.stats_matches(29000000)),
    "stats_waits_key": ((29000000,), K.stats_waits(29000000)),
}
#: keys.py methods no script uses, and why.
PYTHON_ONLY = {
    "all_queues": "a list for the ops API and the sweeper",
    "pattern": "SCAN patterns (scripts never scan)",
    "sweeper": "the sweeper's cursors, kept by Python",
    "stats_depth": "queue-depth samples, written by the Python sweeper",
    "queue_by_name": "pinned through queue_key (same argument)",
    "swept": "the list the sweeper walks (built from the pinned builders)",
    "reports": "the stream of reports not yet in the report store (Python parks and drains it)",
}


def lua_builders() -> dict[str, Callable[..., str]]:
    """common.lua's key builders as Python functions."""
    out: dict[str, Callable[..., str]] = {}
    for name, raw_params, expr in BUILDER.findall(COMMON):
        params = [p.strip() for p in raw_params.split(",") if p.strip()]
        parts = [p.strip() for p in expr.split("..")]
        for part in parts:
            literal = re.fullmatch(r"'[^']*'", part)
            assert literal or part in (*params, "PREFIX"), f"{name}: cannot read {part!r}"

        def build(*args: object, parts: list[str] = parts, params: list[str] = params) -> str:
            env = dict(zip(params, map(str, args), strict=True), PREFIX="P")
            return "".join(p[1:-1] if p.startswith("'") else env[p] for p in parts)

        out[name] = build
    return out


def code_lines(text: str) -> str:
    """A Lua file without its comments (the header block and ``--`` lines)."""
    text = re.sub(r"--\[\[.*?\]\]", "", text, flags=re.S)
    return "\n".join(line.split("--", 1)[0] for line in text.splitlines())


def lua_files() -> list[str]:
    base = lua_dir()
    return sorted(str(p.relative_to(base)) for p in base.rglob("*.lua"))


def test_key_names_keep_the_old_design() -> None:
    k = Keys("{pc}:")
    assert k.session("u") == "{pc}:sess:u"
    assert k.room("r") == "{pc}:room:r"
    assert k.recent("u") == "{pc}:recent:u"
    assert k.queue("male", "any") == "{pc}:wait:chat:male:any"
    assert k.stats_depth(7) == "{pc}:stats:depth:7"
    assert len(k.all_queues()) == len(GENDERS) * len(PREFERENCES)


@pytest.mark.parametrize("name", sorted(PINS))
def test_each_lua_builder_builds_what_keys_py_builds(name: str) -> None:
    args, expected = PINS[name]
    assert lua_builders()[name](*args) == expected


def test_every_builder_is_pinned_and_every_key_has_a_builder() -> None:
    assert set(lua_builders()) == set(PINS), "a builder was added or removed: pin it here"
    methods = {m for m in vars(Keys) if not m.startswith("_") and callable(getattr(Keys, m))}
    pinned_methods = {
        "session",
        "connection",
        "room",
        "recent",
        "blocks",
        "rate",
        "queue_name",
        "queue",
        "index",
        "shadow",
        "relax",
        "pool",
        "online",
        "reporters",
        "shadowed",
        "stats_matches",
        "stats_waits",
    }
    assert methods == pinned_methods | set(PYTHON_ONLY), "a key was added to keys.py: pin it"


def test_no_other_lua_file_spells_a_key() -> None:
    # Without PREFIX no key can be built; the name parts with a ':' are also what sessions
    # store (queue names), so they must come from the builders too.
    literals = {
        p.strip()[1:-1]
        for parts in BUILDER.findall(COMMON)
        for p in parts[2].split("..")
        if "'" in p and ":" in p and len(p.strip()) > 3
    }
    assert "sess:" in literals and "wait:chat:" in literals
    for rel in lua_files():
        if rel == "common.lua":
            continue
        code = code_lines((lua_dir() / rel).read_text())
        assert "PREFIX" not in code, f"{rel} builds a key itself: use a common.lua builder"
        for literal in literals:
            assert f"'{literal}" not in code, f"{rel} spells {literal!r}: use a builder"


def test_the_pool_values_are_the_same() -> None:
    for name, values in (("GENDERS", GENDERS), ("PREFERENCES", PREFERENCES)):
        found = re.search(rf"^local {name} = \{{(.*)\}}$", COMMON, re.M)
        assert found, name
        assert tuple(v.strip().strip("'") for v in found.group(1).split(",")) == values


def test_the_rate_kinds_are_the_stores() -> None:
    assert "rate_allows_session(sk, f, 'join'" in source("match")
    assert "rate_allows_session(sk, f, 'send'" in source("relay")
    assert "rate_allows('join-src'" in source("match") and "rate_allows('conn-src'" in source(
        "connect"
    )


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_every_script_documents_its_contract(name: str) -> None:
    raw = (lua_dir() / f"{name}.lua").read_text()
    header = raw.split("]]", 1)[0]
    for part in ("KEYS[1]", "ARGV[1]", "Reply '", "Errors", "Work"):
        assert part in header, f"{name}.lua header lacks {part}"
    assert not re.search(r"^-- @include", source(name), re.M), "includes must be spliced"


def test_compatibility_is_mutual() -> None:
    assert compatible("male", "female", "female", "male")
    assert compatible("male", "any", "female", "any")
    assert not compatible("male", "female", "female", "female")
    assert not compatible("male", "male", "female", "any")


def test_each_pool_is_its_own_hash_tag_and_the_default_keeps_todays_keys() -> None:
    """The rule docs/redis.md states: `:<pool>:<first 4 hex of sha256(pool)>` goes inside the
    hash tag, so keys of different pools are in different tags by construction (and, through
    the mix, in slots that do not follow the spelling), and the pool `default` keeps
    KEY_PREFIX, today's keys."""
    from pairchat.settings import Settings, hash_tag

    s = Settings(pools=("default", "en", "pt-br"))
    keys = {pool: Keys(s.prefix_for(pool)) for pool in s.pools}
    assert keys["default"].session("u") == "{pairchat}:sess:u"
    assert keys["en"].session("u") == "{pairchat:en:dbd3}:sess:u"
    assert keys["pt-br"].queue("male", "any") == "{pairchat:pt-br:1b73}:wait:chat:male:any"
    assert keys["en"].blocks("u") == "{pairchat:en:dbd3}:block:u"
    tags = {pool: hash_tag(k.prefix) for pool, k in keys.items()}
    assert len(set(tags.values())) == len(tags)


def test_the_mix_spreads_language_codes_that_crc16_alone_would_bunch() -> None:
    """With the bare name in the tag, CRC16 (linear) puts en, es, de, fr, it and pt-br within
    slots 7432..9573: one node of a 3-node cluster. With the mix they spread."""
    from redis.crc import key_slot

    from pairchat.settings import Settings

    names = ("en", "es", "de", "fr", "it", "pt-br")
    bare = [key_slot(f"{{pairchat:{n}}}:".encode()) for n in names]
    assert all(5461 <= s <= 10922 for s in bare)  # the middle third: one node
    s = Settings(pools=names)
    mixed = [key_slot(s.prefix_for(n).encode()) for n in names]
    thirds = {min(slot * 3 // 16384, 2) for slot in mixed}
    assert len(thirds) >= 2 and max(mixed) - min(mixed) > 8192


def test_cluster_mode_scripts_carry_a_shebang_so_a_second_slot_is_refused() -> None:
    """Redis 7 refuses cross-slot access (even on one node) only in scripts with a shebang;
    the clean-up scripts keep running on a full cache (allow-oom), the others are refused
    whole before any write. A plain server (and fakeredis under `pairchat dev`) gets none."""
    from pairchat.domain.scripts import CLUSTER_FLAGS

    for name in SCRIPT_NAMES:
        plain, clustered = source(name), source(name, True)
        assert not plain.startswith("#!")
        first, _, rest = clustered.partition("\n")
        assert rest == plain
        assert first == ("#!lua flags=allow-oom" if name in CLUSTER_FLAGS else "#!lua"), name
    assert set(CLUSTER_FLAGS) == {"leave", "reap", "sweep"}
