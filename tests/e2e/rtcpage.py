"""Helpers of the direct-connection browser tests (test_chat_page_rtc.py): the browser's
flags, a page that records its peer connections and WebSocket frames, a counter of relay.lua
calls read from Redis MONITOR, the consent steps, and a private coturn on loopback."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from playwright.sync_api import Browser, BrowserContext, Page, WebSocket, expect

from pairchat.domain.scripts import source
from tests.support import free_port

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


def decoded_frames(page: Page) -> int:
    return int(
        page.evaluate(
            "document.getElementById('rtc-remote').getVideoPlaybackQuality().totalVideoFrames"
        )
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


@contextmanager
def coturn() -> Iterator[tuple[int, str, Path]]:
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
