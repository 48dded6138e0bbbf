"""Redis options shared by the operator commands (`pairchat inspect`, `pairchat sweep`)."""

from __future__ import annotations

import argparse
from typing import Any

from pairchat.settings import Settings


def add_redis_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--redis-url", help="default: REDIS_URL, else redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--cluster", action="store_true", default=None, help="use a Redis Cluster client"
    )
    parser.add_argument("--prefix", help="key prefix (default: KEY_PREFIX, else '{pairchat}:')")


def settings_from_args(args: argparse.Namespace, **overrides: Any) -> Settings:
    """The environment's settings, with what the command line said on top."""
    if args.redis_url:
        overrides["redis_url"] = args.redis_url
    if args.cluster:
        overrides["redis_cluster"] = True
    if args.prefix:
        overrides["key_prefix"] = args.prefix
    return Settings.from_env(**overrides)
