"""`lc-analytics events serve`: the webhook receiver for live-input events and recordings."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    ev = sub.add_parser("events", help="receive Cloudflare's live-input events and webhooks",
                        description="Receive live-input events (Cloudflare Notifications) and "
                                    "Stream webhooks into the spool beside the warehouse.")
    evsub = ev.add_subparsers(dest="events_command", metavar="SUBCOMMAND")
    evsub.required = True
    serve = evsub.add_parser(
        "serve", help="run the webhook receiver (put it behind TLS: a reverse proxy or a "
                      "Cloudflare Tunnel)",
        description="POST /notifications (cf-webhook-auth), POST /stream-webhook "
                    "(Webhook-Signature), GET /health. Secrets come from "
                    "LC_EVENTS_NOTIFICATION_SECRET and LC_STREAM_WEBHOOK_SECRET.")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: "
                                                           "127.0.0.1)")
    serve.add_argument("--port", type=int, default=8787, help="port (default: 8787)")
    serve.add_argument("--db", default=None, help="warehouse path; the spool goes beside it "
                                                  "(default: $LC_ANALYTICS_DB)")
    serve.set_defaults(func=_cmd_serve)


def _cmd_serve(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..live.serve import serve
    from ..settings import Settings

    settings = Settings.from_env()
    serve(Path(args.db) if args.db else settings.db_path, args.host, args.port,
          settings.secrets())
    return 0
