"""Matching with interests and the cost of waiting (issue 11), on one private redis-server.

- **Lua time per join, with and without interests, in the same run.** Chunks of 10 joins of
  each kind alternate, so the shared machine's noise hits the kinds alike; a join's Lua time
  is ``cmdstat_evalsha`` usec per call from INFO (the script and the commands it runs),
  medians over 60 chunks per kind. Two
  cases: a join that queues (nobody compatible waits) and a join that matches (a compatible
  waiter; for the interest join, one that shares an interest: found through the interest
  index). The interest joins give 3 interests (and, informational, 5); the waiters of one
  kind never meet the joiners of another. Target: with interests at most 1.3x without.
- **Redis commands per idle queued heartbeat.** Waiters that nobody can be paired with (half
  of them with interests, relaxation far away) heartbeat at the cadence a waiting client
  keeps (``retryMs`` = 5 s against a 60 s session TTL), scaled down 30x together with the
  TTL so the connection/online lease renewals come in their real proportion; every command
  the server ran (INFO aside, EVALSHA included) is divided by the heartbeats. Target: <= 8.

``python -m bench.matching`` runs it alone; ``make bench`` runs it with the others.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import redis

from bench.common import Metric, bench_settings, median, private_redis, standalone
from pairchat.bootstrap import redis_client
from pairchat.domain.scripts import source
from pairchat.domain.store import ChatStore

CHUNK = 10
CHUNKS = 60
THREE = ("chess", "music", "travel")
FIVE = ("art", "chess", "music", "poetry", "travel")
WAITERS = 40
#: A waiting client's heartbeat interval over the session TTL (5 s / 60 s), scaled down 30x.
SCALED_TTL_S = 2
CADENCE_S = SCALED_TTL_S * 5 / 60
HEARTBEAT_SECONDS = 6.0


def _evalsha(admin: redis.Redis) -> tuple[int, float]:
    stat = admin.info("commandstats").get("cmdstat_evalsha", {"calls": 0, "usec": 0})
    return int(stat["calls"]), float(stat["usec"])


def _calls(admin: redis.Redis) -> dict[str, int]:
    stats = admin.info("commandstats")
    return {k: int(v["calls"]) for k, v in stats.items() if k != "cmdstat_info"}


def join_metrics(store: ChatStore, admin: redis.Redis) -> list[Metric]:
    """Joins of the three kinds, interleaved in chunks of CHUNK so the shared machine's noise
    hits them alike; per kind and case, the median over chunks of the Lua time per join."""
    admin.script_load(source("match"))  # no NOSCRIPT round inside a measured chunk
    kinds: dict[str, tuple[str, ...]] = {"none": (), "3": THREE, "5": FIVE}
    out: list[Metric] = []
    serial = 0

    def connect(tag: str) -> str:
        nonlocal serial
        serial += 1
        cid = f"{tag}{serial}"
        store.open_session(cid, f"u-{cid}")
        return cid

    for matches, case in ((False, "queues"), (True, "matches")):
        admin.flushall()  # the data, not the scripts
        samples: dict[str, list[float]] = {k: [] for k in kinds}
        for chunk in range(CHUNKS + 1):
            for kind, interests in kinds.items():
                if matches:  # waiters the joiners will meet: sharing an interest, or open
                    for _ in range(CHUNK):
                        cid = connect("w")
                        store.match(cid, "join", "female", "male", "r", interests[:1], True)
                joiners = [connect("j") for _ in range(CHUNK)]
                calls0, usec0 = _evalsha(admin)
                for i, cid in enumerate(joiners):
                    got = store.match(cid, "join", "male", "female", f"r{i}", interests, True)
                    if got.matched != matches:
                        raise AssertionError(f"a join should have {case[:-1]}d")
                calls1, usec1 = _evalsha(admin)
                if calls1 - calls0 != CHUNK:
                    raise AssertionError(f"{calls1 - calls0} script calls for {CHUNK} joins")
                if chunk:  # the first chunk of each kind warms up
                    samples[kind].append((usec1 - usec0) / CHUNK)
        base = median(samples["none"])
        out.append(
            Metric(
                "matching",
                f"join that {case}, no interests: Lua time",
                base,
                "us",
                details={"per_chunk_us": samples["none"]},
            )
        )
        for kind, target in (("3", "<= 1.3"), ("5", "")):
            out.append(
                Metric(
                    "matching",
                    f"join that {case}, {kind} interests: Lua time",
                    median(samples[kind]),
                    "us",
                    limit=base,
                    limit_name="no interests",
                    target=target,
                    details={"per_chunk_us": samples[kind]},
                ).judge()
            )
    return out


def heartbeat_metrics(url: str) -> list[Metric]:
    settings = bench_settings(url, session_ttl_s=SCALED_TTL_S, match_relax_s=3600)
    client = redis_client(settings)
    admin = redis.Redis.from_url(url, decode_responses=True)
    admin.flushall()
    store = ChatStore(client, settings)
    cids = [f"h{i}" for i in range(WAITERS)]
    for i, cid in enumerate(cids):
        store.open_session(cid, f"u-{cid}")
        interests = THREE if i % 2 else ()
        got = store.match(cid, "join", "male", "female", "r", interests, True)
        if got.matched:
            raise AssertionError("the heartbeat waiters must not be compatible")
    store.heartbeat(cids[0], "warm")  # loads the script
    beats = 0
    before = _calls(admin)
    start = time.monotonic()
    tick = start
    while time.monotonic() - start < HEARTBEAT_SECONDS:
        for cid in cids:
            result = store.heartbeat(cid, "r")
            if result.state != "queued" or result.match is not None:
                raise AssertionError(f"{cid} should stay queued, got {result}")
            beats += 1
        tick += CADENCE_S
        time.sleep(max(0.0, tick - time.monotonic()))
    after = _calls(admin)
    spent = sum(after.values()) - sum(before.values())
    by_command = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    late = tick - time.monotonic() < -CADENCE_S
    return [
        Metric(
            "matching",
            "commands per idle queued heartbeat",
            spent / beats,
            "commands",
            target="<= 8",
            details={
                "heartbeats": beats,
                "waiters": WAITERS,
                "cadence_ms_scaled": CADENCE_S * 1000,
                "session_ttl_s_scaled": SCALED_TTL_S,
                "commands": {k.removeprefix("cmdstat_"): v for k, v in by_command.items()},
                "fell_behind_cadence": late,
            },
        ).judge()
    ]


def run() -> list[Metric]:
    with private_redis() as url:
        settings = replace(bench_settings(url), match_relax_s=3600, rate_joins=0)
        client: Any = redis_client(settings)
        admin = redis.Redis.from_url(url, decode_responses=True)
        metrics = join_metrics(ChatStore(client, settings), admin)
        metrics += heartbeat_metrics(url)
    return metrics


if __name__ == "__main__":
    standalone(run)
