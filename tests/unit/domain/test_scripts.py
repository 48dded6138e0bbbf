"""scripts.py: the splice (includes, line origins, error locations) and the named replies,
pinned against the scripts' headers and reply tables."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pairchat.domain import errors, scripts
from pairchat.domain.scripts import (
    INCLUDE,
    REPLIES,
    SCRIPT_NAMES,
    Spliced,
    decode,
    lua_dir,
    spliced,
)

REPLY_LINE = re.compile(r"Reply '(\w+)':\s*([\w,\s]+?)\.", re.S)


def header(name: str) -> str:
    return (lua_dir() / f"{name}.lua").read_text().split("]]", 1)[0]


def declared(name: str) -> dict[str, tuple[str, ...]]:
    """The header's ``Reply 'status': a, b.`` lines."""
    return {
        status: tuple(f.strip() for f in fields.split(",") if f.strip())
        for status, fields in REPLY_LINE.findall(header(name))
    }


def reply_tables(name: str) -> list[tuple[str, list[str]]]:
    """Every table constructor in the spliced script that starts with a quoted status:
    (status, the quoted names at the name positions)."""
    out = []
    text = re.sub(r"--\[\[.*?\]\]", "", spliced(name).text, flags=re.S)
    text = "\n".join(line.split("--", 1)[0] for line in text.splitlines())
    for m in re.finditer(r"\{'(\w+)',([^{}]*)\}", text):
        items = [i.strip() for i in top_level_items(m.group(2))]
        out.append((m.group(1), [i.strip("'") for i in items[0::2]]))
    return out


def top_level_items(text: str) -> list[str]:
    """Comma-separated items, commas inside parentheses or quotes kept."""
    items, depth, quote, current = [], 0, "", ""
    for c in text:
        if quote:
            quote = "" if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c == "," and depth == 0:
            items.append(current)
            current = ""
            continue
        current += c
    return [*items, current]


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_the_header_declares_what_replies_declares(name: str) -> None:
    assert declared(name) == dict(REPLIES[name])


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_every_reply_the_script_builds_sends_the_declared_names(name: str) -> None:
    built = {status: names for status, names in reply_tables(name) if status in REPLIES[name]}
    assert set(built) == set(REPLIES[name]), f"{name}.lua never builds some declared reply"
    for status, names in reply_tables(name):
        if status in REPLIES[name]:
            assert tuple(names) == REPLIES[name][status], (name, status, names)


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_refusals_are_declared_and_typed(name: str) -> None:
    codes = set(re.findall(r"refuse\('(\w+)'\)", spliced(name).text))
    errors_line = header(name).split("Errors", 1)[1]
    for code in codes:
        assert code in errors_line, f"{name}.lua refuses {code} without declaring it"
        assert isinstance(errors.error_for_code(code), errors.PairchatError)


def test_decode_reads_fields_by_name_and_refuses_undeclared_shapes() -> None:
    reply = decode("sweep", [b"ok", b"removed", b"2", b"checked", b"5"])
    assert (reply.status, reply["checked"], reply.get("nope")) == ("ok", "5", "")
    with pytest.raises(errors.RateLimited):
        decode("match", ["error", "code", "rate_limited"])
    for bad in (
        ["ok", "checked", "5", "removed", "2"],  # order differs from the declaration
        ["ok", "removed", "2"],  # a field missing
        ["ok", "removed", "2", "checked", "5", "extra", "1"],  # a field undeclared
        ["done", "removed", "2", "checked", "5"],  # an undeclared status
        ["ok", "removed"],  # not name/value pairs
        "ok",
        [],
    ):
        with pytest.raises(errors.ScriptContractError):
            decode("sweep", bad)


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_every_spliced_line_knows_its_origin(name: str) -> None:
    s = spliced(name)
    lines = s.text.splitlines()
    assert len(lines) == len(s.origin)
    files: dict[str, list[str]] = {}
    for number, (line, (file, at)) in enumerate(zip(lines, s.origin, strict=True), 1):
        source_lines = files.setdefault(file, (lua_dir() / file).read_text().splitlines())
        assert source_lines[at - 1] == line, (name, number, file, at)
    # the script's header, the prelude, each helper once, the script's code
    starts = [f for i, (f, _) in enumerate(s.origin) if i == 0 or s.origin[i - 1][0] != f]
    assert starts[0] == starts[-1] == f"{name}.lua" and starts[1] == "common.lua", starts
    assert len(starts[1:-1]) == len(set(starts[1:-1])), f"{name}: a file spliced twice"


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_scripts_include_only_the_helpers_they_use(name: str) -> None:
    s = spliced(name)
    for number, line in enumerate(s.text.splitlines(), 1):
        helper = re.match(r"local function (\w+)\(", line)
        if helper and s.locate(number)[0].startswith("includes/"):
            after = "\n".join(s.text.splitlines()[number:])
            assert re.search(rf"\b{helper.group(1)}\(", after), (
                f"{name}.lua includes {s.locate(number)[0]} but never calls {helper.group(1)}"
            )


def helper_names() -> set[str]:
    base = lua_dir()
    names = set(re.findall(r"^local function (\w+)\(", (base / "common.lua").read_text(), re.M))
    names |= {"PREFIX", "CONN_ID", "GENDERS", "PREFERENCES"}
    for path in (base / "includes").glob("*.lua"):
        names |= set(re.findall(r"^local function (\w+)\(", path.read_text(), re.M))
    return names


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_no_script_shadows_a_prelude_helper(name: str) -> None:
    text = spliced(name).text
    helpers = helper_names()
    declared_names: list[str] = []
    for m in re.finditer(r"\blocal\s+(?:function\s+)?([\w\s,]+?)\s*(?:=|\(|$)", text, re.M):
        declared_names += [n.strip() for n in m.group(1).split(",")]
    for m in re.finditer(r"function\s*\w*\(([\w\s,]*)\)", text):
        declared_names += [n.strip() for n in m.group(1).split(",") if n.strip()]
    for m in re.finditer(r"\bfor\s+([\w\s,]+?)\s+(?:in|=)", text):
        declared_names += [n.strip() for n in m.group(1).split(",")]
    s = spliced(name)
    for helper in helpers:
        # its own definition, spliced in from the prelude, is the one declaration allowed
        own = [
            n
            for n, line in enumerate(text.splitlines(), 1)
            if re.match(rf"local (function )?{helper}\b", line)
            and not s.locate(n)[0].startswith(f"{name}.lua")
        ]
        assert declared_names.count(helper) == len(own) <= 1, f"{name}.lua shadows {helper}"


def test_the_splice_follows_nested_includes_once_and_refuses_unknown_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "includes").mkdir()
    (tmp_path / "common.lua").write_text("local P = 1\n")
    (tmp_path / "includes" / "a.lua").write_text("-- @include common\nlocal function a() end\n")
    (tmp_path / "includes" / "b.lua").write_text(
        "-- @include includes/a\nlocal function b() a() end\n"
    )
    (tmp_path / "match.lua").write_text(
        "--[[ x ]]\n-- @include common\n-- @include includes/b\n-- @include includes/a\nb()\n"
    )
    (tmp_path / "bad.lua").write_text("-- @include includes/missing\n")
    monkeypatch.setattr(scripts, "lua_dir", lambda: tmp_path)
    spliced.cache_clear()
    try:
        s = spliced("match")
        assert s.text == "--[[ x ]]\nlocal P = 1\nlocal function a() end\n" + (
            "local function b() a() end\nb()\n"
        )
        assert s.locate(3) == ("includes/a.lua", 2)
        assert s.locate(5) == ("match.lua", 5)
        with pytest.raises(FileNotFoundError):
            spliced("bad")
    finally:
        spliced.cache_clear()
    assert INCLUDE.match("-- @include includes/x") and not INCLUDE.match("-- @include ../x")


def test_the_splice_drops_definitions_no_code_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "common.lua").write_text(
        "local P = 1\n"
        "local function used(x) return x end\n"
        "local function unused(x) return used(x) end\n"  # only an unused one calls used...
        "local function kept(x)\n  return used(x) -- unused(x) in a comment\nend\n"
    )
    (tmp_path / "match.lua").write_text("-- @include common\nreturn kept(P)\n")
    monkeypatch.setattr(scripts, "lua_dir", lambda: tmp_path)
    spliced.cache_clear()
    try:
        s = spliced("match")
        assert "unused(x) return" not in s.text and "local function kept(x)" in s.text
        assert "local function used(x)" in s.text  # ...and kept calls it
        assert s.locate(len(s.text.splitlines())) == ("match.lua", 2)
    finally:
        spliced.cache_clear()


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_every_function_left_in_a_script_is_called(name: str) -> None:
    text = spliced(name).text
    code = "\n".join(line.split("--", 1)[0] for line in text.splitlines())
    for fname in re.findall(r"^local function (\w+)\(", text, re.M):
        assert len(re.findall(rf"\b{fname}\b", code)) > 1, f"{name}.lua keeps unused {fname}"


def test_an_error_message_names_the_file_and_line() -> None:
    s = Spliced("heartbeat", "", (("common.lua", 1), ("includes/resolve.lua", 7), ("x.lua", 2)))
    message = "WRONGTYPE Operation against a key script: 19d, on @user_script:2."
    assert s.explain(message) == (
        "WRONGTYPE Operation against a key script: 19d, on "
        "@user_script:2 (includes/resolve.lua:7 in heartbeat.lua)."
    )
    s = Spliced("heartbeat", "", (("heartbeat.lua", 30),))
    assert s.explain("user_script:1: boom") == "user_script:1 (heartbeat.lua:30): boom"
