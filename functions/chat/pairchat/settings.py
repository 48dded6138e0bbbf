"""Configuration, read once per process into one frozen object.

Over 400 lines on purpose: one frozen object for every setting is the point (one place to
read what can be configured); most lines are one documented field each.

Nothing else in the code base reads ``os.environ``: adapters build a :class:`Settings`
at cold start (``Settings.from_env()``) and pass it down, so tests construct their own.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any


class SettingsError(ValueError):
    """A configuration value is missing or malformed."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc
    if value < minimum:
        raise SettingsError(f"{name} must be >= {minimum}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = env.get(name) or ""
    return tuple(item.strip() for item in raw.split(",") if item.strip())


AUTH_MODES = ("anonymous", "optional", "required")
TEXT_FILTER_MODES = ("off", "mask", "block")
#: Entries of the library's English list that are everyday words in a chat ("this sucks",
#: "what's your sex?", "big black dog"): not filtered unless TEXT_FILTER_ALLOW says otherwise.
DEFAULT_TEXT_FILTER_ALLOW = ("sex", "suck", "sucks", "butt", "bs", "escort", "big black")
ICE_SCHEMES = ("stun:", "stuns:", "turn:", "turns:")
ICE_SERVER_FIELDS = {"urls", "username", "credential"}


def parse_ice_servers(raw: str) -> list[dict[str, Any]]:
    """``ICE_SERVERS`` as the browser's ``RTCConfiguration.iceServers`` wants it, checked here
    so that a typo fails the cold start instead of every direct connection. ``urls`` is
    normalised to a list."""
    try:
        value = json.loads(raw or "[]")
    except ValueError as exc:
        raise SettingsError(f"ICE_SERVERS must be JSON: {exc}") from None
    if not isinstance(value, list):
        raise SettingsError("ICE_SERVERS must be a JSON array of {urls, username, credential}")
    servers: list[dict[str, Any]] = []
    for server in value:
        if not isinstance(server, dict) or not set(server) <= ICE_SERVER_FIELDS:
            raise SettingsError(f"ICE_SERVERS entries take only {sorted(ICE_SERVER_FIELDS)}")
        urls = server.get("urls")
        urls = [urls] if isinstance(urls, str) else urls
        if not isinstance(urls, list) or not urls:
            raise SettingsError("every ICE_SERVERS entry needs urls")
        for url in urls:
            if not isinstance(url, str) or not url.startswith(ICE_SCHEMES):
                raise SettingsError(f"ICE server URLs start with stun:, turn: ..., got {url!r}")
        for name in ("username", "credential"):
            if name in server and not isinstance(server[name], str):
                raise SettingsError(f"ICE_SERVERS {name} must be a string")
        servers.append({**server, "urls": urls})
    return servers


#: A pool's name goes into its keys' hash tag and into the ``$connect`` query: short and plain.
POOL_NAME = re.compile(r"[a-z0-9-]{1,32}")
#: The pool of a deployment that configures none; its keys keep ``KEY_PREFIX`` unchanged.
DEFAULT_POOL = "default"
#: Each pool costs the sweeper one bounded pass per run and the ops totals one read per pool,
#: and multiplies the per-pool metrics (docs/operations.md): a ceiling keeps those bounded.
MAX_POOLS = 64


def hash_tag(prefix: str) -> str | None:
    """The Redis Cluster hash tag a key prefix carries, as Redis computes it (first ``{...}``)."""
    start = prefix.find("{")
    if start < 0:
        return None
    end = prefix.find("}", start + 1)
    if end <= start + 1:
        return None
    return prefix[start + 1 : end]


def pool_prefix(key_prefix: str, pool: str) -> str:
    """The key prefix of one pool: ``:<pool>:<mix>`` appended inside the hash tag, so every
    pool is its own cluster slot (``{pairchat}:`` -> ``{pairchat:en:dbd3}:``). The ``default``
    pool keeps ``key_prefix`` unchanged, so a deployment that adds pools keeps the keys it has.

    ``<mix>`` is the first 4 hex digits of the name's SHA-256. Redis picks a slot with CRC16,
    which is linear: names that differ in a few low bits of their last letters (``en``,
    ``es``, ``de``, ``fr``, ``it``, ``pt-br``) get slots that differ in the same few places,
    and with the bare name all six land in slots 7432..9573, one node of three. The mix makes
    each pool's slot independent of its spelling (docs/redis.md, "Pools")."""
    if pool == DEFAULT_POOL:
        return key_prefix
    start = key_prefix.find("{")
    end = key_prefix.find("}", start + 1) if start >= 0 else -1
    if start < 0 or end <= start + 1:
        raise SettingsError(f"pool {pool!r} needs a KEY_PREFIX with a hash tag")
    mix = hashlib.sha256(pool.encode()).hexdigest()[:4]
    return f"{key_prefix[:end]}:{pool}:{mix}{key_prefix[end:]}"


def _pools(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = env.get("POOLS")
    if raw is None or not raw.strip():
        return (DEFAULT_POOL,)
    return tuple(item.strip() for item in raw.split(","))


@dataclass(frozen=True)
class Settings:
    """Everything configurable. Defaults are the product's defaults."""

    redis_url: str = "redis://127.0.0.1:6379/0"
    #: ElastiCache Serverless is always cluster mode; a cluster client follows MOVED redirects.
    redis_cluster: bool = False
    #: Goes before every key. With a hash tag (``{pairchat}:``) every key of a matching pool
    #: lands in one cluster slot, which is what lets one Lua script touch them all. Each pool
    #: derives its own prefix from it (:func:`pool_prefix`).
    key_prefix: str = "{pairchat}:"
    #: The matching pools (e.g. languages). Users of different pools never meet; each pool is
    #: its own hash tag, so a cluster spreads pools over shards. The first is where a client
    #: that names none goes.
    pools: tuple[str, ...] = (DEFAULT_POOL,)
    session_ttl_s: int = 60
    room_ttl_s: int = 600
    recent_ttl_s: int = 600
    max_text_chars: int = 4096
    #: How many queue entries per compatible queue one pairing call may inspect.
    #: Bounds the work of a join however deep the queues are; 8 keeps a join into queues
    #: headed by recent partners within 1.2x of an empty-queue join (docs/performance.md).
    #: A larger window skips more ineligible waiters before queueing the joiner instead.
    match_scan_window: int = 8
    #: A user with interests and ``fallback`` may be paired with anyone compatible this long
    #: after joining, when nobody sharing an interest came (docs/protocol.md). 0: at once.
    match_relax_s: int = 10
    #: How many times a joiner is re-paired when the partner it was given is found gone.
    rematch_attempts: int = 3
    #: ``https://{api}.execute-api.{region}.amazonaws.com/{stage}``; derived from the event
    #: when unset. ``pairchat dev`` points it at the local emulator.
    management_endpoint: str | None = None
    aws_region: str = "us-east-1"
    management_timeout_s: float = 3.0
    management_max_attempts: int = 3
    #: HTTP connections the Management API client keeps open (botocore's default is 10).
    #: One Lambda invocation posts from one thread; ``pairchat dev`` runs many threads.
    management_max_pool_connections: int = 10
    #: ``http``: the handlers sign Management API requests themselves (no boto3 import on
    #: the cold start, docs/performance.md); ``boto3``: a boto3 client (what moto intercepts).
    management_transport: str = "http"
    #: The function role's credentials, which Lambda puts in the environment. None:
    #: botocore's credential chain, looked up on the first post.
    aws_access_key_id: str | None = field(default=None, repr=False)
    aws_secret_access_key: str | None = field(default=None, repr=False)
    aws_session_token: str | None = field(default=None, repr=False)
    service_name: str = "pairchat"
    metrics_namespace: str = "pairchat"
    #: ``anonymous``: server-generated ids, tokens ignored; ``optional``: a token, when given,
    #: must verify (its ``sub`` is the user id), else anonymous; ``required``: no token, 401.
    auth_mode: str = "anonymous"
    #: Where the HS256 secret lives: an SSM parameter name (SecureString) or a Secrets
    #: Manager secret id. Fetched once per cold start. Or an issuer's JWKS URL (RS256/ES256).
    auth_secret_parameter: str | None = None
    auth_secret_id: str | None = None
    auth_jwks_url: str | None = None
    #: The secret itself, for the local stack and tests only (never put it in a template).
    auth_secret: str | None = field(default=None, repr=False)
    auth_issuer: str | None = None
    auth_audience: str | None = None
    #: Keys the per-room aliases strangers see instead of user ids (domain/identity.py).
    #: Required with tokens unless AUTH_SECRET is set (a token id is a digest of the subject:
    #: without a secret key an alias could be checked against guessed subjects).
    alias_secret: str | None = field(default=None, repr=False)
    #: Browser origins allowed to open a socket (exact ``scheme://host[:port]``, or ``*``).
    #: Empty means any. A request without an Origin header is not a browser: allowed.
    allowed_origins: tuple[str, ...] = ()
    #: Per-user limits over a sliding window; 0 disables a limit.
    rate_window_s: int = 60
    rate_joins: int = 20
    rate_messages: int = 60
    #: ``leave`` and ``block`` per user and window.
    rate_leaves: int = 30
    rate_blocks: int = 10
    #: Per client address (``ConnectionContext.source``) and window: every new socket is a new
    #: anonymous user, so per-user limits alone let one reconnecting process do anything.
    #: Loose enough for a household or a campus NAT of dozens of people (docs/security.md).
    rate_connects_per_source: int = 120
    rate_joins_per_source: int = 300
    #: Heartbeats: a token bucket per user of this many tokens, one more every
    #: ``heartbeat_refill_ms`` (a page heartbeats every few seconds at most).
    heartbeat_burst: int = 10
    heartbeat_refill_ms: int = 2000
    #: How long a token user who lost its socket keeps its room (0: no grace).
    reconnect_grace_s: int = 20
    #: How long a block holds (the blocker's set of blocked users).
    block_ttl_s: int = 30 * 24 * 3600
    max_report_chars: int = 500
    #: ``mask`` (listed words become asterisks), ``block`` (the message is refused with
    #: ``text_refused``) or ``off``. Nothing the filter sees is logged or stored.
    text_filter: str = "mask"
    #: Word lists of the glin-profanity package to load (its file names without .json).
    text_filter_languages: tuple[str, ...] = ("english",)
    #: The operator's own words and phrases, and a file of them (one per line).
    text_filter_words: tuple[str, ...] = ()
    text_filter_words_file: str | None = None
    #: Listed entries not to filter (replaces the default when the variable is set).
    text_filter_allow: tuple[str, ...] = DEFAULT_TEXT_FILTER_ALLOW
    #: The Redis stream of reports not yet in the durable store (a failed write waits there
    #: for the sweeper; with no store configured it is the only copy) is capped near this.
    reports_max: int = 100_000
    # -- reports: durable store, quotas, shadow pool (docs/security.md, issue 13 item 5) ------
    #: The DynamoDB table accepted reports are written to (template.yaml's ReportsTable).
    #: None: reports stay in the capped Redis stream only (tests; never in the template).
    reports_table: str | None = None
    #: The DynamoDB endpoint; None: AWS's for the region. ``pairchat dev`` points it at its
    #: own DynamoDB-compatible endpoint (tools/pairchat_tools/local/dynamodb.py).
    dynamodb_endpoint: str | None = None
    #: Each report item carries an ``expires`` attribute (the table's TTL) this many days
    #: after it was filed; 0: kept until deleted.
    reports_retention_days: int = 180
    #: Reports accepted per reporter (user id) per hour, and per client address (every user
    #: behind it together) per hour; 0 disables one. Refused: ``rate_limited``.
    reports_per_user_hour: int = 5
    reports_per_source_hour: int = 20
    #: A report about a room younger than this is refused (``too_soon``); 0: no minimum.
    report_min_room_age_s: int = 5
    #: A user reported by this many distinct reporters (counted by address) within
    #: ``shadow_window_s`` is shadowed for ``shadow_cooldown_s``: matched only with other
    #: shadowed users, without being told. 0 reporters: never.
    shadow_reporters: int = 3
    shadow_window_s: int = 3600
    shadow_cooldown_s: int = 86400
    # -- direct connections (WebRTC, docs/security.md): off unless an operator allows them --
    #: Offer the page a direct (peer-to-peer) connection after a match: ``matched`` then
    #: carries the ICE configuration. Each user still has to consent in the page.
    rtc_enabled: bool = False
    #: Force ``iceTransportPolicy: relay``: media and text go through the operator's TURN
    #: server, so neither stranger learns the other's IP address. Needs a TURN server.
    rtc_relay_only: bool = False
    #: ``RTCConfiguration.iceServers`` as JSON (STUN, and TURN with static credentials).
    ice_servers: str = field(default="[]", repr=False)
    #: TURN URLs (``turn:``/``turns:``) that get time-limited credentials from the shared
    #: secret (the TURN REST scheme coturn's ``use-auth-secret`` implements).
    turn_urls: tuple[str, ...] = ()
    #: The TURN shared secret itself, for the local stack and tests only; in AWS an SSM
    #: SecureString parameter name (fetched once per cold start).
    turn_secret: str | None = field(default=None, repr=False)
    turn_secret_parameter: str | None = None
    #: How long a TURN credential handed out in ``matched`` stays valid.
    turn_credential_ttl_s: int = 24 * 3600

    def __post_init__(self) -> None:
        if not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError("REDIS_URL must start with redis://, rediss:// or unix://")
        if self.redis_cluster and hash_tag(self.key_prefix) is None:
            raise SettingsError(
                "KEY_PREFIX must carry a hash tag such as '{pairchat}:' in cluster mode, "
                "so every key a script touches lives in one slot"
            )
        if self.key_prefix.count("{") > 1:
            raise SettingsError("KEY_PREFIX may carry at most one hash tag")
        self._check_pools()
        if self.max_text_chars < 1 or self.match_scan_window < 1:
            raise SettingsError("limits must be positive")
        if self.management_transport not in ("http", "boto3"):
            raise SettingsError("MANAGEMENT_TRANSPORT must be http or boto3")
        if self.auth_mode not in AUTH_MODES:
            raise SettingsError(f"AUTH_MODE must be one of {', '.join(AUTH_MODES)}")
        if self.auth_mode != "anonymous" and not (
            self.auth_secret
            or self.auth_secret_parameter
            or self.auth_secret_id
            or self.auth_jwks_url
        ):
            raise SettingsError(
                "AUTH_MODE optional/required needs AUTH_SECRET_PARAMETER, AUTH_SECRET_ID or "
                "AUTH_JWKS_URL"
            )
        if self.auth_mode != "anonymous" and not (self.alias_secret or self.auth_secret):
            raise SettingsError(
                "AUTH_MODE optional/required needs ALIAS_SECRET (it keys the aliases strangers "
                "see, so they cannot be tested against guessed token subjects)"
            )
        if self.text_filter not in TEXT_FILTER_MODES:
            raise SettingsError(f"TEXT_FILTER must be one of {', '.join(TEXT_FILTER_MODES)}")
        limits = (
            self.rate_joins,
            self.rate_messages,
            self.rate_leaves,
            self.rate_blocks,
            self.rate_connects_per_source,
            self.rate_joins_per_source,
            self.heartbeat_burst,
            self.reconnect_grace_s,
        )
        if min(limits) < 0 or self.heartbeat_refill_ms < 1:
            raise SettingsError(
                "rate limits and the reconnect grace must not be negative; "
                "HEARTBEAT_REFILL_MS must be positive"
            )
        self._check_reports()
        self._check_rtc()

    def _check_reports(self) -> None:
        """The quotas and the shadow pool's numbers (0 disables a quota or the pool)."""
        counts = (
            self.reports_per_user_hour,
            self.reports_per_source_hour,
            self.report_min_room_age_s,
            self.shadow_reporters,
            self.reports_retention_days,
        )
        if min(counts) < 0:
            raise SettingsError("report quotas, ages and counts must not be negative")
        if self.shadow_window_s < 1 or self.shadow_cooldown_s < 1:
            raise SettingsError("SHADOW_WINDOW_SECONDS and SHADOW_COOLDOWN_SECONDS must be >= 1")
        if self.report_min_room_age_s > self.recent_ttl_s:
            # report.lua learns an ended room's age from the recent-partner key's TTL, which
            # says nothing once the key has expired (lua/report.lua's header).
            raise SettingsError("REPORT_MIN_ROOM_AGE_SECONDS must not exceed RECENT_TTL_SECONDS")

    def _check_rtc(self) -> None:
        """ICE settings are checked at cold start, not when the first pair is announced."""
        servers = parse_ice_servers(self.ice_servers)
        for url in self.turn_urls:
            if not url.startswith(("turn:", "turns:")):
                raise SettingsError(f"TURN_URLS must be turn: or turns: URLs, got {url!r}")
        has_secret = bool(self.turn_secret or self.turn_secret_parameter)
        if bool(self.turn_urls) != has_secret:
            raise SettingsError(
                "TURN_URLS and a TURN secret (TURN_SECRET_PARAMETER, or TURN_SECRET locally) "
                "go together: the secret signs credentials for those URLs"
            )
        turn_in_servers = any(
            url.startswith(("turn:", "turns:")) for server in servers for url in server["urls"]
        )
        if self.rtc_enabled and self.rtc_relay_only and not (self.turn_urls or turn_in_servers):
            raise SettingsError(
                "RTC_RELAY_ONLY needs a TURN server (TURN_URLS with a secret, or a turn: URL in "
                "ICE_SERVERS): relay-only ICE cannot connect without one"
            )

    @cached_property
    def alias_key(self) -> str:
        """The key of :func:`pairchat.domain.identity.partner_alias`: ALIAS_SECRET, else one
        derived from AUTH_SECRET (never the token secret itself), else '' (anonymous mode:
        every id is a random uuid, so the room id alone makes aliases unlinkable)."""
        if self.alias_secret:
            return self.alias_secret
        if self.auth_secret:
            return hmac.new(self.auth_secret.encode(), b"pairchat alias", "sha256").hexdigest()
        return ""

    def _check_pools(self) -> None:
        if not self.pools:
            raise SettingsError("POOLS must name at least one pool")
        if len(self.pools) > MAX_POOLS:
            raise SettingsError(f"POOLS may name at most {MAX_POOLS} pools")
        for name in self.pools:
            if not POOL_NAME.fullmatch(name):
                raise SettingsError(f"POOLS: {name!r} is not 1 to 32 of a-z, 0-9 and '-'")
        if len(set(self.pools)) != len(self.pools):
            raise SettingsError("POOLS names a pool twice")
        for name in self.pools:
            pool_prefix(self.key_prefix, name)  # raises when the prefix has no hash tag

    @property
    def default_pool(self) -> str:
        """Where a connection that names no pool goes."""
        return self.pools[0]

    def prefix_for(self, pool: str | None = None) -> str:
        """The key prefix of ``pool`` (None: the first pool)."""
        return pool_prefix(self.key_prefix, pool or self.default_pool)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from environment variables (the Lambda configuration)."""
        env = os.environ if env is None else env
        defaults = cls()
        settings = cls(
            redis_url=env.get("REDIS_URL", defaults.redis_url),
            redis_cluster=_bool(env, "REDIS_CLUSTER", defaults.redis_cluster),
            key_prefix=env.get("KEY_PREFIX", defaults.key_prefix),
            pools=_pools(env),
            session_ttl_s=_int(env, "SESSION_TTL_SECONDS", defaults.session_ttl_s),
            room_ttl_s=_int(env, "ROOM_TTL_SECONDS", defaults.room_ttl_s),
            recent_ttl_s=_int(env, "RECENT_TTL_SECONDS", defaults.recent_ttl_s),
            max_text_chars=_int(env, "MAX_MESSAGE_CHARS", defaults.max_text_chars),
            match_scan_window=_int(env, "MATCH_SCAN_WINDOW", defaults.match_scan_window),
            match_relax_s=_int(env, "MATCH_RELAX_SECONDS", defaults.match_relax_s, 0),
            rematch_attempts=_int(env, "REMATCH_ATTEMPTS", defaults.rematch_attempts, 0),
            management_endpoint=env.get("MANAGEMENT_ENDPOINT") or None,
            aws_region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            management_max_pool_connections=_int(
                env, "MANAGEMENT_MAX_POOL_CONNECTIONS", defaults.management_max_pool_connections
            ),
            management_transport=env.get("MANAGEMENT_TRANSPORT") or defaults.management_transport,
            aws_access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
            aws_session_token=env.get("AWS_SESSION_TOKEN") or None,
            service_name=env.get("POWERTOOLS_SERVICE_NAME", defaults.service_name),
            metrics_namespace=env.get("POWERTOOLS_METRICS_NAMESPACE", defaults.metrics_namespace),
            auth_mode=env.get("AUTH_MODE") or defaults.auth_mode,
            auth_secret_parameter=env.get("AUTH_SECRET_PARAMETER") or None,
            auth_secret_id=env.get("AUTH_SECRET_ID") or None,
            auth_jwks_url=env.get("AUTH_JWKS_URL") or None,
            auth_secret=env.get("AUTH_SECRET") or None,
            auth_issuer=env.get("AUTH_ISSUER") or None,
            auth_audience=env.get("AUTH_AUDIENCE") or None,
            alias_secret=env.get("ALIAS_SECRET") or None,
            allowed_origins=_list(env, "ALLOWED_ORIGINS"),
            rate_window_s=_int(env, "RATE_WINDOW_SECONDS", defaults.rate_window_s),
            rate_joins=_int(env, "RATE_JOINS_PER_WINDOW", defaults.rate_joins, 0),
            rate_messages=_int(env, "RATE_MESSAGES_PER_WINDOW", defaults.rate_messages, 0),
            rate_leaves=_int(env, "RATE_LEAVES_PER_WINDOW", defaults.rate_leaves, 0),
            rate_blocks=_int(env, "RATE_BLOCKS_PER_WINDOW", defaults.rate_blocks, 0),
            rate_connects_per_source=_int(
                env, "RATE_CONNECTS_PER_SOURCE", defaults.rate_connects_per_source, 0
            ),
            rate_joins_per_source=_int(
                env, "RATE_JOINS_PER_SOURCE", defaults.rate_joins_per_source, 0
            ),
            heartbeat_burst=_int(env, "HEARTBEAT_BURST", defaults.heartbeat_burst, 0),
            heartbeat_refill_ms=_int(env, "HEARTBEAT_REFILL_MS", defaults.heartbeat_refill_ms),
            reconnect_grace_s=_int(env, "RECONNECT_GRACE_SECONDS", defaults.reconnect_grace_s, 0),
            block_ttl_s=_int(env, "BLOCK_TTL_SECONDS", defaults.block_ttl_s),
            max_report_chars=_int(env, "MAX_REPORT_CHARS", defaults.max_report_chars),
            text_filter=env.get("TEXT_FILTER") or defaults.text_filter,
            text_filter_languages=(
                _list(env, "TEXT_FILTER_LANGUAGES")
                if "TEXT_FILTER_LANGUAGES" in env
                else defaults.text_filter_languages
            ),
            text_filter_words=_list(env, "TEXT_FILTER_WORDS"),
            text_filter_words_file=env.get("TEXT_FILTER_WORDS_FILE") or None,
            text_filter_allow=(
                _list(env, "TEXT_FILTER_ALLOW")
                if "TEXT_FILTER_ALLOW" in env
                else defaults.text_filter_allow
            ),
            reports_max=_int(env, "REPORTS_MAX", defaults.reports_max),
            reports_table=env.get("REPORTS_TABLE") or None,
            dynamodb_endpoint=env.get("DYNAMODB_ENDPOINT") or None,
            reports_retention_days=_int(
                env, "REPORTS_RETENTION_DAYS", defaults.reports_retention_days, 0
            ),
            reports_per_user_hour=_int(
                env, "REPORTS_PER_USER_PER_HOUR", defaults.reports_per_user_hour, 0
            ),
            reports_per_source_hour=_int(
                env, "REPORTS_PER_SOURCE_PER_HOUR", defaults.reports_per_source_hour, 0
            ),
            report_min_room_age_s=_int(
                env, "REPORT_MIN_ROOM_AGE_SECONDS", defaults.report_min_room_age_s, 0
            ),
            shadow_reporters=_int(env, "SHADOW_REPORTERS", defaults.shadow_reporters, 0),
            shadow_window_s=_int(env, "SHADOW_WINDOW_SECONDS", defaults.shadow_window_s),
            shadow_cooldown_s=_int(env, "SHADOW_COOLDOWN_SECONDS", defaults.shadow_cooldown_s),
            rtc_enabled=_bool(env, "RTC_ENABLED", defaults.rtc_enabled),
            rtc_relay_only=_bool(env, "RTC_RELAY_ONLY", defaults.rtc_relay_only),
            ice_servers=env.get("ICE_SERVERS") or defaults.ice_servers,
            turn_urls=_list(env, "TURN_URLS"),
            turn_secret=env.get("TURN_SECRET") or None,
            turn_secret_parameter=env.get("TURN_SECRET_PARAMETER") or None,
            turn_credential_ttl_s=_int(
                env, "TURN_CREDENTIAL_TTL_SECONDS", defaults.turn_credential_ttl_s, 60
            ),
        )
        return replace(settings, **overrides) if overrides else settings
