"""The ops API's response bodies. The CLI renders the same objects as tables."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class PoolInfo(BaseModel):
    pool: str
    prefix: str = Field(description="the pool's key prefix; its hash tag is its slot")
    slot: int = Field(description="the Redis Cluster slot of every key of the pool")
    node: str | None = Field(description="the primary serving that slot (cluster mode)")


class Health(BaseModel):
    status: Literal["ok", "down"]
    redis: bool
    latency_ms: float | None = Field(default=None, description="PING round trip from this process")
    redis_version: str | None = None
    scripts: dict[str, bool] = Field(
        default_factory=dict,
        description="Whether each Lua script is cached on the node owning pairchat's slot. "
        "Scripts load lazily (EVALSHA, then SCRIPT LOAD on NOSCRIPT), so false after a "
        "restart or failover is normal until the first call.",
    )
    scripts_loaded: bool = False
    nodes: int = Field(default=1, description="nodes holding the pools' slots, all checked")
    error: str | None = None


class Count(BaseModel):
    """A key count from a bounded SCAN: exact when the scan finished within its budget."""

    value: int
    exact: bool
    sampled_keys: int = Field(description="keys the SCAN visited for this answer")


class QueueLength(BaseModel):
    gender: str
    preference: str
    name: str
    length: int


class Percentiles(BaseModel):
    samples: int
    median_ms: float | None
    p90_ms: float | None


class Window(BaseModel):
    matches: int
    wait: Percentiles = Field(
        description="wait of every matched user; the joiner who found a waiter waited 0 ms"
    )
    waiter_wait: Percentiles = Field(description="wait of the users who waited in a queue")


class PoolSummary(BaseModel):
    """One pool's line in the totals."""

    pool: str
    users_waiting: int
    active_rooms: Count
    live_sessions: Count
    matches_last_minute: int
    matches_last_hour: int
    waiter_wait_last_hour: Percentiles
    shadowed: int = 0


class Stats(BaseModel):
    pool: str | None = Field(
        default=None, description="the pool these numbers are about; null: every pool"
    )
    time_ms: int = Field(description="Redis server time")
    queues: list[QueueLength]
    users_waiting: int = Field(description="entries in all queues (stale ones included)")
    active_rooms: Count
    live_sessions: Count
    last_minute: Window
    last_hour: Window
    shadowed: int = Field(default=0, description="users in the shadow pool now (GET /shadow)")
    pools: list[PoolSummary] = Field(
        default_factory=list, description="with every pool's totals: one line per pool"
    )


class MinutePoint(BaseModel):
    minute: int = Field(description="epoch minute (ms / 60000)")
    ts_ms: int
    matches: int
    wait: Percentiles
    waiter_wait: Percentiles
    depth: dict[str, int] | None = Field(
        default=None,
        description="each queue's length as the sweeper saw it in that minute (it samples "
        "once a run, every minute in AWS); null for a minute without a sample",
    )
    waiting: int | None = Field(default=None, description="the depth sample's total")


class Series(BaseModel):
    pool: str | None = Field(default=None, description="null: every pool")
    time_ms: int
    minutes: list[MinutePoint]


class Waiter(BaseModel):
    user_id: str
    position: int
    enqueued_ms: int
    waited_ms: int
    stale: bool = Field(description="the session is gone or no longer waits in this queue")


class QueuePage(BaseModel):
    pool: str
    gender: str
    preference: str
    name: str
    length: int
    offset: int
    limit: int
    next_offset: int | None
    waiters: list[Waiter]


class Member(BaseModel):
    user_id: str
    role: Literal["a", "b"] = Field(description="a: the waiter, b: the joiner")
    connection_id: str | None
    in_room: bool = Field(description="the member's session still points at this room")


class Room(BaseModel):
    pool: str
    room_id: str
    members: list[Member]
    created_ms: int | None
    age_ms: int | None
    ttl_s: int | None


class Session(BaseModel):
    connection_id: str | None
    connection_live: bool = Field(description="the connection key maps back to this user")
    gender: str | None
    preference: str | None
    since_ms: int | None
    ttl_ms: int | None
    room_id: str | None
    queue: str | None


class QueueEntry(BaseModel):
    name: str
    position: int
    enqueued_ms: int
    waited_ms: int


class User(BaseModel):
    pool: str = Field(description="the pool this view is about")
    user_id: str
    session: Session | None
    room: Room | None
    queue_entry: QueueEntry | None
    recent_partners: list[str]
    recent_partners_total: int
    recent_ttl_s: int | None
    blocked: int = Field(description="how many users this user blocked")
    other_pools: list[str] = Field(
        default_factory=list,
        description="other pools where this user id has state (a token user may be in several)",
    )


class Report(BaseModel):
    pool: str
    id: str
    reporter: str | None
    reported: str | None
    room_id: str | None
    reason: str | None
    ts: int | None


class Reports(BaseModel):
    total: int | None = Field(
        description="reports in the Redis stream when no durable store is configured; null "
        "with the store (DynamoDB does not count a table cheaply)"
    )
    reports: list[Report]
    next_before: str | None = Field(description="pass as ?before= for the next (older) page")
    pending: int = Field(
        default=0,
        description="accepted reports whose write to the durable store failed, waiting in "
        "Redis for the sweeper (not in this list until then); 0 without a store",
    )


class ShadowedUser(BaseModel):
    user_id: str
    until_ms: int = Field(description="when the cooldown ends (Redis time, ms)")
    remaining_ms: int
    reporters: int = Field(description="distinct reporters (by address) within the window")


class ShadowPage(BaseModel):
    pool: str
    total: int = Field(description="users shadowed in this pool now")
    offset: int
    limit: int
    next_offset: int | None
    users: list[ShadowedUser] = Field(description="the latest-flagged first")


class Lifted(BaseModel):
    user_id: str
    pools: list[str] = Field(description="the pools where the user's shadow flag was lifted")
