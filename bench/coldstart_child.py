"""Runs in a fresh interpreter: import one Lambda handler, invoke it once, report the times.

Usage: python bench/coldstart_child.py <module:attr> <event.json> <out.json>
The clock starts when this file starts running (after the interpreter's own start-up, which
Lambda's runtime has already paid before it imports the handler) and covers the handler
module's imports plus the first invocation, which creates the Redis and Management API
clients and does one real round trip (and, for a join, one real post).
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import importlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402


class Context:
    function_name = "bench"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def main() -> None:
    target, event_path, out_path = sys.argv[1:4]
    with open(event_path) as f:
        event = json.load(f)
    module_name, attr = target.split(":")
    t = time.perf_counter()
    handler = getattr(importlib.import_module(module_name), attr)
    t_import = time.perf_counter()
    first = handler(event, Context())
    t_first = time.perf_counter()
    handler(event, Context())  # a warm invocation, for comparison
    t_warm = time.perf_counter()
    status = first.get("statusCode") if isinstance(first, dict) else None
    with open(out_path, "w") as f:
        json.dump(
            {
                "startup_to_here_ms": (t - T0) * 1e3,
                "import_ms": (t_import - t) * 1e3,
                "first_invocation_ms": (t_first - t_import) * 1e3,
                "cold_ms": (t_first - T0) * 1e3,
                "warm_invocation_ms": (t_warm - t_first) * 1e3,
                "status": status,
                "modules": len(sys.modules),
            },
            f,
        )


if __name__ == "__main__":
    main()
