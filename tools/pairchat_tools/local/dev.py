"""``pairchat dev``: the whole product on one machine, with one command.

Over 400 lines on purpose: the command's options, banner, state file and shutdown are one
user-facing flow; the emulator itself lives in gateway.py and its sibling modules.

API Gateway emulator (WebSocket + Management API), Redis, the chat page, and the ops app
when it is installed. The handlers are the Lambda handlers template.yaml names, run with
the template's environment plus what only the local stack can know (Redis URL, the
emulator's own endpoint, dummy AWS credentials so botocore can sign).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import secrets
import signal
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import Any

from pairchat_tools import devstate
from pairchat_tools.devstate import redact
from pairchat_tools.local import logs
from pairchat_tools.local.dynamodb import PATH as DYNAMODB_PATH
from pairchat_tools.local.embedded_redis import (
    MODES,
    EmbeddedRedisError,
    RedisInfo,
    embedded_redis,
)
from pairchat_tools.local.guard import is_loopback_bind, loopback_hosts
from pairchat_tools.local.schedule import ScheduledSweeper
from pairchat_tools.local.template_wiring import Wiring, WiringError, default_template, read_wiring
from pairchat_tools.rlimit import raise_fd_limit

log = logging.getLogger("pairchat_tools.local.dev")

#: The local report store's table name (template.yaml's ReportsTable has a generated one).
LOCAL_REPORTS_TABLE = "pairchat-local-reports"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=3001, help="port; 0 picks a free one (default: %(default)s)"
    )
    parser.add_argument(
        "--template",
        type=Path,
        default=None,
        help="SAM template (default: the checkout's template.yaml)",
    )
    parser.add_argument(
        "--redis",
        choices=MODES,
        default="auto",
        help="auto: REDIS_URL, else a private Valkey (the engine ElastiCache runs), else a "
        "private redis-server; valkey/redis force one; server = redis (default: %(default)s)",
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=600.0,
        metavar="S",
        help="close connections idle this long (API Gateway: 600)",
    )
    parser.add_argument(
        "--max-lifetime",
        type=float,
        default=7200.0,
        metavar="S",
        help="close connections this old (API Gateway: 7200)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        metavar="N",
        help="worker processes that run the handlers, like Lambda containers; 0 runs them in "
        "the gateway's own thread pool (default: %(default)s)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=16,
        help="handler threads, in each worker process (default: %(default)s)",
    )
    parser.add_argument(
        "--throttle-rate",
        type=float,
        default=50.0,
        metavar="N",
        help="frames per second one connection may send before API Gateway's 'Too Many "
        "Requests' answer (a token bucket per connection; 0: no bucket; default: %(default)s)",
    )
    parser.add_argument(
        "--throttle-burst",
        type=int,
        default=100,
        metavar="N",
        help="frames one connection may send at once (the bucket's size; default: %(default)s)",
    )
    parser.add_argument(
        "--max-in-flight",
        type=int,
        default=10,
        metavar="N",
        help="invocations of one connection under way at once; more frames are throttled "
        "(0: no cap; default: %(default)s)",
    )
    parser.add_argument(
        "--switch-interval",
        type=float,
        default=None,
        metavar="S",
        help="Python's GIL switch interval (default 0.005); a smaller one lets the event loop "
        "win the GIL back from handler threads sooner (lower tail latency under load)",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=("debug", "info", "warning", "error"),
        help="gateway and handler log level (default: %(default)s: starts, refusals, errors; "
        "repeats of one event within 10 s fold into one line with a count)",
    )
    parser.add_argument(
        "--json-logs",
        action="store_true",
        help="print the handlers' logs as the Lambda functions write them in AWS (Powertools "
        "JSON, one object per record) instead of one readable line per event",
    )
    parser.add_argument(
        "--metrics",
        action="store_true",
        help="let the handlers print their EMF metrics (off locally)",
    )
    parser.add_argument("--no-ops", action="store_true", help="do not mount the ops app at /ops")
    parser.add_argument(
        "--reports-db",
        type=Path,
        default=None,
        metavar="PATH",
        help="SQLite file of the local report store (the DynamoDB table in AWS), kept after "
        "the stack stops; default: a file in the state directory, removed at stop like the "
        "private Redis",
    )
    parser.add_argument(
        "--sweep-every",
        type=float,
        default=60.0,
        metavar="S",
        help="run the sweeper every S seconds, as the template's schedule does in AWS (it "
        "cleans what lost $disconnects leave and samples queue depth for the dashboard); "
        "0: never (default: %(default)s)",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra or overriding handler environment (repeatable), e.g. --env AUTH_MODE=optional",
    )


def handler_environment(
    wiring: Wiring,
    redis_url: str,
    endpoint: str,
    *,
    concurrency: int,
    region: str,
    log_level: str,
    metrics: bool,
    extra: Mapping[str, str],
) -> tuple[dict[str, str], list[str]]:
    """The handlers' environment: the template's, then what only the local stack knows.

    Returns it and the names the template sets to deploy-time values nobody supplied.
    """
    template_env, conflicts = wiring.environment()
    for name in conflicts:
        log.warning("functions disagree on %s; one process hosts them all: using one value", name)
    env = {k: v for k, v in template_env.items() if v is not None}
    env.update(
        {
            "REDIS_URL": redis_url,
            "REDIS_CLUSTER": "false",
            "MANAGEMENT_ENDPOINT": endpoint,
            # One Management API client serves every handler thread: one pooled keep-alive
            # connection each, or urllib3 discards and reopens connections under load.
            "MANAGEMENT_MAX_POOL_CONNECTIONS": str(concurrency),
            "AWS_ACCESS_KEY_ID": "pairchat-local",
            "AWS_SECRET_ACCESS_KEY": "pairchat-local",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_EC2_METADATA_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": log_level.upper(),
            "POWERTOOLS_METRICS_DISABLED": "false" if metrics else "true",
            # Keys the aliases strangers see (the template uses the stack's id): one per run,
            # shared by every worker process so `matched` and `pong` agree.
            "ALIAS_SECRET": secrets.token_hex(16),
            # Direct connections are on locally (the template's default is off): two pages on
            # one machine connect over host candidates, no STUN or TURN needed, and each
            # user still consents in the page. --env RTC_ENABLED=false turns them off.
            "RTC_ENABLED": "true",
            # The report store: this stack's DynamoDB-compatible endpoint (local/dynamodb.py)
            # instead of the template's table, so the handlers' code is the Lambda code.
            "REPORTS_TABLE": LOCAL_REPORTS_TABLE,
            "DYNAMODB_ENDPOINT": f"{endpoint}{DYNAMODB_PATH}",
        }
    )
    env.update(extra)
    missing = sorted(k for k, v in template_env.items() if v is None and k not in env)
    return env, missing


def _parse_env(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"--env expects NAME=VALUE, got {pair!r}")
        out[name] = value
    return out


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SystemExit(f"cannot listen on {host}:{port}: {exc.strerror} (try --port 0)") from None
    sock.listen(4096)
    sock.setblocking(False)
    return sock


def _ops_app(skip: bool) -> Any:
    """The ops FastAPI app, when that part of the product is installed."""
    if skip:
        return None
    try:
        module = importlib.import_module("pairchat_ops.api")
    except ModuleNotFoundError as exc:
        if exc.name in ("pairchat_ops", "pairchat_ops.api", "fastapi"):
            return None
        log.warning("ops app not mounted: %s", exc)
        return None
    except Exception as exc:  # a broken ops module must not take the chat down
        log.warning("ops app not mounted: %s: %s", type(exc).__name__, exc)
        return None
    return getattr(module, "app", None)


def _banner(
    url_host: str,
    port: int,
    redis: RedisInfo,
    wiring: Wiring,
    ops: bool,
    pools: tuple[str, ...],
    state: Path | str,
    reports: Path | None = None,
) -> str:
    base = f"http://{url_host}:{port}"
    lines = [
        "",
        "pairchat dev is running",
        f"  Chat page       {base}/",
        f"  WebSocket       ws://{url_host}:{port}/ws",
        f"  Management API  {base}/@connections/{{connectionId}}",
    ]
    if ops:
        lines.append(f"  Ops dashboard   {base}/ops/  (ops API: {base}/ops/docs)")
    lines += [
        f"  Redis           {redact(redis.description)}",
        f"  Wiring          {len(wiring.routes)} routes"
        + (" and the $connect authorizer" if wiring.authorizer else "")
        + f" from {wiring.template}",
        f"  Pools           {', '.join(pools)} (?pool=<name> on the WebSocket URL)",
        f"  State file      {state} (pairchat inspect, sweep and bots read it)",
    ]
    if reports is not None:
        lines.append(
            f"  Reports         {reports} (the report store: DynamoDB API at /_aws/dynamodb)"
        )
    lines += [
        "  Press Ctrl-C to stop.",
        "",
    ]
    return "\n".join(lines)


class _Terminate(Exception):
    pass


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _Terminate


def _say(text: str) -> None:
    """A progress line before the banner (stderr, like the logs)."""
    print(f"pairchat dev: {text}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    level = getattr(logging, args.log_level.upper())
    logs.configure(level, json_logs=args.json_logs)
    template = args.template or default_template()
    try:
        wiring = read_wiring(template)
    except (OSError, WiringError) as exc:
        print(f"pairchat dev: {exc}", file=sys.stderr)
        return 2
    extra = _parse_env(args.env)
    # Beyond loopback, the Management API takes only requests signed with a per-run secret,
    # which the handlers get as their AWS secret key (local/guard.py); the banner prints it.
    secret = None if is_loopback_bind(args.host) else secrets.token_urlsafe(24)
    if secret is not None:
        extra = {"AWS_SECRET_ACCESS_KEY": secret, **extra}
        log.warning(
            "listening on %s: every Host name is answered, and the chat page and /ops are "
            "open to whoever reaches this port; the Management API needs the secret below",
            args.host,
        )
    raise_fd_limit(65536)
    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval)
    sock = _bind(args.host, args.port)
    port = int(sock.getsockname()[1])
    url_host = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host
    url_host = f"[{url_host}]" if ":" in url_host and url_host != "::" else url_host
    if args.host == "::":
        url_host = "[::1]"
    endpoint = f"http://{url_host}:{port}"
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    # A SIGTERM gets the same orderly shutdown as Ctrl-C (uvicorn re-raises it once done).
    signal.signal(signal.SIGTERM, _on_sigterm)
    started = False
    try:
        _say(f"starting the Redis-protocol server (--redis {args.redis})...")
        with embedded_redis(os.environ, args.redis) as redis:
            env, missing = handler_environment(
                wiring,
                redis.url,
                endpoint,
                concurrency=args.concurrency,
                region=region,
                log_level=args.log_level,
                metrics=args.metrics,
                extra=extra,
            )
            if missing:
                log.warning("template variables with no local value: %s", ", ".join(missing))
            os.environ.pop("AWS_SESSION_TOKEN", None)
            os.environ.pop("AWS_PROFILE", None)
            # Before the first handler import: modules read their configuration at cold start.
            os.environ.update(env)
            keys = (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) if secret else None
            started = True
            return _serve(args, wiring, sock, port, url_host, redis, keys)
    except EmbeddedRedisError as exc:
        print(f"pairchat dev: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, _Terminate):
        return 0
    finally:
        with contextlib.suppress(OSError):
            sock.close()
        if started:
            print("pairchat dev stopped: connections closed, workers and Redis shut down")


def stack_record(
    url_host: str, port: int, redis: RedisInfo, ops: bool, env: Mapping[str, str]
) -> devstate.DevStack:
    """What the state file says about this stack (see :mod:`pairchat_tools.devstate`)."""
    from pairchat.settings import Settings, SettingsError

    try:
        settings = Settings.from_env(env)
    except SettingsError:
        settings = Settings()
    base = f"http://{url_host}:{port}"
    return devstate.DevStack(
        pid=os.getpid(),
        redis_url=redis.url,
        redis_description=redis.description,
        key_prefix=settings.key_prefix,
        chat_url=f"{base}/",
        ws_url=f"ws://{url_host}:{port}/ws",
        management_endpoint=base,
        ops_url=f"{base}/ops/" if ops else None,
        rate_joins=settings.rate_joins,
        rate_messages=settings.rate_messages,
        rate_window_s=settings.rate_window_s,
        reports_table=settings.reports_table,
        dynamodb_endpoint=settings.dynamodb_endpoint,
    )


def _serve(
    args: argparse.Namespace,
    wiring: Wiring,
    sock: socket.socket,
    port: int,
    url_host: str,
    redis: RedisInfo,
    keys: tuple[str, str] | None = None,
) -> int:
    import uvicorn

    from pairchat.domain.protocol import MAX_FRAME_BYTES
    from pairchat.settings import Settings, SettingsError
    from pairchat_tools.local.gateway import Gateway, GatewayOptions
    from pairchat_tools.local.throttle import ThrottleLimits
    from pairchat_tools.local.ws_protocol import WebSocketProtocol

    try:  # what the handlers will read: refuse a bad POOLS before serving anything
        pools = Settings.from_env().pools
    except SettingsError as exc:
        print(f"pairchat dev: {exc}", file=sys.stderr)
        return 2
    ops = _ops_app(args.no_ops)
    record = stack_record(url_host, port, redis, ops is not None, os.environ)
    store = _report_store(args.reports_db, keys)
    state_path: Path | None = None

    sweeper = ScheduledSweeper(args.sweep_every) if args.sweep_every > 0 else None

    def ready() -> None:
        nonlocal state_path
        if sweeper is not None:
            sweeper.start()
        try:
            state_path = devstate.write(record)
            where: Path | str = state_path
        except OSError as exc:
            where = f"not recorded: {exc}"
            log.warning("could not write the state file the CLI reads: %s", exc)
        reports = store.tables.path if store is not None else None
        banner = _banner(url_host, port, redis, wiring, ops is not None, pools, where, reports)
        if keys is not None:  # bound beyond loopback: how to sign Management API requests
            key = f"  Management key  SigV4, access key {keys[0]}, secret {keys[1]} (this run only)"
            banner = f"{banner.rstrip()}\n{key}\n"
        print(banner, flush=True)

    if args.workers > 0:
        _say(f"starting {args.workers} handler worker processes (each imports the handlers)...")
    gateway = Gateway(
        wiring,
        GatewayOptions(
            idle_timeout_s=args.idle_timeout,
            max_lifetime_s=args.max_lifetime,
            concurrency=args.concurrency,
            workers=max(0, args.workers),
            log_level=getattr(logging, args.log_level.upper()),
            ops_app=ops,
            region=os.environ["AWS_REGION"],
            allowed_hosts=loopback_hosts(port) if is_loopback_bind(args.host) else None,
            management_credentials=keys,
            throttle=ThrottleLimits(
                max(0.0, args.throttle_rate),
                max(1, args.throttle_burst),
                max(0, args.max_in_flight),
            ),
            pools=pools,
            dynamodb=store,
        ),
        on_ready=ready,
    )
    logs.adopt_handler_loggers()  # --workers 0: the handlers run in this process
    config = uvicorn.Config(
        gateway,
        loop="auto",  # uvloop when installed
        http="auto",  # httptools when installed
        ws=WebSocketProtocol,  # websockets-sansio, answering handshakes it cannot parse
        # API Gateway's frame limit: a larger message closes the socket with 1009.
        ws_max_size=MAX_FRAME_BYTES,
        # API Gateway neither compresses nor pings; mirror it (and save the CPU).
        ws_per_message_deflate=False,
        ws_ping_interval=None,
        lifespan="on",
        access_log=False,
        log_level="warning",
        proxy_headers=False,
        server_header=False,
        date_header=False,
        # botocore keeps its connections to the Management API open between posts.
        timeout_keep_alive=120,
        timeout_graceful_shutdown=5,
        backlog=4096,
    )
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        if sweeper is not None and sweeper.is_alive():
            sweeper.stop()
        # Before Redis stops: a CLI that reads the file then must not find a dying stack.
        devstate.remove(state_path)
        if store is not None:
            store.tables.close()
            if args.reports_db is None:  # this run's own file, as private as its Redis
                devstate.remove(store.tables.path)
    return 0 if server.started else 1


def _report_store(path: Path | None, keys: tuple[str, str] | None) -> Any:
    """The local report store the handlers' ``REPORTS_TABLE`` names, in a SQLite file
    (``--reports-db``, else this run's own file in the state directory); None when the
    handlers were configured without a table (``--env REPORTS_TABLE=``)."""
    from pairchat_tools.local.dynamodb import DynamoDbEndpoint, ReportTables

    table = os.environ.get("REPORTS_TABLE")
    if not table:
        return None
    if path is None:
        directory = devstate.state_dir()
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = directory / f"reports-{os.getpid()}.sqlite3"
    return DynamoDbEndpoint(ReportTables(path, [table]), keys)
