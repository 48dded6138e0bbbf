"""The Lambda side of each operation, measured locally: warm handler time and post bytes.

Runs the operations of bench/operations.py through the WebSocket handlers with the notifier the
Lambda functions use (``SignedHttpNotifier``: SigV4-signed posts on kept-alive HTTP
connections) and the Powertools telemetry, against a private redis-server and a stub of the
Management API in a separate process (so its work is not charged to the handler). The stub
answers like API Gateway (200, empty body, API Gateway's response headers) and counts the
bytes of every request and response: the HTTP bytes one post sends through the NAT gateway.

The handler's CPU time (this process's, per operation) is what Lambda's CPU share scales;
the waits on Redis and on the posts are network time, which bench/cost.py adds from
prices.toml (``[assumptions]``) because loopback round trips on a shared machine say nothing
about them. Wall time is recorded too.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import multiprocessing
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench.common import bench_settings, median, private_redis
from bench.operations import OPS, Driver, check_posts

#: Lambda's role credentials: an STS session token is about this long (an estimate; it is
#: sent with every post, so it is most of the request's bytes).
SESSION_TOKEN_CHARS = 1000


class _Counts:
    posts = 0
    request_bytes = 0
    response_bytes = 0
    body_bytes = 0


class _ManagementStub(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        head = len(self.raw_requestline) + 2
        head += sum(len(k) + len(v) + 4 for k, v in self.headers.items())
        response = (
            "HTTP/1.1 200 OK\r\n"
            f"Date: {formatdate(usegmt=True)}\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: 0\r\n"
            "Connection: keep-alive\r\n"
            f"x-amzn-RequestId: {uuid.uuid4()}\r\n"
            "x-amz-apigw-id: AbCdEfGhIjKlMnO=\r\n"
            "\r\n"
        ).encode()
        self.wfile.write(response)
        _Counts.posts += 1
        _Counts.request_bytes += head + length
        _Counts.response_bytes += len(response)
        _Counts.body_bytes += length

    def do_GET(self) -> None:
        body = json.dumps({k: getattr(_Counts, k) for k in _FIELDS}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


_FIELDS = ("posts", "request_bytes", "response_bytes", "body_bytes")


def _serve(conn: Any) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ManagementStub)
    conn.send(server.server_address[1])
    server.serve_forever()


@contextlib.contextmanager
def management_stub() -> Iterator[int]:
    """The stub in a child process; yields its port."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child,), daemon=True)
    proc.start()
    try:
        if not parent.poll(30):
            raise RuntimeError("the Management API stub did not start")
        yield int(parent.recv())
    finally:
        proc.terminate()
        proc.join(5)


def _stub_counts(port: int) -> dict[str, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/stats")
        counts: dict[str, int] = json.loads(conn.getresponse().read())
        return counts
    finally:
        conn.close()


class CountingNotifier:
    """Counts frames by type (checked like bench/servertime.py does), then really posts."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.types: dict[str, int] = {}

    def post(self, connection_id: str, frame: dict[str, Any]) -> bool:
        self.types[frame["type"]] = self.types.get(frame["type"], 0) + 1
        return bool(self.inner.post(connection_id, frame))


@dataclass
class HandlerResult:
    key: str
    #: Warm handler CPU time per operation here (ms): the part Lambda's CPU share scales.
    handler_cpu_ms: float
    #: Wall time per operation here (ms), loopback round trips and machine noise included.
    handler_wall_ms: float
    posts: float
    #: HTTP bytes per operation through the NAT: requests and responses of its posts.
    post_bytes: float
    #: Frame bytes (request bodies) per operation.
    body_bytes: float
    #: Lambda invocations per operation: a connect is two (the ``$connect`` authorizer, then
    #: ``$connect``), every other operation one; the authorizer's CPU time is in
    #: ``handler_cpu_ms`` then.
    invocations: float = 1.0


def run_handlertime(n: int = 100, reps: int = 3) -> dict[str, HandlerResult]:
    from aws_lambda_powertools import Metrics

    from pairchat.adapters.telemetry import PowertoolsTelemetry
    from pairchat.bootstrap import management_notifier, redis_client
    from pairchat.domain.service import ChatService
    from pairchat.domain.store import ChatStore

    runs: dict[str, list[tuple[float, float, float, float, float]]] = {op.key: [] for op in OPS}
    # Powertools prints its metrics (EMF) to stdout, as in Lambda: kept out of the report.
    with (
        private_redis() as url,
        management_stub() as port,
        contextlib.redirect_stdout(io.StringIO()) as sink,
    ):
        settings = bench_settings(
            url,
            management_endpoint=f"http://127.0.0.1:{port}/prod",
            aws_access_key_id="ASIA" + "B" * 16,
            aws_secret_access_key="s" * 40,
            aws_session_token="t" * SESSION_TOKEN_CHARS,
        )
        client = redis_client(settings)
        notifier = CountingNotifier(
            management_notifier(settings.management_endpoint or "", settings)
        )
        telemetry = PowertoolsTelemetry(Metrics(namespace="pairchat-bench"))
        service = ChatService(ChatStore(client, settings), notifier, settings, telemetry)
        driver = Driver(service)
        for rep in range(reps + 1):  # rep 0 warms up and is dropped
            for op in OPS:
                client.flushall()
                thunks = op.prepare(driver, f"h{rep}{op.key}", n)
                before, counts0 = dict(notifier.types), _stub_counts(port)
                t, cpu = time.perf_counter(), time.process_time()
                for thunk in thunks:
                    thunk()
                elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
                counts1 = _stub_counts(port)
                check_posts(op, n, before, notifier)
                sink.seek(0)
                sink.truncate()
                if rep:
                    d = {k: counts1[k] - counts0[k] for k in _FIELDS}
                    runs[op.key].append(
                        (
                            cpu * 1e3 / n,
                            elapsed * 1e3 / n,
                            d["posts"] / n,
                            (d["request_bytes"] + d["response_bytes"]) / n,
                            d["body_bytes"] / n,
                        )
                    )
        client.close()
        authorizer_ms = authorizer_cpu_ms(settings, n, reps)
    return {
        key: HandlerResult(
            key=key,
            handler_cpu_ms=median([r[0] for r in rs]) + (authorizer_ms if key == "connect" else 0),
            handler_wall_ms=median([r[1] for r in rs]),
            posts=median([r[2] for r in rs]),
            post_bytes=median([r[3] for r in rs]),
            body_bytes=median([r[4] for r in rs]),
            invocations=2.0 if key == "connect" else 1.0,
        )
        for key, rs in runs.items()
    }


def authorizer_cpu_ms(settings: Any, n: int, reps: int) -> float:
    """Warm CPU time of one ``$connect`` authorizer decision (anonymous, as the mix's users;
    it touches no Redis): the first of a connect's two invocations."""
    from tests.support import authorizer_event, load_event

    from pairchat.adapters.auth import Authenticator
    from pairchat.handlers.authorizer import handle_authorize

    authenticator = Authenticator.from_settings(settings)
    event = authorizer_event(load_event("$connect", "Bench0="))
    samples = []
    for rep in range(reps + 1):
        cpu = time.process_time()
        for _ in range(n):
            handle_authorize(event, settings, authenticator)
        if rep:
            samples.append((time.process_time() - cpu) * 1e3 / n)
    return median(samples)


if __name__ == "__main__":
    for r in run_handlertime().values():
        print(
            f"{r.key:18} {r.handler_cpu_ms:6.3f} ms CPU ({r.handler_wall_ms:6.3f} wall)  "
            f"posts {r.posts:.2g}  "
            f"{r.post_bytes:6.0f} HTTP bytes ({r.body_bytes:.0f} of frames)"
        )
