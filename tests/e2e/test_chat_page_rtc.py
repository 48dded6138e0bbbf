"""The opt-in direct connection in a real browser: two headless Chromium pages matched through
`pairchat dev` consent, open a WebRTC data channel over this machine's own interfaces (host
candidates, no STUN), and chat without the server relaying a word; the relay takes over when
the channel closes; video mode carries frames; relay-only mode goes through a real TURN server
and reveals no address. The relay is counted in Redis itself: MONITOR sees every EVALSHA, and
relay.lua (behind both `send` and `signal`) is told apart by its SHA (tests/e2e/rtcpage.py).
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, expect, sync_playwright

from tests.e2e.conftest import Gateway
from tests.e2e.devserver import dev_server
from tests.e2e.rtcpage import (
    ARGS,
    CHROMIUM,
    SLOW,
    Person,
    RelayCounter,
    candidates,
    coturn,
    decoded_frames,
    go_direct,
    matched,
    person_opener,
    say,
    theirs,
)
from tests.support import redis_server

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-browser")]


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    """Playwright's 5 s default is short for WebRTC on a busy two-core machine."""
    expect.set_options(timeout=SLOW)
    yield
    expect.set_options(timeout=None)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists() or shutil.which("chromium"), (
        "Debian's chromium is missing: run infra/scripts/system-deps.sh"
    )
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def people(browser: Browser, gateway: Gateway) -> Iterator[Callable[[], Person]]:
    contexts: list[BrowserContext] = []
    yield person_opener(browser, gateway.http_url, contexts)
    for context in contexts:
        context.close()


def test_text_goes_peer_to_peer_and_falls_back_to_the_relay(
    people: Callable[[], Person], gateway: Gateway
) -> None:
    alice, bob = people(), people()
    matched(alice, bob)
    for person in (alice, bob):
        expect(person.page.locator("#rtc-mode-label")).to_have_text("Relayed by server")
    say(alice, "hello through the server")
    expect(theirs(bob)).to_have_text(["hello through the server"])

    with RelayCounter(gateway.redis_url) as relay:
        go_direct(alice, bob)
        # -- direct: the server relays nothing ------------------------------------------------
        opened_at = relay.count()
        marks = (len(alice.wire.sent), len(bob.wire.sent))
        lines = [(alice, bob, f"direct {i} from alice") for i in range(3)]
        lines += [(bob, alice, f"direct {i} from bob") for i in range(3)]
        for sender, _, text in lines:
            say(sender, text)
        expect(theirs(bob)).to_have_text(["hello through the server"] + [t for *_, t in lines[:3]])
        expect(theirs(alice)).to_have_text([t for *_, t in lines[3:]])
        assert relay.count() - opened_at == 0
        sent = alice.wire.sent_actions(marks[0]) + bob.wire.sent_actions(marks[1])
        assert not {"send", "signal"} & set(sent), sent  # only heartbeats, if any

        # -- the channel closes mid-chat: the relay takes over -------------------------------
        alice.page.evaluate("window.__channels.forEach((c) => c.close())")
        for person in (alice, bob):
            expect(person.page.locator("body")).to_have_attribute("data-rtc", "server")
            expect(person.page.locator("#rtc-mode-label")).to_have_text("Relayed by server")
        before = relay.count()
        say(bob, "after the channel closed")
        expect(theirs(alice)).to_have_text(
            [t for *_, t in lines[3:]] + ["after the channel closed"]
        )
        assert relay.count() - before == 1

        # -- a failure loses nothing and shows nothing twice ---------------------------------
        go_direct(alice, bob)
        # Bob's page gets the first message but its ack is lost; the second never arrives.
        bob.page.evaluate(
            """() => {
              const ch = window.__channels.at(-1);
              const send = ch.send.bind(ch);
              ch.send = (d) => { if (!String(d).includes('"t":"ack"')) send(d); };
              const deliver = ch.onmessage;
              ch.onmessage = (e) => {
                if (!String(e.data).includes("lost in transit")) deliver(e);
              };
            }"""
        )
        mark, bob_mark, before = len(alice.wire.sent), len(bob.wire.sent), relay.count()
        say(alice, "delivered, ack lost")
        say(alice, "lost in transit")
        expect(theirs(bob).last).to_have_text("delivered, ack lost")
        alice.page.evaluate("window.__channels.forEach((c) => c.close())")
        expect(theirs(bob)).to_have_text(
            ["hello through the server"]
            + [t for *_, t in lines[:3]]
            + ["delivered, ack lost", "lost in transit"]
        )
        resent = [f for f in alice.wire.sent[mark:] if f.get("action") == "send"]
        assert sorted(f["text"] for f in resent) == ["delivered, ack lost", "lost in transit"]
        # The relayed copy of the first message reached bob's page, which showed it once.
        deadline = time.monotonic() + SLOW / 1000
        mids = {f["mid"] for f in resent}
        while time.monotonic() < deadline:
            got = {f.get("mid") for f in bob.wire.received if f.get("type") == "message"}
            if mids <= got:
                break
            # Not time.sleep: Playwright's sync API records frames only while it is called.
            bob.page.wait_for_timeout(100)
        assert mids <= got
        bob.page.wait_for_timeout(300)
        expect(theirs(bob).filter(has_text="delivered, ack lost")).to_have_count(1)
        relayed = [
            a
            for a in alice.wire.sent_actions(mark) + bob.wire.sent_actions(bob_mark)
            if a in ("send", "signal")
        ]
        assert relay.count() - before == len(relayed)

    # Reports and blocks still go through the server during a direct chat.
    go_direct(alice, bob)
    bob.page.locator("#report-btn").click()
    bob.page.locator("#report-send").click()
    expect(bob.page.locator("body")).to_have_attribute("data-state", "ended")
    expect(alice.page.locator("body")).to_have_attribute("data-state", "ended")
    for person in (alice, bob):
        expect(person.page.locator("body")).to_have_attribute("data-rtc", "off")
        person.page.wait_for_function(
            "window.__pcs.length > 0 && window.__pcs.every((p) => p.connectionState === 'closed')"
        )


def test_video_needs_both_and_carries_frames(people: Callable[[], Person]) -> None:
    alice, bob = people(), people()
    matched(alice, bob)
    go_direct(alice, bob)
    a, b = alice.page, bob.page
    a.locator("#rtc-video-btn").click()
    expect(a.locator("#rtc-warning")).to_contain_text("see and hear you")
    a.locator("#rtc-confirm").click()
    # One side alone turns nothing on.
    expect(b.locator("#rtc-video-btn")).to_have_text("Turn on video too")
    expect(a.locator("#rtc-cam")).to_be_hidden()
    expect(a.locator("body")).to_have_attribute("data-camera", "off")
    b.locator("#rtc-video-btn").click()
    b.locator("#rtc-confirm").click()
    for page in (a, b):
        expect(page.locator("#rtc-cam")).to_be_visible()
        expect(page.locator("#rtc-cam")).to_have_text("Camera on")
        expect(page.locator("#rtc-video")).to_be_visible()
        page.wait_for_function(
            "document.getElementById('rtc-remote').getVideoPlaybackQuality().totalVideoFrames > 0",
            timeout=SLOW,
        )
    assert decoded_frames(a) > 0 and decoded_frames(b) > 0
    # Text still flows over the channel while video is on.
    say(alice, "can you see me?")
    expect(theirs(bob)).to_have_text(["can you see me?"])
    # Camera off: the indicator goes; mute: the button says so.
    a.locator("#rtc-camera-btn").click()
    expect(a.locator("#rtc-cam")).to_be_hidden()
    expect(a.locator("#rtc-camera-btn")).to_have_text("Camera on")
    a.locator("#rtc-mute-btn").click()
    expect(a.locator("#rtc-mute-btn")).to_have_text("Unmute mic")
    a.locator("#rtc-camera-btn").click()
    expect(a.locator("#rtc-cam")).to_be_visible()
    # Stop: both sides' cameras go off, the chat stays direct.
    b.locator("#rtc-video-stop-btn").click()
    for page in (a, b):
        expect(page.locator("#rtc-cam")).to_be_hidden()
        expect(page.locator("#rtc-video")).to_be_hidden()
        expect(page.locator("body")).to_have_attribute("data-rtc", "direct")
    # Next tears the peer connection down on both sides.
    a.locator("#next-btn").click()
    expect(b.locator("body")).to_have_attribute("data-state", "ended")
    for page in (a, b):
        page.wait_for_function(
            "window.__pcs.length > 0 && window.__pcs.every((p) => p.connectionState === 'closed')"
        )


def test_host_candidates_by_default(people: Callable[[], Person]) -> None:
    """What relay-only mode hides: without it each side learns the other's host candidates
    (Chrome's mDNS names here, real addresses once a page has camera permission)."""
    alice, bob = people(), people()
    matched(alice, bob)
    go_direct(alice, bob)
    for person in (alice, bob):
        found = candidates(person)
        assert found and all(" typ host " in line for line in found), found


@pytest.fixture
def turn_server() -> Iterator[tuple[int, str, Path]]:
    """A real coturn on loopback that accepts TURN REST credentials (use-auth-secret)."""
    with coturn() as server:
        yield server


def test_relay_only_goes_through_turn_and_reveals_no_address(
    browser: Browser, turn_server: tuple[int, str, Path]
) -> None:
    port, secret, turn_log = turn_server
    env = {
        "RTC_ENABLED": "true",
        "RTC_RELAY_ONLY": "true",
        "TURN_URLS": f"turn:127.0.0.1:{port}?transport=udp",
        "TURN_SECRET": secret,
    }
    contexts: list[BrowserContext] = []
    # --env: the template's values (RTC_RELAY_ONLY=false...) would win over inherited ones.
    args = [arg for name, value in env.items() for arg in ("--env", f"{name}={value}")]
    with redis_server() as private:
        dev_env: dict[str, str | None] = {"REDIS_URL": private.url}
        with dev_server("--log-level", "warning", *args, env=dev_env) as server:
            try:
                people = person_opener(browser, server.http_url, contexts)
                alice, bob = people(), people()
                matched(alice, bob)
                go_direct(alice, bob, mode="turn")
                expect(alice.page.locator("#rtc-warning")).to_have_count(1)
                say(alice, "through the relay")
                expect(theirs(bob)).to_have_text(["through the relay"])
                # Neither page learnt anything but the TURN server's relayed address.
                for person in (alice, bob):
                    found = candidates(person)
                    assert found, "no candidates exchanged"
                    for line in found:
                        assert " typ relay " in line, line
                        assert line.split()[4] == "127.0.0.1", line
            finally:
                for context in contexts:
                    context.close()
    # The credentials `matched` carried are the ones a real TURN server accepted.
    log = turn_log.read_text(errors="replace")
    users = set(
        re.findall(r"user <(\d+:[0-9a-f]{16})>: incoming packet ALLOCATE processed, success", log)
    )
    assert len(users) == 2, log[-3000:]
    for user in users:
        assert 0 < int(user.split(":")[0]) - time.time() <= 86400
