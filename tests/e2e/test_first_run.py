"""A newcomer's first ten minutes (issue 14), against a real `pairchat dev` subprocess: the CLI
finds the running stack's Redis, the default output is readable lines without EMF, and the
README's bots command is not refused by the stack's default rate limits."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.devserver import Client, dev_server, open_clients, stop

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-first-run")]
#: A loaded 2-core machine has taken over 30 s to start a stack (two handler workers' imports).
STARTUP_S = 120.0


def isolated(tmp_path: Path) -> dict[str, str | None]:
    """A private state directory, and nothing that would point the CLI elsewhere."""
    return {
        "XDG_RUNTIME_DIR": str(tmp_path),
        "REDIS_URL": None,
        "KEY_PREFIX": None,
        "MANAGEMENT_ENDPOINT": None,
    }


def cli(
    env: dict[str, str | None], *argv: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    merged = {**os.environ, "COLUMNS": "200", **env}
    return subprocess.run(
        [sys.executable, "-m", "pairchat_tools.cli", *argv],
        env={k: v for k, v in merged.items() if v is not None},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_inspect_and_sweep_find_the_running_dev_stack(tmp_path: Path) -> None:
    env = isolated(tmp_path)
    with dev_server(
        "--log-level", "warning", "--sweep-every", "1", env=env, startup_s=STARTUP_S
    ) as server:
        found = re.search(r"at (redis://\S+)", server.redis_line)
        assert found, server.output()
        redis_url, pid = found.group(1), server.proc.pid
        state = tmp_path / "pairchat" / f"dev-{pid}.json"
        # The state file, and this run's report store (removed at stop like the state file).
        store = state.parent / f"reports-{pid}.sqlite3"
        assert sorted(p.name for p in state.parent.iterdir()) == [state.name, store.name]

        async def scenario() -> tuple[subprocess.CompletedProcess[str], ...]:
            waiter = await Client.open(server.ws_url)
            await waiter.join("female", "male")
            await waiter.until("queued")
            try:
                return (
                    await asyncio.to_thread(cli, env, "inspect", "stats", "--json"),
                    await asyncio.to_thread(cli, env, "sweep"),
                    await asyncio.to_thread(
                        cli, env, "inspect", "health", "--redis-url", redis_url
                    ),
                    await asyncio.to_thread(cli, env, "inspect", "reports", "--json"),
                )
            finally:
                await waiter.close()

        stats, swept, health, reports = asyncio.run(scenario())
        assert stats.returncode == 0, stats.stderr
        first = stats.stderr.splitlines()[0]
        assert first.startswith(f"pairchat: Redis {redis_url} (the running `pairchat dev`")
        assert f"pid {pid}" in first
        assert json.loads(stats.stdout)["users_waiting"] == 1
        assert swept.returncode == 0, swept.stderr
        assert swept.stderr.startswith(f"pairchat: Redis {redis_url} (the running")
        result = json.loads(swept.stdout)
        assert result["queue_entries_checked"] == 1 and result["queue_entries_removed"] == 0
        assert health.returncode == 0 and f"{redis_url} (--redis-url)" in health.stderr
        # Reports come from the stack's report store (its table: no total), found the same way.
        assert reports.returncode == 0, reports.stderr
        assert json.loads(reports.stdout) == {
            "total": None,
            "reports": [],
            "next_before": None,
            "pending": 0,
        }
        # The dev stack runs the sweeper (every minute by default, as AWS schedules it; every
        # second here): its queue-depth sample is in the ops series the dashboard charts.
        url = f"{server.http_url}/ops/stats/series?minutes=2"
        deadline = time.monotonic() + 30
        while True:
            series = httpx.get(url, timeout=10).json()
            if any(p["depth"] for p in series["minutes"]):
                break
            assert time.monotonic() < deadline, series
            time.sleep(0.5)
        # Browsers ask for /favicon.ico at the root: the chat page's and the dashboard's.
        for path in ("/favicon.ico", "/favicon.svg", "/ops/favicon.ico"):
            icon = httpx.get(server.http_url + path, timeout=10)
            assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/")
        assert stop(server) == 0
        assert not state.exists() and not store.exists()
        assert not state.exists(), "the state file goes with the stack"
        assert "pairchat dev stopped: " in server.output().rstrip().splitlines()[-1]


async def a_few_clients(url: str) -> None:
    """Connect, pair, chat, a refused frame, leave: what two browser windows do."""
    a, b = await open_clients(url, 2)
    await a.join("female", "any")
    await b.join("male", "female")
    await a.until("matched")
    await b.until("matched")
    await a.send({"action": "send", "text": "hi"})
    await b.until("message")
    await b.send("not json")
    assert (await b.until("error"))["code"] == "invalid_json"
    await a.send({"action": "leave"})
    await b.until("partner_left")
    await asyncio.gather(a.close(), b.close())


def test_default_output_is_readable_lines_without_emf(tmp_path: Path) -> None:
    with dev_server(env=isolated(tmp_path), startup_s=STARTUP_S) as server:
        asyncio.run(a_few_clients(server.ws_url))
        stop(server)
        out = server.output()
    assert '"_aws"' not in out, "EMF metric lines although --metrics was not given"
    assert not [line for line in out.splitlines() if line.lstrip().startswith("{")], out
    assert re.search(r"^\d\d:\d\d:\d\d INFO +lambda: refused code=invalid_json$", out, re.M), out
    assert "user_id" not in out
    assert "pairchat dev: starting" in out and "Ops dashboard" in out


def test_json_logs_and_metrics_when_asked(tmp_path: Path) -> None:
    """The flags bring back what the Lambda functions write in AWS (and show that the test
    above would see JSON and EMF lines if they were there)."""
    with dev_server(
        "--json-logs", "--metrics", env=isolated(tmp_path), startup_s=STARTUP_S
    ) as server:
        asyncio.run(a_few_clients(server.ws_url))
        stop(server)
        out = server.output()
    lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    assert any(d.get("message") == "refused" and d.get("code") == "invalid_json" for d in lines)
    assert any("_aws" in d and d.get("code") == "invalid_json" for d in lines), "Errors EMF"


def bots(env: dict[str, str | None], url: str, *argv: str, out: Path) -> dict[str, object]:
    done = cli(env, "bots", "--url", url, *argv, "--quiet", "--json", str(out), timeout=120)
    assert out.exists(), done.stdout + done.stderr
    result: dict[str, object] = json.loads(out.read_text())
    result["stderr"] = done.stderr
    result["returncode"] = done.returncode
    return result


def test_readme_bots_command_is_not_rate_limited(tmp_path: Path) -> None:
    """README: `pairchat bots --url ... --count 200 --duration 30` against a default stack.
    Fewer bots for a shorter time here; the pacing is the same."""
    env = isolated(tmp_path)
    with dev_server(env=env, startup_s=STARTUP_S) as server:
        result = bots(
            env, server.ws_url, "--count", "20", "--duration", "10", out=tmp_path / "b.json"
        )
    assert result["returncode"] == 0, result
    assert "rate_limited" not in result["error_frames"], result  # type: ignore[operator]
    assert result["matches"] > 5 and result["gave_up_waiting"] == 0, result  # type: ignore[operator]
    assert "pacing each bot under 20 joins+nexts and 60 messages per 60 s" in str(result["stderr"])


def test_bots_learn_a_stricter_stack_and_say_when_refused(tmp_path: Path) -> None:
    env = isolated(tmp_path)
    strict = ["--env", "RATE_JOINS_PER_WINDOW=4", "--env", "RATE_WINDOW_SECONDS=10"]
    with dev_server(*strict, env=env, startup_s=STARTUP_S) as server:
        common = ["--count", "10", "--duration", "4", "--think-ms", "20", "--messages", "1"]
        paced = bots(env, server.ws_url, *common, out=tmp_path / "paced.json")
        unpaced = bots(env, server.ws_url, *common, "--limits", "off", out=tmp_path / "off.json")
    assert "4 joins+nexts" in str(paced["stderr"]) and "pairchat dev stack" in str(paced["stderr"])
    assert "rate_limited" not in paced["error_frames"], paced  # type: ignore[operator]
    assert unpaced["error_frames"].get("rate_limited", 0) > 0, unpaced  # type: ignore[union-attr]
    assert str(unpaced["stderr"]).count("refused a bot with rate_limited") == 1
