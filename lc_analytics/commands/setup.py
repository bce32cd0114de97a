"""`lc-analytics setup events --url URL`: a plan pointing Cloudflare's live-input events and
the Stream webhook at the receiver (dry-run diff printed; `apply PLAN --yes` applies it)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    st = sub.add_parser("setup", help="plan the account-side setup of a feature (dry run)",
                        description="Write a plan for the account-side setup of a feature; "
                                    "nothing changes until `lc-analytics apply PLAN --yes`.")
    stsub = st.add_subparsers(dest="setup_command", metavar="FEATURE")
    stsub.required = True
    ev = stsub.add_parser(
        "events", help="webhook destination, live-notifications policy and Stream webhook",
        description="Plan: a Notifications webhook destination (secret: "
                    "LC_EVENTS_NOTIFICATION_SECRET, read at apply), a "
                    "stream_live_notifications policy sending to it, and the Stream webhook "
                    "URL, all pointing at the receiver at --url.")
    ev.add_argument("--url", required=True,
                    help="the receiver's public https URL (behind TLS: a reverse proxy or a "
                         "Cloudflare Tunnel in front of `lc-analytics events serve`)")
    ev.add_argument("--plan", default=None,
                    help="where to write the plan (default: plans/setup-events-<id>.json "
                         "beside the warehouse)")
    ev.add_argument("--yes", action="store_true",
                    help="plan replacing a different URL the account already sends to")
    ev.set_defaults(func=_cmd_setup_events)


def _cmd_setup_events(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..actions import apply_plan, render
    from ..actions.events import setup_plan
    from ..client.http import CloudflareClient
    from ..settings import Settings

    settings = Settings.from_env(require=["stream"])
    settings.install_log_masking()
    with CloudflareClient(settings) as client:
        plan = setup_plan(client, args.url, yes=args.yes)
    path = Path(args.plan) if args.plan else \
        settings.db_path.parent / "plans" / f"setup-events-{plan.id}.json"
    plan.write(path)
    print(render(plan, apply_plan(plan, settings)))  # the dry run: nothing changes
    print(f"Plan written to {path}; apply it with `lc-analytics apply {path} --yes`.")
    return 0
