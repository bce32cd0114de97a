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
    _extend_report(sub)


def _extend_report(sub: argparse._SubParsersAction) -> None:
    """`report show --live-input UID --date DATE`: the post-show report's own parameters on
    the existing `report` command (cli.py stays as it is)."""
    from ._args import parse_date

    report = sub.choices.get("report")
    if report is None:
        return
    report.add_argument("--live-input", default=None, metavar="UID",
                        help="report show: the live input (default: the busiest broadcast)")
    report.add_argument("--date", type=parse_date, default=None, metavar="DATE",
                        help="report show: the show's UTC day (default: --as-of)")
    plain = report.get_default("func")

    def run(args: argparse.Namespace) -> int:
        if args.name != "show":
            if args.live_input or args.date:
                from ..errors import UsageError

                raise UsageError("--live-input and --date are parameters of `report show` "
                                 f"only (not of {args.name})")
            return int(plain(args))
        return _cmd_report_show(args)

    report.set_defaults(func=run)


def _cmd_report_show(args: argparse.Namespace) -> int:
    from ..reports import run

    params = {"live_input": args.live_input, "date": args.date.isoformat() if args.date else None}
    if args.db:
        params["db"] = args.db
    res = run("show", params={k: v for k, v in params.items() if v is not None},
              as_of=args.as_of, period=args.period)
    print(f"{res.name} as of {res.date}: {res.html}")
    return 0


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
