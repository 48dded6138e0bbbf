"""The ``pairchat`` command. Each subcommand lives in its own module, imported on use."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: subcommand -> (module with ``add_arguments(parser)`` and ``run(args) -> int``, help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "dev": ("pairchat_tools.local.dev", "run the whole stack locally: gateway, Redis, chat page"),
    "bots": ("pairchat_tools.bots", "simulated users against a WebSocket URL (load generator)"),
    "inspect": ("pairchat_tools.inspect", "read queues, rooms and users from Redis"),
    "sweep": ("pairchat_tools.sweep", "run the sweeper once (what the scheduled Lambda does)"),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pairchat", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    argv = list(sys.argv[1:] if argv is None else argv)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        # Only the chosen subcommand's module is imported (keeps `pairchat --help` fast).
        if argv and argv[0] == name:
            importlib.import_module(module_name).add_arguments(p)
    args = parser.parse_args(argv)
    module = importlib.import_module(SUBCOMMANDS[args.command][0])
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
