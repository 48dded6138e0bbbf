"""Cold start of every Lambda handler: a fresh interpreter, imports plus the first invocation.

Each handler runs in a new ``python`` process against a private Redis, with the Management
API served by a local HTTP stub (so the first post really builds a client, signs and sends a
request). The clock is the child's own (bench/coldstart_child.py): from its first line to
the end of the first invocation. The interpreter's own start-up (``python -c pass``) is
measured alongside in the same run, as a reference.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import redis

from bench.common import ROOT, Metric, event, median, private_redis, standalone

TARGET_MS = 150.0
CHILD = Path(__file__).resolve().parent / "coldstart_child.py"


class _Stub(BaseHTTPRequestHandler):
    """The Management API's ``POST /{stage}/@connections/{id}``: accepts every frame."""

    protocol_version = "HTTP/1.1"
    posts = 0

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        _Stub.posts += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def management_stub() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/dev"
    finally:
        server.shutdown()
        server.server_close()


def _ops_event() -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "ANY /{proxy+}",
        "rawPath": "/health",
        "rawQueryString": "",
        "headers": {"accept": "application/json", "host": "ops.example"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "ops",
            "domainName": "ops.example",
            "http": {
                "method": "GET",
                "path": "/health",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "bench",
            },
            "requestId": "bench",
            "routeKey": "ANY /{proxy+}",
            "stage": "$default",
            "timeEpoch": 1795629600000,
        },
        "isBase64Encoded": False,
    }


def _handlers() -> list[tuple[str, str, dict[str, Any]]]:
    """(name, module:attr, event) for every handler in template.yaml that exists."""
    join = {"action": "join", "gender": "female", "preference": "any"}
    found = [
        ("ws.on_connect", "pairchat.handlers.ws:on_connect", event("connect", "cold-c")),
        ("ws.on_message (join)", "pairchat.handlers.ws:on_message", event("join", "cold-m", join)),
        ("ws.on_disconnect", "pairchat.handlers.ws:on_disconnect", event("disconnect", "cold-d")),
    ]
    try:
        import importlib.util

        if importlib.util.find_spec("pairchat_ops.lambda_handler"):
            found.append(
                ("ops.lambda_handler", "pairchat_ops.lambda_handler:handler", _ops_event())
            )
        if importlib.util.find_spec("pairchat.handlers.sweeper"):
            found.append(("ops.sweeper", "pairchat.handlers.sweeper:handler", {}))
    except ModuleNotFoundError:
        pass
    return found


def _child_env(redis_url: str, endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env.update(
        REDIS_URL=redis_url,
        MANAGEMENT_ENDPOINT=endpoint,
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        # Lambda puts the function role's credentials in these variables.
        AWS_ACCESS_KEY_ID="AKIDBENCHBENCHBENCH",
        AWS_SECRET_ACCESS_KEY="bench-secret",
        AWS_SESSION_TOKEN="bench-token",
        POWERTOOLS_SERVICE_NAME="pairchat",
        POWERTOOLS_METRICS_NAMESPACE="pairchat-bench",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def _run_child(target: str, event_path: str, env: dict[str, str]) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        out_path = out.name
    try:
        t = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, str(CHILD), target, event_path, out_path],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=60,
        )
        wall = (time.perf_counter() - t) * 1e3
        if proc.returncode != 0:
            raise RuntimeError(f"{target} failed:\n{proc.stderr.decode()[-3000:]}")
        result: dict[str, Any] = json.loads(Path(out_path).read_text())
        result["process_wall_ms"] = wall
        return result
    finally:
        os.unlink(out_path)


def _connect(redis_url: str, connection_id: str) -> None:
    """Opens a session for the connection the join and disconnect events come from."""
    from pairchat.bootstrap import redis_client
    from pairchat.domain.service import ChatService
    from pairchat.domain.store import ChatStore
    from pairchat.settings import Settings

    s = Settings.from_env({"REDIS_URL": redis_url})
    service = ChatService(ChatStore(redis_client(s), s), _NoNotifier(), s)
    service.connect(connection_id)


class _NoNotifier:
    def post(self, connection_id: str, frame: dict[str, Any]) -> bool:
        return True


def run(reps: int = 7) -> list[Metric]:
    metrics: list[Metric] = []
    with (
        private_redis() as url,
        management_stub() as endpoint,
        tempfile.TemporaryDirectory() as tmp,
    ):
        env = _child_env(url, endpoint)
        bare: list[float] = []
        handlers = _handlers()
        paths = {}
        for name, _target, ev in handlers:
            p = Path(tmp) / (name.replace(" ", "_") + ".json")
            p.write_text(json.dumps(ev))
            paths[name] = str(p)
        results: dict[str, list[dict[str, Any]]] = {name: [] for name, _t, _e in handlers}
        for rep in range(reps + 1):  # rep 0 warms the page cache and is dropped
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
            if rep:
                bare.append((time.perf_counter() - t) * 1e3)
            for name, target, _ev in handlers:
                redis.Redis.from_url(url).flushall()  # our private server
                for cid in ("cold-m", "cold-d"):
                    _connect(url, cid)
                r = _run_child(target, paths[name], env)
                if rep:
                    results[name].append(r)
        interp = median(bare)
        for name, _target, _ev in handlers:
            rs = results[name]
            cold = median([r["cold_ms"] for r in rs])
            metrics.append(
                Metric(
                    "coldstart",
                    f"cold start {name}",
                    cold,
                    "ms",
                    limit=TARGET_MS,
                    limit_name="ms target",
                    target="<= 1",
                    details={
                        "import_ms": median([r["import_ms"] for r in rs]),
                        "first_invocation_ms": median([r["first_invocation_ms"] for r in rs]),
                        "warm_invocation_ms": median([r["warm_invocation_ms"] for r in rs]),
                        "process_wall_ms": median([r["process_wall_ms"] for r in rs]),
                        "interpreter_startup_ms": interp,
                        "status": [r["status"] for r in rs],
                        "modules_loaded": rs[-1]["modules"],
                        "runs": rs,
                    },
                ).judge()
            )
        metrics.append(Metric("coldstart", "bare interpreter start (python -c pass)", interp, "ms"))
    return metrics


if __name__ == "__main__":
    ms = run()
    standalone(lambda: ms)
    for m in ms:
        if "import_ms" in m.details:
            d = m.details
            print(
                f"{m.name}: import {d['import_ms']:.0f} ms + first call "
                f"{d['first_invocation_ms']:.0f} ms; warm {d['warm_invocation_ms']:.1f} ms; "
                f"status {d['status'][0]}"
            )
