"""Open-file limits: every WebSocket is a file descriptor on both ends of a load test."""

from __future__ import annotations

import contextlib
import resource


def raise_fd_limit(wanted: int) -> int:
    """Raises the soft RLIMIT_NOFILE towards ``wanted`` (never above the hard limit).

    The usual soft limit of 1024 is too low for 1,000 simultaneous clients plus Redis and
    Management API connections. Returns the soft limit in force afterwards.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    return int(soft)
