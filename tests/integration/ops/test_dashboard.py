"""The dashboard page in headless Chromium: it loads, polls by itself and charts real data."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import uvicorn
from fastapi import FastAPI

from pairchat.domain.service import ChatService
from pairchat.settings import Settings
from pairchat_ops.api import create_app
from pairchat_ops.deps import get_redis
from tests.integration.conftest import override
from tests.support import free_port, make_sweeper

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture
def ops(settings: Settings, redis_client: redis.Redis) -> FastAPI:
    app = create_app()
    override(app, settings, redis_client)
    return app


@pytest.fixture
def ops_server(ops: FastAPI) -> Iterator[str]:
    """The ops app mounted at /ops of a real HTTP server, as ``pairchat dev`` serves it."""
    parent = FastAPI()
    parent.mount("/ops", ops)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(parent, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


def make_traffic(service: ChatService) -> None:
    for i in range(3):
        service.connect(f"a{i}")
        service.connect(f"b{i}")
        service.join(f"a{i}", "male", "female")
        time.sleep(0.01)
        service.join(f"b{i}", "female", "male")
    for cid, g, p in [
        ("w1", "male", "female"),
        ("w2", "male", "female"),
        ("w3", "female", "female"),
    ]:
        service.connect(cid)
        service.join(cid, g, p)


@pytest.mark.skipif(not shutil.which(CHROMIUM), reason="chromium is installed by system-deps.sh")
def test_dashboard_charts_live_data(
    ops: FastAPI, ops_server: str, service: ChatService, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    make_traffic(service)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{ops_server}/ops/?refresh=300")
            # It refreshes by itself: several polls without any reload.
            page.wait_for_function("window.pairchatDashboard.updates >= 3", timeout=15_000)
            # A new waiter shows up on the next polls.
            service.connect("late")
            service.join("late", "male", "male")
            page.wait_for_function(
                "document.getElementById('users-waiting').textContent === '4'", timeout=10_000
            )
            assert errors == []
            state = page.evaluate(
                """() => {
                  const d = window.pairchatDashboard;
                  const out = {errors: d.errors, charts: {}};
                  for (const [name, chart] of Object.entries(d.charts)) {
                    out.charts[name] = {
                      points: chart.data[0].length,
                      series: chart.data.slice(1).map((s) => s.filter((v) => v !== null)),
                    };
                  }
                  return out;
                }"""
            )
            assert state["errors"] == 0
            queues = state["charts"]["queues"]
            assert queues["points"] >= 3
            total = queues["series"][-1]
            assert total[0] == 3 and total[-1] == 4  # users waiting, before and after "late"
            matches = state["charts"]["matches"]
            assert matches["points"] == 60 and sum(matches["series"][0]) == 3
            waits = state["charts"]["waits"]
            assert len(waits["series"][1]) >= 1  # a p90 in the current minute
            assert max(waits["series"][1]) > 0
            # The canvases really have something drawn on them.
            painted = page.evaluate(
                """() => [...document.querySelectorAll('.chart canvas')].map((c) => {
                  const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                  let n = 0;
                  for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++;
                  return n;
                })"""
            )
            assert len(painted) == 3 and all(n > 500 for n in painted), painted
            assert page.text_content("#active-rooms") == "3"
            assert page.text_content("#matches-minute") == "3"
            assert page.locator("#queues tbody tr").count() == 6
            shot = Path(os.environ.get("PAIRCHAT_DASHBOARD_SCREENSHOT") or tmp_path / "d.png")
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            # Redis goes away: the page says so instead of showing stale numbers as current.
            ops.dependency_overrides[get_redis] = lambda: redis.Redis(port=free_port())
            page.wait_for_function(
                "document.getElementById('status').textContent.startsWith('update failed')",
                timeout=10_000,
            )
            assert "503" in (page.text_content("#status") or "")
        finally:
            browser.close()


@pytest.mark.skipif(not shutil.which(CHROMIUM), reason="chromium is installed by system-deps.sh")
def test_dashboard_offers_the_pools_and_narrows_to_one(
    ops: FastAPI, ops_server: str, settings: Settings, redis_client: redis.Redis
) -> None:
    from dataclasses import replace

    from playwright.sync_api import sync_playwright

    from pairchat.domain.store import ChatStore
    from tests.conftest import RecordingNotifier

    pooled = replace(settings, pools=("en", "es"))
    override(ops, pooled, redis_client)
    for pool, waiters in (("en", 1), ("es", 3)):
        svc = ChatService(ChatStore(redis_client, pooled, pool), RecordingNotifier(), pooled)
        for i in range(waiters):
            svc.connect(f"{pool}{i}", f"u-{pool}{i}")
            svc.join(f"{pool}{i}", "male", "male" if i == 0 else "female")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{ops_server}/ops/?refresh=300")
            page.wait_for_function("window.pairchatDashboard.updates >= 1", timeout=15_000)
            assert page.is_visible("#pool-picker")
            options = page.eval_on_selector_all("#pool option", "os => os.map((o) => o.value)")
            assert options == ["", "en", "es"]
            assert page.text_content("#users-waiting") == "4"  # every pool
            assert page.locator("#pools tbody tr").count() == 2
            page.select_option("#pool", "es")
            page.wait_for_function(
                "document.getElementById('users-waiting').textContent === '3'", timeout=10_000
            )
            assert "pool=es" in page.url
            page.wait_for_function("document.getElementById('pools-section').hidden")
            assert errors == []
        finally:
            browser.close()


@pytest.mark.skipif(not shutil.which(CHROMIUM), reason="chromium is installed by system-deps.sh")
def test_queue_depth_axis_spans_the_hour_and_history_survives_a_reload(
    ops_server: str,
    service: ChatService,
    settings: Settings,
    redis_client: redis.Redis,
) -> None:
    """One sample is one point on an hour-wide axis (not an axis of years), and the depth
    history is the server's (the sweeper samples it), so a reload keeps it. No 404s either
    (the favicon)."""
    from playwright.sync_api import sync_playwright

    chart = """() => {
      const c = window.pairchatDashboard.charts.queues;
      return {points: c.data[0].length, span: c.scales.x.max - c.scales.x.min,
              max: c.scales.x.max, total: c.data[c.data.length - 1]};
    }"""
    make_traffic(service)  # 3 waiters
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            failed: list[str] = []
            page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
            page.goto(f"{ops_server}/ops/?refresh=600000")  # one poll: one sample
            page.wait_for_function("window.pairchatDashboard.updates >= 1", timeout=15_000)
            one = page.evaluate(chart)
            assert one["points"] == 1 and one["total"] == [3]
            assert 3500 <= one["span"] <= 3700, one  # the series' hour, in seconds
            assert abs(one["max"] - time.time()) < 120

            make_sweeper(redis_client, settings).run()  # the minute's depth sample: 3
            service.connect("late")
            service.join("late", "male", "male")
            page.reload()
            page.wait_for_function("window.pairchatDashboard.updates >= 1", timeout=15_000)
            after = page.evaluate(chart)
            # The sweeper's sample (3, at the minute's start) and this page's poll (4).
            assert after["points"] == 2 and after["total"] == [3, 4], after
            assert 3500 <= after["span"] <= 3700
            assert failed == [], failed
        finally:
            browser.close()
