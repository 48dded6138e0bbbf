"""``pairchat sweep``: one run of the sweeper by hand (what the scheduled Lambda does)."""

from __future__ import annotations

import argparse
import json

from pairchat_tools.cliargs import add_redis_arguments, settings_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_redis_arguments(parser)
    parser.add_argument(
        "--management-endpoint",
        help="tell survivors of reaped rooms partner_left through this Management API "
        "(default: MANAGEMENT_ENDPOINT; without one nobody is told)",
    )


def run(args: argparse.Namespace) -> int:
    from redis.exceptions import RedisError

    from pairchat.bootstrap import sweeper_from_settings

    endpoint = {"management_endpoint": args.management_endpoint} if args.management_endpoint else {}
    s = settings_from_args(args, **endpoint)
    try:
        result = sweeper_from_settings(s, transport="boto3").run()
    except RedisError as exc:
        print(f"redis unavailable at {s.redis_url}: {exc}")
        return 2
    print(json.dumps(result.as_dict(), indent=2))
    return 0
