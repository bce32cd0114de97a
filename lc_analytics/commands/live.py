"""`lc-analytics live watch`: poll the live viewer count of every input while it is live."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    lv = sub.add_parser("live", help="live shows: poll concurrent viewers while inputs are live",
                        description="Live shows: poll each live input's /views while it is "
                                    "live (from the received events, else its status) into "
                                    "the spool beside the warehouse; `sync` takes it in.")
    lvsub = lv.add_subparsers(dest="live_command", metavar="SUBCOMMAND")
    lvsub.required = True
    w = lvsub.add_parser("watch", help="poll /views of the live inputs every --interval",
                         description="A failed poll is spooled as a gap (never a zero) and "
                                     "the input is retried with a doubling delay.")
    w.add_argument("--interval", default="15s", help="time between polls (default: 15s)")
    w.add_argument("--rounds", type=int, default=None,
                   help="stop after this many rounds (default: run until interrupted)")
    w.add_argument("--db", default=None, help="warehouse path; the spool goes beside it "
                                              "(default: $LC_ANALYTICS_DB)")
    w.set_defaults(func=_cmd_watch)


def _cmd_watch(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..errors import UsageError
    from ..live.config import parse_interval
    from ..live.watch import watch
    from ..settings import Settings

    interval = parse_interval(args.interval)
    if args.rounds is not None and args.rounds < 1:
        raise UsageError(f"--rounds must be at least 1 (got {args.rounds})")
    settings = Settings.from_env(require=["stream"])
    watch(settings, interval, Path(args.db) if args.db else None, args.rounds)
    return 0
