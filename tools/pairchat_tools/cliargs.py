"""Redis options shared by the operator commands (`pairchat inspect`, `pairchat sweep`).

Which Redis, in this order: ``--redis-url``; ``REDIS_URL``; the ``pairchat dev`` stack running
on this machine (its state file, :mod:`pairchat_tools.devstate`); else the default
``redis://127.0.0.1:6379/0``. The key prefix follows the same order. Every command says on
stderr which Redis it talks to and why, because the wrong one (someone else's, or none) is
the easiest mistake to make and the hardest to see.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from typing import Any

from pairchat.settings import Settings
from pairchat_tools import devstate


def add_redis_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--redis-url",
        help="default: REDIS_URL, else the running `pairchat dev` stack's, "
        "else redis://127.0.0.1:6379/0",
    )
    parser.add_argument(
        "--cluster", action="store_true", default=None, help="use a Redis Cluster client"
    )
    parser.add_argument(
        "--prefix",
        help="key prefix (default: KEY_PREFIX, else the dev stack's, else '{pairchat}:')",
    )


@dataclass(frozen=True)
class Target:
    """The settings a command runs with, and where its Redis URL came from."""

    settings: Settings
    source: str
    #: The dev stack whose Redis this is, when it is one.
    stack: devstate.DevStack | None = None

    def announce(self) -> None:
        """One line on stderr: which Redis, and why that one."""
        print(
            f"pairchat: Redis {devstate.redact(self.settings.redis_url)} ({self.source})",
            file=sys.stderr,
            flush=True,
        )


def resolve(args: argparse.Namespace, **overrides: Any) -> Target:
    """The environment's settings, with the dev stack's and the command line's on top."""
    # The operator commands decide *where* configuration comes from, so they look at which
    # variables are set; the values themselves are still read once, by Settings.from_env.
    env_url = bool(os.environ.get("REDIS_URL"))
    env_prefix = "KEY_PREFIX" in os.environ
    stack = None
    if args.redis_url:
        overrides["redis_url"] = args.redis_url
        source = "--redis-url"
    elif env_url:
        source = "REDIS_URL"
    else:
        stack = devstate.find()
        if stack is not None:
            overrides["redis_url"] = stack.redis_url
            overrides["redis_cluster"] = False
            source = f"the running `pairchat dev`, pid {stack.pid}; --redis-url to choose another"
        else:
            source = "the default: no `pairchat dev` is running and REDIS_URL is not set"
    if args.cluster:
        overrides["redis_cluster"] = True
    if args.prefix:
        overrides["key_prefix"] = args.prefix
    elif stack is not None and not env_prefix:
        overrides["key_prefix"] = stack.key_prefix
    if stack is not None and stack.reports_table and "REPORTS_TABLE" not in os.environ:
        overrides["reports_table"] = stack.reports_table
        overrides["dynamodb_endpoint"] = stack.dynamodb_endpoint
        if "AWS_ACCESS_KEY_ID" not in os.environ:
            # The stack's endpoint on loopback checks no signature; any key signs.
            overrides["aws_access_key_id"] = overrides["aws_secret_access_key"] = "pairchat-local"
    return Target(Settings.from_env(**overrides), source, stack)


def settings_from_args(args: argparse.Namespace, **overrides: Any) -> Settings:
    """The settings alone, announced on stderr (see :func:`resolve`)."""
    target = resolve(args, **overrides)
    target.announce()
    return target.settings
