"""Configuration, read once per process into one frozen object.

Nothing else in the code base reads ``os.environ``: adapters build a :class:`Settings`
at cold start (``Settings.from_env()``) and pass it down, so tests construct their own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
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


def hash_tag(prefix: str) -> str | None:
    """The Redis Cluster hash tag a key prefix carries, as Redis computes it (first ``{...}``)."""
    start = prefix.find("{")
    if start < 0:
        return None
    end = prefix.find("}", start + 1)
    if end <= start + 1:
        return None
    return prefix[start + 1 : end]


@dataclass(frozen=True)
class Settings:
    """Everything configurable. Defaults are the product's defaults."""

    redis_url: str = "redis://127.0.0.1:6379/0"
    #: ElastiCache Serverless is always cluster mode; a cluster client follows MOVED redirects.
    redis_cluster: bool = False
    #: Goes before every key. With a hash tag (``{pairchat}:``) every key of a matching pool
    #: lands in one cluster slot, which is what lets one Lua script touch them all.
    key_prefix: str = "{pairchat}:"
    session_ttl_s: int = 60
    room_ttl_s: int = 600
    recent_ttl_s: int = 600
    max_text_chars: int = 4096
    #: How many queue entries per compatible queue one pairing call may inspect.
    #: Bounds the work of a join however deep the queues are.
    match_scan_window: int = 64
    #: How many times a joiner is re-paired when the partner it was given is found gone.
    rematch_attempts: int = 3
    #: ``https://{api}.execute-api.{region}.amazonaws.com/{stage}``; derived from the event
    #: when unset. ``pairchat dev`` points it at the local emulator.
    management_endpoint: str | None = None
    aws_region: str = "us-east-1"
    management_timeout_s: float = 3.0
    management_max_attempts: int = 3
    service_name: str = "pairchat"
    metrics_namespace: str = "pairchat"

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
        if self.max_text_chars < 1 or self.match_scan_window < 1:
            raise SettingsError("limits must be positive")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from environment variables (the Lambda configuration)."""
        env = os.environ if env is None else env
        defaults = cls()
        settings = cls(
            redis_url=env.get("REDIS_URL", defaults.redis_url),
            redis_cluster=_bool(env, "REDIS_CLUSTER", defaults.redis_cluster),
            key_prefix=env.get("KEY_PREFIX", defaults.key_prefix),
            session_ttl_s=_int(env, "SESSION_TTL_SECONDS", defaults.session_ttl_s),
            room_ttl_s=_int(env, "ROOM_TTL_SECONDS", defaults.room_ttl_s),
            recent_ttl_s=_int(env, "RECENT_TTL_SECONDS", defaults.recent_ttl_s),
            max_text_chars=_int(env, "MAX_MESSAGE_CHARS", defaults.max_text_chars),
            match_scan_window=_int(env, "MATCH_SCAN_WINDOW", defaults.match_scan_window),
            rematch_attempts=_int(env, "REMATCH_ATTEMPTS", defaults.rematch_attempts, 0),
            management_endpoint=env.get("MANAGEMENT_ENDPOINT") or None,
            aws_region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            service_name=env.get("POWERTOOLS_SERVICE_NAME", defaults.service_name),
            metrics_namespace=env.get("POWERTOOLS_METRICS_NAMESPACE", defaults.metrics_namespace),
        )
        return replace(settings, **overrides) if overrides else settings
