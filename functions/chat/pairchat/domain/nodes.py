"""Node-level commands in cluster mode: sent to the node that owns a pool's hash slot.

Kept free of pydantic and FastAPI so the sweeper needs nothing beyond the chat functions'
dependencies.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any


def as_text(value: Any) -> str:
    """A reply value as str, whether the client decodes responses or not."""
    return value.decode() if isinstance(value, bytes) else str(value)


class SlotNode:
    """Node-level commands, sent to the node that owns pairchat's hash slot.

    With a plain client that is the server itself; with a ``RedisCluster`` it is the
    primary serving the prefix's slot (looked up per call, so it follows a failover).
    """

    def __init__(self, client: Any, anchor_key: str) -> None:
        self.client = client
        self.anchor_key = anchor_key
        self.cluster = hasattr(client, "get_node_from_key")

    @property
    def name(self) -> str:
        """The node's name (``host:port``) in cluster mode; '' for a plain server."""
        if not self.cluster:
            return ""
        return str(self.client.get_node_from_key(self.anchor_key).name)

    def _target(self) -> dict[str, Any]:
        if not self.cluster:
            return {}
        return {"target_nodes": self.client.get_node_from_key(self.anchor_key)}

    def scan(self, cursor: int, count: int, match: str | None = None) -> tuple[int, list[str]]:
        result = self.client.scan(cursor=cursor, match=match, count=count, **self._target())
        next_cursor, keys = result
        if isinstance(next_cursor, dict):  # cluster: {node_name: cursor}
            next_cursor = next(iter(next_cursor.values()), 0)
        return int(next_cursor), [as_text(k) for k in keys]

    def dbsize(self) -> int:
        return int(self.client.dbsize(**self._target()))

    def time_ms(self) -> int:
        value = self.client.time(**self._target())
        if isinstance(value, dict):
            value = next(iter(value.values()))
        seconds, micros = value
        return int(seconds) * 1000 + int(micros) // 1000

    def ping_ms(self) -> float:
        start = time.perf_counter()
        self.client.ping(**self._target())
        return (time.perf_counter() - start) * 1000

    def script_exists(self, shas: Sequence[str]) -> list[bool]:
        if self.cluster:  # the cluster client's script_exists asks every primary
            reply = self.client.execute_command("SCRIPT EXISTS", *shas, **self._target())
        else:
            reply = self.client.script_exists(*shas)
        return [bool(x) for x in reply]

    def info_server(self) -> dict[str, Any]:
        info = self.client.info("server", **self._target())
        if self.cluster and info and all(isinstance(v, dict) for v in info.values()):
            info = next(iter(info.values()))
        return dict(info)
