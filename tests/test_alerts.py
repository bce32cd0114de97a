"""`alerts check` end to end on the synced small warehouse: delivery to a local receiver,
fire once, escalate, resolve (Sandbox.advance + sync), a failing receiver, the CLI."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lc_analytics import cli
from lc_analytics.alerts import Params, anomalies, check_alerts, checks, parse_budgets
from lc_analytics.alerts import run as alerts_run
from lc_analytics.costs.forecast import month_to_date
from lc_analytics.errors import ConfigError
from lc_analytics.money import format_usd
from lc_analytics.settings import Secret
from lc_analytics.warehouse import Warehouse
from lc_analytics.warehouse.alert_log import alert_events, alert_state, sync_health

from .conftest import copy_warehouse


class Receiver:
    """A local HTTP endpoint for apprise's json:// URLs: records posts, or answers 500."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.fail = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if outer.fail:
                    self.send_response(500)
                else:
                    outer.posts.append(json.loads(body))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/hook"

    def titles(self) -> list[str]:
        return [p["title"] for p in self.posts]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def stream_mtd(synced):
    """The Stream month to date of the synced warehouse (June 2026, complete)."""
    mtd = month_to_date(Warehouse(synced[1], read_only=True))
    return sum(mtd.loc[mtd["service"] == "Stream", "mtd_cost"], Decimal(0))


def _budgets(stream_usd: Decimal) -> list:
    return parse_budgets(f'[[budget]]\nname = "stream"\nservice = "Stream"\n'
                         f'monthly_usd = "{stream_usd}"\nforecast_thresholds = [1000]\n')


def test_fires_once_escalates_resolves_and_retries(synced, synced_copy, receiver, stream_mtd,
                                                   monkeypatch, capsys, tmp_path):
    acct = synced[0].account
    anomaly, = [p for p in acct.planted if p.kind == "cost_anomaly" and not p.healthy]
    lookalike, = [p for p in acct.planted if p.kind == "cost_anomaly" and p.healthy]
    wh = Warehouse(synced_copy)
    now = datetime.now(UTC)
    urls = Secret(receiver.url)
    # Stream's month to date is 85% of this budget: the 80% threshold (level 2 of 3).
    budget = (stream_mtd / Decimal("0.85")).quantize(Decimal("0.01"))
    # The warehouse does not change in this test: evaluate once per set of budgets, and
    # allocate each month once (the test's time budget; the logic under test is the same).
    evaluated, allocated = {}, {}
    real, real_allocate = alerts_run.evaluate, anomalies.allocate_month

    def evaluate(wh, budgets, now, params, book=None):
        if tuple(budgets) not in evaluated:
            evaluated[tuple(budgets)] = real(wh, budgets, now, params, book)
        return evaluated[tuple(budgets)]

    def allocate_month(wh, month, book=None, through=None):
        if (str(wh.path), month, through) not in allocated:
            allocated[str(wh.path), month, through] = real_allocate(wh, month, book, through)
        return allocated[str(wh.path), month, through]

    monkeypatch.setattr(alerts_run, "evaluate", evaluate)
    monkeypatch.setattr(anomalies, "allocate_month", allocate_month)
    for name in ("month_to_date", "storage_runway"):  # likewise: once each
        monkeypatch.setattr(checks, name, _once_per_file(getattr(checks, name)))
    minutes = iter(timedelta(minutes=k) for k in range(10))  # each run a little later
    _cli_dry_run(synced_copy, capsys, monkeypatch, tmp_path)

    first = check_alerts(wh, budgets=_budgets(budget), urls=urls, now=now + next(minutes))
    assert receiver.titles() == [
        f"Cost anomaly in cf-r2-standard-class-b on 2026-06-30: {_usd(first.alerts[1])} "
        "above its usual Tuesday",
        f"Budget stream (service Stream): month to date at 85% of {format_usd(budget)} "
        "(threshold 80%)"]
    anomaly_alert = first.alerts[1]
    assert anomaly_alert.key == "anomaly/cf-r2-standard-class-b"
    assert anomaly_alert.facts["drivers"].split(",")[0] == anomaly.target
    assert lookalike.target not in anomaly_alert.facts["drivers"].split(",")
    assert Decimal(anomaly_alert.facts["effect_usd"]) >= Params().anomaly_min_usd
    assert [a.key for a in first.alerts] == ["budget/stream/actual/2026-06",
                                             "anomaly/cf-r2-standard-class-b"]
    # a re-run sends nothing
    again = check_alerts(wh, budgets=_budgets(budget), urls=urls, now=now + next(minutes))
    assert again.messages == [] and len(receiver.posts) == 2
    # a lower budget: 106% -> escalated once; the receiver fails: pending, retried next run
    receiver.fail = True
    lower = (stream_mtd / Decimal("1.06")).quantize(Decimal("0.01"))
    failed = check_alerts(wh, budgets=_budgets(lower), urls=urls, now=now + next(minutes))
    assert [(m.key, m.event, m.level) for m in failed.pending] == [
        ("budget/stream/actual/2026-06", "escalated", 3)]
    state = alert_state(Warehouse(synced_copy, read_only=True)).set_index("key")
    assert state.loc["budget/stream/actual/2026-06", ["level", "sent_level"]].tolist() == [3, 2]
    receiver.fail = False
    retried = check_alerts(wh, budgets=_budgets(lower), urls=urls, now=now + next(minutes))
    assert [m.event for m in retried.messages] == ["escalated"] and not retried.pending
    assert receiver.titles()[-1].startswith("Budget stream (service Stream): month to date at "
                                            "106% of")
    quiet = check_alerts(wh, budgets=_budgets(lower), urls=urls, now=now + next(minutes))
    assert quiet.messages == []
    events = alert_events(Warehouse(synced_copy, read_only=True))
    assert events[["key", "event", "delivered"]].values.tolist() == [
        ["anomaly/cf-r2-standard-class-b", "fired", True],
        ["budget/stream/actual/2026-06", "fired", True],
        ["budget/stream/actual/2026-06", "escalated", False],
        ["budget/stream/actual/2026-06", "escalated", True]]
    assert receiver.url not in events.to_string()  # the URL is a secret
    # no budgets now, and the stale check 40 h on: the budget resolves, staleness fires
    later = now + timedelta(hours=40)
    stale = check_alerts(wh, budgets=[], urls=urls, now=later)
    assert [(m.key, m.event) for m in stale.messages] == [
        ("budget/stream/actual/2026-06", "resolved"), ("sync/stale", "fired")]
    assert len(receiver.posts) == 5


def _once_per_file(func):
    """`func(wh, *args)` computed once per warehouse file and arguments."""
    results = {}

    @functools.wraps(func)
    def once(wh, *args):
        key = (str(wh.path), *args)
        if key not in results:
            results[key] = func(wh, *args)
        return results[key]

    return once


def _usd(alert) -> str:
    return format_usd(Decimal(alert.facts["effect_usd"]))


def test_the_anomaly_resolves_when_the_next_day_is_usual(account, synced_copy):
    """Sandbox.advance one day and sync the analytics on: the spike is no longer the latest
    day, so the anomaly resolves (and the look-alike's next peak is a week away)."""
    from lc_analytics.alerts.checks import anomaly_alerts
    from lc_analytics.readmodel import synced_through
    from lc_analytics.sandbox import Sandbox
    from lc_analytics.sync import sync

    acct, end = account, account.end  # the account the warehouse was synced from
    wh = Warehouse(synced_copy)
    with Sandbox(acct, r2=False) as sb:
        sb.advance(1)
        sync(sb.settings(db_path=synced_copy), transport=sb.transport,
             sources=["minutes_viewed", "r2_storage", "r2_operations", "r2_object_reads"],
             now=lambda: acct.now.to_pydatetime(), progress="none")
    day = synced_through(wh)
    assert day == end + timedelta(days=1)
    assert anomaly_alerts(wh, day, Params()) == []


def test_delivery_needs_urls_and_refuses_bad_ones(synced_copy):
    wh = Warehouse(synced_copy)
    with pytest.raises(ConfigError, match="LC_ANALYTICS_ALERT_URLS is not set"):
        check_alerts(wh, budgets=[])
    with pytest.raises(ConfigError, match="entry 2 of 2 is not a URL apprise can send to") as e:
        check_alerts(wh, urls=Secret("json://127.0.0.1:9/x, nonsense-secret-xyz"))
    assert "nonsense-secret-xyz" not in str(e.value)
    with pytest.raises(ConfigError, match=r"b\.toml:5: budget 'w': unknown service 'Workers' "
                                          r"\(known: r2, stream\)"):
        check_alerts(wh, dry_run=True, budgets=parse_budgets(
            '[[budget]]\nname = "s"\nservice = "Stream"\nmonthly_usd = 1\n'
            '[[budget]]\nname = "w"\nservice = "Workers"\nmonthly_usd = 1\n', "b.toml"),
            )
    assert alert_state(wh).empty  # nothing was written


def _cli_dry_run(db, capsys, monkeypatch, tmp_path) -> None:
    """`alerts check --dry-run` prints what it would send and writes nothing."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LC_ANALYTICS_ALERT_URLS", "json://127.0.0.1:9/secret-hook-123")
    (tmp_path / "budgets.toml").write_text('[[budget]]\nname = "r2"\nservice = "R2"\n'
                                           'monthly_usd = "1.5"\n')
    assert cli.main(["alerts", "check", "--dry-run", "--db", str(db),
                     "--budgets", "nope.toml"]) == 2
    assert "--budgets: no such file: nope.toml" in capsys.readouterr().err
    assert cli.main(["alerts", "check", "--dry-run", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "[ALERT] Budget r2 (service R2): month to date at" in out
    assert "[ALERT] Cost anomaly in cf-r2-standard-class-b on 2026-06-30" in out
    assert "2 alert(s) hold; would send 2 message(s)" in out
    # for real, to a receiver that is down: printed, kept pending, and exit 10 for cron
    copy = copy_warehouse(db, tmp_path / "undelivered")
    assert cli.main(["alerts", "check", "--db", str(copy)]) == 10
    captured = capsys.readouterr()
    assert captured.out.count("[NOT delivered: pending]") == 2
    assert "2 message(s) not delivered; they stay pending" in captured.err
    assert "secret-hook-123" not in captured.out + captured.err
    assert "secret-hook-123" not in out
    assert alert_state(Warehouse(db, read_only=True)).empty


def test_runway_and_sync_health(synced):
    from lc_analytics.alerts.checks import runway_alert, runway_alerts, sync_alerts
    from lc_analytics.costs.runway import storage_runway

    wh = Warehouse(synced[1], read_only=True)
    acct = synced[0].account
    assert runway_alerts(wh, Params()) == []  # small runs out 21 days after its clock
    row = storage_runway(wh).iloc[0]
    alert, = runway_alert(row, Params(runway_days=30))
    truth_days = (acct.exhaustion_date() - acct.now.date()).days
    assert alert.key == "runway/stream-storage" and alert.level == 1
    assert abs(int(alert.facts["days"]) - truth_days) <= 2, (alert.facts, truth_days)
    days = int(alert.facts["days"])
    assert runway_alert(row, Params(runway_days=2 * days))[0].level == 1
    assert runway_alert(row, Params(runway_days=2 * days + 1))[0].level == 2  # under half
    out = row.copy()
    out["days_until_exhaustion"] = 0
    assert runway_alert(out, Params())[0].level == 3  # out of capacity
    last_ok = sync_health(wh)["last_ok_at"]
    assert isinstance(last_ok, datetime)
    assert sync_alerts(wh, last_ok + timedelta(hours=35), Params()) == []
    stale, = sync_alerts(wh, last_ok + timedelta(hours=36), Params())
    assert stale.key == "sync/stale" and "last successful sync 36 hours ago" in stale.title
