"""``pairchat sweep``: one run of the sweeper by hand (what the scheduled Lambda does)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace

from pairchat_tools.cliargs import add_redis_arguments, resolve
from pairchat_tools.devstate import redact


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_redis_arguments(parser)
    parser.add_argument(
        "--management-endpoint",
        help="tell survivors of reaped rooms partner_left through this Management API "
        "(default: MANAGEMENT_ENDPOINT, else the dev stack's when its Redis is used; "
        "without one nobody is told)",
    )


def run(args: argparse.Namespace) -> int:
    from redis.exceptions import RedisError

    from pairchat.bootstrap import sweeper_from_settings

    endpoint = {"management_endpoint": args.management_endpoint} if args.management_endpoint else {}
    target = resolve(args, **endpoint)
    s = target.settings
    if target.stack is not None and not endpoint and not os.environ.get("MANAGEMENT_ENDPOINT"):
        # The dev stack's Redis: tell its survivors through its Management API, as AWS does.
        s = replace(s, management_endpoint=target.stack.management_endpoint)
    target.announce()
    try:
        result = sweeper_from_settings(s, transport="boto3").run()
    except RedisError as exc:
        print(f"redis unavailable at {redact(s.redis_url)}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result.as_dict(), indent=2))
    return 0
