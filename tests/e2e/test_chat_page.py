"""The chat page in a real browser: Debian's headless Chromium driven by Playwright."""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import redis
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from pairchat.domain.keys import Keys
from pairchat.settings import Settings
from tests.e2e.conftest import Gateway

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
]


# Module scope, not session: Playwright's sync API keeps an event loop running in this thread,
# and the other e2e modules call asyncio.run.
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
def pages(browser: Browser, gateway: Gateway) -> Iterator[Callable[[], Page]]:
    """Opens chat pages (each its own browser context, like two people); closes them after."""
    contexts: list[BrowserContext] = []

    def open_page() -> Page:
        context = browser.new_context(viewport={"width": 1000, "height": 760})
        contexts.append(context)
        page = context.new_page()
        page.goto(gateway.http_url + "/")
        expect(page.locator("body")).to_have_attribute("data-link", "online", timeout=10_000)
        return page

    yield open_page
    for context in contexts:
        context.close()


def start(page: Page, gender: str, preference: str) -> None:
    page.locator(f"label:has(input[name=gender][value={gender}])").click()
    page.locator(f"label:has(input[name=preference][value={preference}])").click()
    page.locator("#start-btn").click()


def say(page: Page, text: str) -> None:
    page.locator("#input").fill(text)
    page.locator("#input").press("Enter")


def connections(redis_url: str) -> tuple[str, dict[str, str]]:
    """The one room's id, and its users' connection ids (user id -> connection id)."""
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    keys = Keys("{pairchat}:")
    rooms = list(r.scan_iter(match=keys.pattern("room")))
    assert len(rooms) == 1, rooms
    room = r.hgetall(rooms[0])
    conns = {uid: str(r.hget(keys.session(uid), "conn")) for uid in (room["a"], room["b"])}
    r.close()
    return rooms[0].rsplit(":", 1)[1], conns


def test_two_pages_get_matched_and_chat(
    pages: Callable[[], Page], gateway: Gateway, tmp_path: Path
) -> None:
    alice, bob = pages(), pages()
    expect(alice.locator("#pool-choice")).to_be_hidden()  # one pool: nothing to choose

    start(alice, "female", "male")
    expect(alice.locator("body")).to_have_attribute("data-state", "searching")
    expect(alice.locator("#view-searching")).to_be_visible()
    start(bob, "male", "any")
    for page in (alice, bob):
        expect(page.locator("body")).to_have_attribute("data-state", "chatting", timeout=10_000)
        expect(page.locator("#messages .notice")).to_contain_text("chatting with a random stranger")

    say(alice, "Hi! Where are you writing from?")
    expect(bob.locator(".msg.them .bubble")).to_have_text(["Hi! Where are you writing from?"])
    say(bob, "Lisbon. You?")
    expect(alice.locator(".msg.them .bubble")).to_have_text(["Lisbon. You?"])
    expect(alice.locator(".msg.me .bubble")).to_have_text(["Hi! Where are you writing from?"])
    alice.screenshot(path=str(tmp_path / "chat.png"))

    # Frames pushed through the Management API, as the handlers push them.
    room, conns = connections(gateway.redis_url)
    client = boto3.session.Session().client(
        "apigatewaymanagementapi",
        endpoint_url=gateway.http_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )

    def push(frame: dict[str, Any]) -> None:
        for conn in conns.values():
            client.post_to_connection(ConnectionId=conn, Data=json.dumps(frame).encode())

    # A frame delivered twice (same id) is shown once.
    dup = {"type": "message", "id": "dup-0001", "roomId": room, "text": "said once"}
    push(dup)
    push(dup)
    say(bob, "after the duplicate")
    expect(alice.locator(".msg.them .bubble")).to_have_text(
        ["Lisbon. You?", "said once", "after the duplicate"]
    )
    # Error frames become a readable notice, not a crash.
    push({"type": "error", "id": "err-0001", "code": "unavailable", "message": "Try again."})
    expect(alice.locator(".toast").last).to_contain_text("Try again.")
    push({"message": "Internal server error", "connectionId": "x", "requestId": "y"})
    expect(alice.locator(".toast").last).to_contain_text("Something went wrong on our side")

    # The partner leaves: the other page says so and offers to find someone new.
    bob.locator("#leave-btn").click()
    expect(bob.locator("body")).to_have_attribute("data-state", "idle")
    expect(alice.locator("body")).to_have_attribute("data-state", "ended", timeout=10_000)
    expect(alice.locator("#ended")).to_contain_text("Stranger left the chat.")
    expect(alice.locator("#again-btn")).to_be_visible()


def test_a_message_that_beats_its_matched_frame_is_kept(
    pages: Callable[[], Page], gateway: Gateway
) -> None:
    alice, bob = pages(), pages()
    start(alice, "female", "any")
    start(bob, "female", "female")
    expect(alice.locator("body")).to_have_attribute("data-state", "chatting", timeout=10_000)
    room, conns = connections(gateway.redis_url)
    client = boto3.session.Session().client(
        "apigatewaymanagementapi",
        endpoint_url=gateway.http_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    # Next: a new room whose first message arrives before its `matched`.
    new_room = "00000000-0000-4000-8000-000000000001"
    frames = [
        {"type": "message", "id": "early-1", "roomId": new_room, "text": "I was quick"},
        {"type": "matched", "id": "match-1", "roomId": new_room, "partnerId": "p"},
    ]
    for frame in frames:
        for conn in conns.values():
            client.post_to_connection(ConnectionId=conn, Data=json.dumps(frame).encode())
    for page in (alice, bob):
        expect(page.locator(".msg.them .bubble")).to_have_text(["I was quick"])
        expect(page.locator("body")).to_have_attribute("data-state", "chatting")
    assert room != new_room


def test_report_and_block_from_the_chat(pages: Callable[[], Page], gateway: Gateway) -> None:
    alice, bob = pages(), pages()
    start(alice, "female", "any")
    start(bob, "male", "female")
    for page in (alice, bob):
        expect(page.locator("body")).to_have_attribute("data-state", "chatting", timeout=10_000)
    say(bob, "something rude")
    expect(alice.locator(".msg.them .bubble")).to_have_text(["something rude"])

    alice.locator("#report-btn").click()
    expect(alice.locator("#report-dialog")).to_be_visible()
    alice.locator("#report-reason").fill("rude from the first message")
    alice.locator("#report-send").click()

    expect(alice.locator("body")).to_have_attribute("data-state", "ended", timeout=10_000)
    expect(alice.locator("#ended")).to_contain_text("You blocked this stranger")
    expect(alice.locator(".toast.info")).to_contain_text("Thanks for reporting")
    expect(bob.locator("body")).to_have_attribute("data-state", "ended", timeout=10_000)
    # The report is in the stack's report store, read back through the ops API.
    with urllib.request.urlopen(f"{gateway.http_url}/ops/reports?limit=200") as answer:
        reports = json.load(answer)["reports"]
    mine = [r for r in reports if r["reason"] == "rude from the first message"]
    assert len(mine) == 1 and mine[0]["reporter"] != mine[0]["reported"]


def test_a_search_survives_a_dropped_connection(
    pages: Callable[[], Page], gateway: Gateway
) -> None:
    alice = pages()
    start(alice, "female", "male")
    expect(alice.locator("body")).to_have_attribute("data-state", "searching")
    r = redis.Redis.from_url(gateway.redis_url, decode_responses=True)
    keys = Keys("{pairchat}:")
    [conn_key] = list(r.scan_iter(match=keys.pattern("conn")))
    old_conn = conn_key.rsplit(":", 1)[1]
    boto3.session.Session().client(
        "apigatewaymanagementapi",
        endpoint_url=gateway.http_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).delete_connection(ConnectionId=old_conn)  # as if the network dropped
    # The page reconnects on its own (a new connection, a new identity) and searches on.
    expect(alice.locator("body")).to_have_attribute("data-link", "connecting", timeout=5_000)
    expect(alice.locator("body")).to_have_attribute("data-link", "online", timeout=10_000)
    expect(alice.locator("body")).to_have_attribute("data-state", "searching")
    bob = pages()
    start(bob, "male", "female")
    for page in (alice, bob):
        expect(page.locator("body")).to_have_attribute("data-state", "chatting", timeout=10_000)
    assert not r.exists(keys.connection(old_conn))
    r.close()


def test_the_page_offers_the_pools_and_pairs_only_within_one(browser: Browser) -> None:
    """With POOLS=en,es the start form offers a language select ("English", "Spanish"); two
    people in different pools are not paired, and are once one of them switches."""
    from tests.e2e.devserver import dev_server
    from tests.support import redis_server

    with (
        redis_server() as private,
        dev_server(
            "--log-level", "warning", "--env", "POOLS=en,es", env={"REDIS_URL": private.url}
        ) as server,
    ):
        contexts = []

        def open_page(query: str = "") -> Page:
            context = browser.new_context(viewport={"width": 1000, "height": 760})
            contexts.append(context)
            page = context.new_page()
            page.goto(server.http_url + "/" + query)
            expect(page.locator("body")).to_have_attribute("data-link", "online", timeout=10_000)
            return page

        try:
            alice, bob = open_page("?pool=es"), open_page()
            for page in (alice, bob):
                expect(page.locator("#pool-choice")).to_be_visible()
                labels = page.eval_on_selector_all("#pool option", "os => os.map(o => o.text)")
                assert labels == ["English", "Spanish"]
            assert alice.input_value("#pool") == "es" and bob.input_value("#pool") == "en"
            start(alice, "male", "any")
            start(bob, "female", "any")
            expect(alice.locator("body")).to_have_attribute("data-state", "searching")
            bob.wait_for_timeout(1500)  # in one pool a join pairs at once: they would be chatting
            expect(bob.locator("body")).to_have_attribute("data-state", "searching")
            bob.locator("#cancel-btn").click()
            expect(bob.locator("body")).to_have_attribute("data-state", "idle")
            bob.select_option("#pool", "es")  # a new connection, in es
            expect(bob.locator("body")).to_have_attribute("data-link", "online", timeout=10_000)
            start(bob, "female", "any")
            for page in (alice, bob):
                expect(page.locator("body")).to_have_attribute(
                    "data-state", "chatting", timeout=10_000
                )
            r = redis.Redis.from_url(private.url, decode_responses=True)
            es = Settings(pools=("en", "es")).prefix_for("es")
            assert len(list(r.scan_iter(match=es + "room:*"))) == 1
        finally:
            for context in contexts:
                context.close()


def add_interests(page: Page, typed: str) -> None:
    """Types into the interests field as a person would: commas and Enter make tags."""
    field = page.locator("#interest-input")
    field.click()
    field.press_sequentially(typed)
    field.press("Enter")


def typing_frames(page: Page) -> list[bool]:
    """Records the `typing` values this page sends (read the list later)."""
    sent: list[bool] = []

    def on_socket(ws: Any) -> None:
        def on_frame(payload: str | bytes) -> None:
            frame = json.loads(payload)
            if frame.get("action") == "typing":
                sent.append(frame["typing"])

        ws.on("framesent", on_frame)

    page.on("websocket", on_socket)
    return sent


def test_the_interests_field_makes_normalized_tags(pages: Callable[[], Page]) -> None:
    page = pages()
    field, tags = page.locator("#interest-input"), page.locator("#interest-tags .tag span")
    hint = page.locator("#interest-hint")
    field.click()
    field.press_sequentially("Straße,  Jazz   Piano ,no!")
    field.press("Enter")  # refused: stays in the field, the reason under it, no search
    expect(tags).to_have_text(["strasse", "jazz piano"])
    expect(field).to_have_value("no!")
    expect(hint).to_contain_text("can't be an interest")
    page.locator("#start-btn").click()
    expect(page.locator("body")).to_have_attribute("data-state", "idle")
    field.fill("")
    field.press_sequentially("MUSIC,music,a,b,c,d")
    expect(tags).to_have_text(["strasse", "jazz piano", "music", "a", "b"])  # at most 5
    expect(hint).to_contain_text("Added b.")
    expect(field).to_have_value("")
    expect(field).to_have_attribute("placeholder", "That's 5: remove one to add another")
    field.press("Backspace")
    page.locator("#interest-tags .tag-remove[aria-label='Remove jazz piano']").click()
    expect(tags).to_have_text(["strasse", "music", "a"])
    expect(hint).to_have_text("Removed jazz piano.")
    expect(field).to_be_focused()


def test_shared_interests_are_shown_and_typing_is_indicated(
    pages: Callable[[], Page], tmp_path: Path
) -> None:
    alice, bob = pages(), pages()
    sent_by_bob = typing_frames(bob)  # before the page's socket opens again
    bob.reload()
    expect(bob.locator("body")).to_have_attribute("data-link", "online", timeout=10_000)

    add_interests(alice, "Music, chess")
    expect(alice.locator("#interest-tags .tag span")).to_have_text(["music", "chess"])
    alice.locator("#interest-input").press("Backspace")  # the empty field: removes "chess"
    add_interests(alice, "CHESS,  jazz   piano")
    expect(alice.locator("#interest-tags .tag span")).to_have_text(["music", "chess", "jazz piano"])
    start(alice, "female", "male")
    # Searching: the server's normalized interests, the online count, the wait estimate.
    expect(alice.locator("#searching-detail")).to_contain_text("chess, jazz piano or music")
    expect(alice.locator("#queue-stats")).to_be_visible(timeout=10_000)
    assert int(alice.locator("#stat-online").inner_text()) >= 1
    expect(alice.locator("#stat-eta")).to_have_text("unknown")  # a fresh stack: no data yet
    expect(alice.locator("#only-recent")).to_be_hidden()
    alice.screenshot(path=str(tmp_path / "searching.png"))

    add_interests(bob, "hiking, music")
    start(bob, "male", "female")
    for page in (alice, bob):
        expect(page.locator("body")).to_have_attribute("data-state", "chatting", timeout=10_000)
        expect(page.locator("#messages .notice").first).to_have_text("You both like: music")

    # Typing shows on the other page, throttled on the wire; a message clears it.
    bob.locator("#input").press_sequentially("hello there, how is", delay=100)
    expect(alice.locator("#typing")).to_have_text("Stranger is typing…")
    expect(alice.locator("body")).to_have_attribute("data-typing", "yes")
    alice.screenshot(path=str(tmp_path / "typing.png"))
    assert 1 <= sent_by_bob.count(True) <= 3, sent_by_bob  # ~2 s of typing, at most 1 a second
    bob.locator("#input").press("Enter")
    expect(alice.locator(".msg.them .bubble")).to_have_text(["hello there, how is"])
    expect(alice.locator("#typing")).to_have_text("")
    assert False not in sent_by_bob  # the message itself said "stopped"

    # Typing, then nothing for ~3 s: the other page is told typing:false (its own expiry
    # would take 6 s, longer than this wait).
    bob.locator("#input").press_sequentially("so")
    expect(alice.locator("#typing")).to_have_text("Stranger is typing…")
    expect(alice.locator("#typing")).to_have_text("", timeout=4_500)
    assert sent_by_bob[-1] is False

    # The partner leaves while typing: the indicator goes with the chat.
    bob.locator("#input").press_sequentially(" anyway")
    expect(alice.locator("#typing")).to_have_text("Stranger is typing…")
    bob.locator("#leave-btn").click()
    expect(alice.locator("body")).to_have_attribute("data-state", "ended", timeout=10_000)
    expect(alice.locator("#typing")).to_have_text("")


def test_fallback_pairs_with_anyone_after_the_relaxation_time(pages: Callable[[], Page]) -> None:
    """The page heartbeats every `retryMs` while queued: the fallback match comes when the
    relaxation time (MATCH_RELAX_SECONDS, 10 by default) passes, not at the next 30 s beat."""
    alice, bob = pages(), pages()
    add_interests(alice, "underwater basket weaving")
    expect(alice.locator("#fallback")).to_be_checked()
    start(alice, "female", "any")
    expect(alice.locator("#searching-detail")).to_contain_text("with anyone after a few seconds")
    start(bob, "male", "female")  # no interests: open to anyone, but alice is not yet
    expect(bob.locator("body")).to_have_attribute("data-state", "searching")
    for page in (alice, bob):
        expect(page.locator("body")).to_have_attribute("data-state", "chatting", timeout=20_000)
    expect(alice.locator("#messages .notice").first).to_have_text(
        "You're chatting with a random stranger: nobody who shares your interests was around."
    )
    expect(bob.locator("#messages .notice").first).to_have_text(
        "You're chatting with a random stranger. Say hi!"
    )


def test_without_fallback_and_only_recent_partners_waiting_the_page_says_so(
    pages: Callable[[], Page],
) -> None:
    alice, bob = pages(), pages()
    add_interests(alice, "chess")
    alice.locator("#fallback").uncheck()
    start(alice, "female", "male")
    expect(alice.locator("#searching-detail")).to_have_text(
        "Matching you only with men who like chess."
    )
    add_interests(bob, "chess")
    start(bob, "male", "female")
    for page in (alice, bob):
        expect(page.locator("body")).to_have_attribute("data-state", "chatting", timeout=10_000)
    # Next: the two just talked, so neither may be given the other again, and each is told
    # (the second at once, the first at its next retryMs heartbeat).
    alice.locator("#next-btn").click()
    expect(alice.locator("body")).to_have_attribute("data-state", "searching")
    expect(bob.locator("body")).to_have_attribute("data-state", "ended", timeout=10_000)
    bob.locator("#again-btn").click()
    for page in (alice, bob):
        expect(page.locator("#only-recent")).to_be_visible(timeout=10_000)
        expect(page.locator("#only-recent")).to_contain_text(
            "Only people you recently talked to are waiting right now."
        )


def test_a_long_paste_is_cut_with_a_notice_and_reconnecting_is_not_green(
    pages: Callable[[], Page], gateway: Gateway
) -> None:
    alice, bob = pages(), pages()
    start(alice, "female", "male")
    start(bob, "male", "any")
    for page in (alice, bob):
        expect(page.locator("body")).to_have_attribute("data-state", "chatting", timeout=10_000)

    # A paste longer than a message can be: what fits goes in, and the page says what did not.
    alice.locator("#input").fill("hello ")
    alice.evaluate(
        """() => {
          const dt = new DataTransfer();
          dt.setData("text/plain", "x".repeat(5000));
          const input = document.getElementById("input");
          input.setSelectionRange(input.value.length, input.value.length);
          const init = {clipboardData: dt, bubbles: true, cancelable: true};
          input.dispatchEvent(new ClipboardEvent("paste", init));
        }"""
    )
    assert alice.evaluate("document.getElementById('input').value.length") == 4096
    expect(alice.locator(".toast.info").last).to_contain_text("cut short")
    expect(alice.locator(".toast.info").last).to_contain_text("the last 910 were left out")

    # Our own connection drops mid-chat: the presence dot stops being green while we reconnect.
    green = alice.evaluate(
        "getComputedStyle(document.querySelector('.presence .dot')).backgroundColor"
    )
    _room, conns = connections(gateway.redis_url)
    management = boto3.session.Session().client(
        "apigatewaymanagementapi",
        endpoint_url=gateway.http_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    for conn in conns.values():  # both, as if the network dropped
        management.delete_connection(ConnectionId=conn)
    # At one instant, the label says we are reconnecting and the dot is not the chat's green.
    alice.wait_for_function(
        """(green) => {
          const label = document.getElementById('presence-label').textContent;
          const dot = getComputedStyle(document.querySelector('.presence .dot')).backgroundColor;
          return label.startsWith("You're reconnecting") && dot !== green;
        }""",
        arg=green,
        timeout=5_000,
    )
