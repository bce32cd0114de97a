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
    report.add_argument("--start", default=None, metavar="HH:MM",
                        help="report show: the broadcast of that day that started then (UTC "
                             "HH:MM[:SS]; default: the input's longest that day)")
    plain = report.get_default("func")

    def run(args: argparse.Namespace) -> int:
        if args.name != "show":
            if args.live_input or args.date or args.start:
                from ..errors import UsageError

                raise UsageError("--live-input, --date and --start are parameters of "
                                 f"`report show` only (not of {args.name})")
            return int(plain(args))
        return _cmd_report_show(args)

    report.set_defaults(func=run)


def _cmd_report_show(args: argparse.Namespace) -> int:
    """The broadcast is resolved first: its start names the report's folder
    (reports/show/<as_of>_<input>-<start>/), so two shows never overwrite each other."""
    from pathlib import Path

    from ..live.report import show_run
    from ..notebook import default_db
    from ..reports import run
    from ..warehouse import Warehouse

    db = Path(args.db or default_db()).expanduser()
    wh = Warehouse(db, read_only=True)
    params, key = show_run(wh, args.live_input, args.date, args.start, args.as_of)
    if args.db:
        params["db"] = args.db
    res = run("show", params=params, as_of=args.as_of, period=args.period, key=key)
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
