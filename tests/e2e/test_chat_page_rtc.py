"""The opt-in direct connection in a real browser: two headless Chromium pages matched through
`pairchat dev` consent, open a WebRTC data channel over this machine's own interfaces (host
candidates, no STUN), and chat without the server relaying a word; the relay takes over when
the channel closes; video mode carries frames. The relay is counted in Redis itself: MONITOR
sees every EVALSHA, and relay.lua (behind both `send` and `signal`) is told apart by its SHA.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from playwright.sync_api import Browser, BrowserContext, Page, WebSocket, expect, sync_playwright

from pairchat.domain.scripts import source
from tests.e2e.conftest import Gateway
from tests.e2e.devserver import dev_server
from tests.support import free_port, redis_server

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-browser")]

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    # A camera and microphone that exist (a test pattern and a beep), granted without a prompt.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]
#: Generous: two browsers, a dev stack and other test workers share two cores.
SLOW = 45_000

#: Records every RTCPeerConnection and RTCDataChannel the page makes, so a test can close a
#: channel mid-chat (as a network failure would) and check what was torn down.
CAPTURE = """
(() => {
  const Native = window.RTCPeerConnection;
  window.__pcs = [];
  window.__channels = [];
  window.RTCPeerConnection = function (...args) {
    const pc = new Native(...args);
    window.__pcs.push(pc);
    pc.addEventListener("datachannel", (e) => window.__channels.push(e.channel));
    const create = pc.createDataChannel.bind(pc);
    pc.createDataChannel = (...a) => {
      const ch = create(...a);
      window.__channels.push(ch);
      return ch;
    };
    return pc;
  };
  window.RTCPeerConnection.prototype = Native.prototype;
})();
"""


class RelayCounter:
    """Counts relay.lua calls on the stack's Redis: MONITOR streams every command in the order
    Redis ran it. ``count()`` first runs a probe and waits for MONITOR to show it, so every
    script that ran before the call has been counted (and a dead monitor fails the test)."""

    def __init__(self, url: str) -> None:
        self.sha = hashlib.sha1(source("relay").encode()).hexdigest()
        self._calls = 0
        self._seen_probe = 0
        self._stop = False
        self._cond = threading.Condition()
        self._client = redis.Redis.from_url(url)
        self._probe = redis.Redis.from_url(url)
        self._probes = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with self._client.monitor() as monitor:
            while True:
                command = str(monitor.next_command()["command"])
                with self._cond:
                    if command.upper().startswith("EVALSHA") and self.sha in command:
                        self._calls += 1
                    elif command.startswith("ECHO relay-counter-probe-"):
                        self._seen_probe = int(command.rsplit("-", 1)[1])
                        self._cond.notify_all()
                    if self._stop:
                        return

    def __enter__(self) -> RelayCounter:
        self._thread.start()
        self.count()  # MONITOR is live before anything is measured
        return self

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._stop = True
        self._probe.echo("relay-counter-probe-0")  # wakes the reader so it can stop
        self._thread.join(10)
        self._client.close()
        self._probe.close()

    def count(self) -> int:
        self._probes += 1
        n = self._probes
        deadline = time.monotonic() + 30
        with self._cond:
            # Sent again until seen: the first ones can precede MONITOR itself.
            while self._seen_probe < n:
                assert time.monotonic() < deadline, "MONITOR is not running"
                self._probe.echo(f"relay-counter-probe-{n}")
                self._cond.wait_for(lambda: self._seen_probe >= n, timeout=0.5)
            return self._calls


@dataclass
class Wire:
    """The JSON frames one page's WebSocket sent and received."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)

    def attach(self, ws: WebSocket) -> None:
        ws.on("framesent", lambda payload: self._add(self.sent, payload))
        ws.on("framereceived", lambda payload: self._add(self.received, payload))

    @staticmethod
    def _add(into: list[dict[str, Any]], payload: str | bytes) -> None:
        try:
            frame = json.loads(payload)
        except ValueError:
            return
        if isinstance(frame, dict):
            into.append(frame)

    def sent_actions(self, since: int = 0) -> list[str]:
        return [str(f.get("action")) for f in self.sent[since:]]


@dataclass
class Person:
    page: Page
    wire: Wire


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


def person_opener(
    browser: Browser, http_url: str, contexts: list[BrowserContext]
) -> Callable[[], Person]:
    def open_person() -> Person:
        context = browser.new_context(viewport={"width": 1000, "height": 860})
        context.grant_permissions(["camera", "microphone"])
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(SLOW)
        page.add_init_script(CAPTURE)
        wire = Wire()
        page.on("websocket", wire.attach)
        page.goto(http_url + "/")
        expect(page.locator("body")).to_have_attribute("data-link", "online", timeout=SLOW)
        return Person(page, wire)

    return open_person


@pytest.fixture
def people(browser: Browser, gateway: Gateway) -> Iterator[Callable[[], Person]]:
    contexts: list[BrowserContext] = []
    yield person_opener(browser, gateway.http_url, contexts)
    for context in contexts:
        context.close()


def matched(alice: Person, bob: Person) -> None:
    for person, gender in ((alice, "female"), (bob, "male")):
        page = person.page
        page.locator(f"label:has(input[name=gender][value={gender}])").click()
        page.locator("label:has(input[name=preference][value=any])").click()
        page.locator("#start-btn").click()
    for person in (alice, bob):
        expect(person.page.locator("body")).to_have_attribute("data-state", "chatting")


def say(person: Person, text: str) -> None:
    person.page.locator("#input").fill(text)
    person.page.locator("#input").press("Enter")


def theirs(person: Person) -> Any:
    return person.page.locator(".msg.them .bubble")


def go_direct(alice: Person, bob: Person, mode: str = "direct") -> None:
    """Both consent, each after reading the warning; waits for the open channel."""
    a, b = alice.page, bob.page
    bob_pcs = b.evaluate("window.__pcs.length")
    marks = (len(alice.wire.sent), len(bob.wire.sent))
    a.locator("#rtc-direct-btn").click()
    expect(a.locator("#rtc-dialog")).to_be_visible()
    expect(a.locator("#rtc-warning")).to_contain_text("IP address")
    a.locator("#rtc-confirm").click()
    expect(b.locator("#rtc-hint")).to_contain_text("asks to connect directly")
    # Nothing before bob's own consent: no peer connection, so no candidate gathered or sent.
    expect(b.locator("body")).to_have_attribute("data-rtc", "server")
    assert b.evaluate("window.__pcs.length") == bob_pcs
    b.locator("#rtc-direct-btn").click()
    expect(b.locator("#rtc-warning")).to_contain_text("IP address")
    b.locator("#rtc-confirm").click()
    label = {"direct": "Direct (peer-to-peer)", "turn": "Direct via TURN relay"}[mode]
    for page in (a, b):
        expect(page.locator("body")).to_have_attribute("data-rtc", mode)
        expect(page.locator("#rtc-mode-label")).to_have_text(label)
        expect(page.locator("#messages .notice.good").last).to_contain_text(
            "Direct connection open"
        )
    # Through the server: one consent and one SDP (with its candidates) per side.
    signals = [
        f["data"]
        for f in alice.wire.sent[marks[0] :] + bob.wire.sent[marks[1] :]
        if f.get("action") == "signal"
    ]
    kinds = sorted(d["kind"] for d in signals if d["kind"] != "candidate")
    assert kinds == ["consent", "consent", "description", "description"], kinds
    sizes = [len(json.dumps({"action": "signal", "data": d})) for d in signals]
    print(f"signals through the server: {len(signals)}, bytes {sizes}")


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
            time.sleep(0.1)
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


def decoded_frames(page: Page) -> int:
    return int(
        page.evaluate(
            "document.getElementById('rtc-remote').getVideoPlaybackQuality().totalVideoFrames"
        )
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


def candidates(person: Person) -> list[str]:
    """The ICE candidates in every SDP this page received from the stranger via the server."""
    lines: list[str] = []
    for f in person.wire.received:
        if f.get("type") == "signal" and f["data"].get("kind") == "description":
            sdp = f["data"]["description"]["sdp"]
            lines += [line for line in sdp.splitlines() if line.startswith("a=candidate:")]
        elif f.get("type") == "signal" and f["data"].get("kind") == "candidate":
            lines.append("a=" + f["data"]["candidate"]["candidate"])
    return lines


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
    binary = shutil.which("turnserver")
    assert binary, "coturn is missing: run infra/scripts/system-deps.sh"
    port, secret = free_port(), "turn-secret-for-tests"
    workdir = Path(tempfile.mkdtemp(prefix="pairchat-turn-"))
    log = workdir / "turn.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                binary,
                "-n",
                "--listening-ip=127.0.0.1",
                "--relay-ip=127.0.0.1",
                f"--listening-port={port}",
                "--use-auth-secret",
                f"--static-auth-secret={secret}",
                "--realm=pairchat.test",
                "--no-tls",
                "--no-dtls",
                "--no-cli",
                "--allow-loopback-peers",
                "--fingerprint",
                "--log-file=stdout",
                "--simple-log",
                "--verbose",
                f"--pidfile={workdir / 'turn.pid'}",
                f"--db={workdir / 'turn.db'}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while "Total General servers" not in log.read_text(errors="replace"):
            assert proc.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.1)
        yield port, secret, log
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


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
