"""Issue 13, item 5, replayed over real WebSockets through `pairchat dev` (the real handlers,
the local DynamoDB-compatible report store, the ops app): report spam from one process.

The audit's attack: one process makes pair after pair of its own sockets and reports every
room. Before: 65-74 reports a second were accepted, and the capped Redis stream they went to
lost a genuine report within seconds (a cap of 100: 6 s; the default 100,000: ~23 min). Now a
report about a room younger than REPORT_MIN_ROOM_AGE_SECONDS is `too_soon`, an address gets
REPORTS_PER_SOURCE_PER_HOUR reports and then `rate_limited` (whatever number of anonymous
users it makes), and accepted reports go to a store that spam cannot trim: the genuine report
filed before the attack is read back from the ops API after it.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.devserver import Client, DevServer, close_all, dev_server
from tests.support import redis_server

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-reports")]

#: The stack's settings, the defaults but for a stream cap small enough that the old design
#: (every report in a stream capped near REPORTS_MAX) would lose the genuine report.
MIN_AGE_S = 5
PER_SOURCE = 20
ATTACKER = ("127.0.0.1", 0)  # one process: every socket from one address


@pytest.fixture(scope="module")
def server() -> Iterator[DevServer]:
    with redis_server() as private, dev_server(
        "--log-level", "warning",
        "--env", "REPORTS_MAX=10",
        "--env", f"REPORT_MIN_ROOM_AGE_SECONDS={MIN_AGE_S}",
        "--env", f"REPORTS_PER_SOURCE_PER_HOUR={PER_SOURCE}",
        env={"REDIS_URL": private.url},
    ) as srv:  # fmt: skip
        found = re.search(r"^\s+Reports\s+(\S+)", srv.output(), re.M)
        assert found, srv.output()
        store = Path(found.group(1))
        assert store.is_file()  # the local report store: a SQLite file in the state directory
        yield srv
    assert not store.exists(), "this run's report store outlived the stack (like its Redis)"


async def pair(first: Client, second: Client) -> str:
    await first.join("female", "any")
    await first.until("queued")
    await second.join("male", "female")
    await second.until("matched")
    return str((await first.until("matched"))["roomId"])


async def report(client: Client, reason: str) -> str:
    """'reported', or the error code."""
    await client.send({"action": "report", "reason": reason})
    while True:
        frame = await client.recv(15)
        if frame["type"] == "reported":
            return "reported"
        if frame["type"] == "error":
            return str(frame["code"])


def ops(server: DevServer, path: str) -> Any:
    with urllib.request.urlopen(f"{server.http_url}/ops{path}", timeout=10) as answer:
        return json.load(answer)


def all_reports(server: DevServer) -> list[dict[str, Any]]:
    """Every report, paged through the ops API (newest first)."""
    page = ops(server, "/reports?limit=50")
    found = list(page["reports"])
    while page["next_before"]:
        page = ops(server, f"/reports?limit=50&before={page['next_before']}")
        found += page["reports"]
    return found


def test_finding_5_report_spam_is_stopped_and_a_genuine_report_survives(
    server: DevServer,
) -> None:
    async def scenario() -> dict[str, Any]:
        genuine, stranger = await Client.open(server.ws_url), await Client.open(server.ws_url)
        await pair(genuine, stranger)
        # The attacker's first wave: ten self-made pairs, all from one address.
        wave1 = [await Client.open(server.ws_url, local_addr=ATTACKER) for _ in range(20)]
        for i in range(0, 20, 2):
            await pair(wave1[i], wave1[i + 1])
        # Reporting at once is refused: the rooms are too young.
        started = time.monotonic()
        immediate = await asyncio.gather(*(report(c, "spam") for c in wave1))
        await asyncio.sleep(MIN_AGE_S + 0.5)
        # The genuine report, filed before the flood.
        assert await report(genuine, "genuine: threats in the first minute") == "reported"
        aged = await asyncio.gather(*(report(c, "spam") for c in wave1))
        # A second wave of fresh anonymous users from the same address.
        wave2 = [await Client.open(server.ws_url, local_addr=ATTACKER) for _ in range(10)]
        for i in range(0, 10, 2):
            await pair(wave2[i], wave2[i + 1])
        await asyncio.sleep(MIN_AGE_S + 0.5)
        later = await asyncio.gather(*(report(c, "spam") for c in wave2))
        elapsed = time.monotonic() - started
        await close_all([genuine, stranger, *wave1, *wave2])
        return {"immediate": immediate, "aged": aged, "later": later, "elapsed": elapsed}

    out = asyncio.run(scenario())
    assert set(out["immediate"]) == {"too_soon"}, out["immediate"]
    # The address's hourly quota: every user behind it together.
    assert out["aged"].count("reported") == PER_SOURCE, out["aged"]
    assert set(out["later"]) == {"rate_limited"}, out["later"]
    attempts = len(out["immediate"]) + len(out["aged"]) + len(out["later"])
    accepted = out["aged"].count("reported")
    print(
        f"\nreport spam from one address: {attempts} attempts in {out['elapsed']:.1f} s, "
        f"{accepted} accepted ({accepted / out['elapsed']:.2f}/s while the quota lasted, "
        f"then 0/s for the rest of the hour)"
    )

    reports = all_reports(server)
    genuine = [r for r in reports if r["reason"].startswith("genuine")]
    assert len(genuine) == 1, "the genuine report was lost"
    assert genuine[0]["reporter"] != genuine[0]["reported"] and genuine[0]["room_id"]
    assert sum(r["reason"] == "spam" for r in reports) == PER_SOURCE
    # All in the durable store (nothing waiting in Redis), although REPORTS_MAX is 10.
    assert ops(server, "/reports")["pending"] == 0
    # One address reporting many users shadows none of them.
    assert ops(server, "/shadow")["total"] == 0
