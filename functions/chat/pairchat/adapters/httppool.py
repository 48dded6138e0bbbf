"""A small pool of keep-alive HTTP connections to one host, for the adapters that call AWS
over the standard library (the Management API, the reports table) instead of building a
boto3 client on the cold start (docs/performance.md: ~390 ms -> ~115 ms)."""

from __future__ import annotations

import threading
from typing import Any


class ConnectionPool:
    """Connections are taken out for one request and put back when the response was read
    whole; at most ``size`` are kept (the handler threads of one Lambda container share it)."""

    def __init__(self, host: str, https: bool, timeout_s: float, size: int) -> None:
        self.host = host
        self._https = https
        self._timeout = timeout_s
        self._size = size
        self._idle: list[Any] = []
        self._lock = threading.Lock()

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """One POST on a pooled connection: the status and the body. A connection the
        server will close, or one that failed mid-request, is not put back."""
        conn = self.checkout()
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            raw = response.read()
            status = int(response.status)
            reusable = not response.will_close
        except BaseException:
            conn.close()
            raise
        if reusable:
            self.checkin(conn)
        else:
            conn.close()
        return status, raw

    def checkout(self) -> Any:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        import http.client

        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        return cls(self.host, timeout=self._timeout)

    def checkin(self, conn: Any) -> None:
        with self._lock:
            if len(self._idle) < self._size:
                self._idle.append(conn)
                return
        conn.close()
