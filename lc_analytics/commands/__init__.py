"""CLI commands beyond the core ones in `lc_analytics.cli`, one module per command group.

Each public module here defines `add_parser(sub)`, which adds its subcommand(s) to the
`lc-analytics` parser and sets `func` to a handler `(args) -> exit code`; `cli.build_parser`
finds them all, so a new command never edits `cli.py`. Keep imports of heavy modules inside
the handlers: every `lc-analytics` invocation builds the whole parser. Shared argument helpers
live in `_args.py`.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from collections.abc import Callable, Iterator

AddParser = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def parsers() -> Iterator[AddParser]:
    """`add_parser` of every public command module, in name order."""
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not module.name.startswith("_"):
            yield importlib.import_module(f"{__name__}.{module.name}").add_parser
