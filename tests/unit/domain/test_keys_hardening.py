"""The hardening keys: the Lua scripts build the same names as keys.py."""

from __future__ import annotations

import re

from pairchat.domain.keys import Keys
from pairchat.domain.scripts import lua_dir, source


def test_rate_block_and_reports_keys_match_keys_py() -> None:
    common = (lua_dir() / "common.lua").read_text()
    k = Keys("P")
    rate = re.search(
        r"function rate_key\(kind, uid, idx\) return PREFIX \.\. '([^']+)' \.\. kind "
        r"\.\. '([^']+)' \.\. uid \.\. '([^']+)' \.\. idx end",
        common,
    )
    assert rate, "rate_key changed shape"
    assert "P" + rate.group(1) + "send" + rate.group(2) + "u" + rate.group(3) + "7" == k.rate(
        "send", "u", 7
    )
    block = re.search(r"function block_key\(\w+\) return PREFIX \.\. '([^']+)'", common)
    assert block and "P" + block.group(1) + "u" == k.blocks("u")
    assert "PREFIX .. 'reports'" in source("report") and k.reports() == "P" + "reports"
    # the rate kinds the scripts count, and the store's names for them
    assert "rate_allows('join'" in source("match") and "rate_allows('send'" in source("relay")
