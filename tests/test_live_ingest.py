"""End to end: the sandbox pushes a week of live-input events (with faults) to the receiver,
the poller samples `/views`, the sync takes the spool and the alerting history in, and the
read model's sessions equal the simulated shows."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pandas as pd
import pytest

from lc_analytics.live.ingest import spool_rows
from lc_analytics.live.poller import Poller
from lc_analytics.live.receiver import ReceiverConfig, create_app
from lc_analytics.live.spool import Spool, spool_dir
from lc_analytics.readmodel.live import live_sessions, minutes_beside_samples, viewer_samples
from lc_analytics.sandbox import Sandbox
from lc_analytics.sandbox import live_shows as L
from lc_analytics.sandbox.apis import live_delivery, live_views, notifications, stream_webhook
from lc_analytics.settings import Secret
from lc_analytics.sync import sync
from lc_analytics.warehouse import Warehouse

from .test_live_receiver import HOOK_SECRET, NOTE_SECRET, _AsgiClient

# deliveries start on day 19 and run 5 days: two shows of the flaky encoder (seed 7) and the
# quota failure (day 23) fall in them
QUIET_DAYS, WEEK = 19, 5


def _setup(em, url):
    notes = notifications.state(em)
    notes.destinations["d" * 32] = {"id": "d" * 32, "name": "lc", "url": f"{url}/notifications",
                                    "secret": NOTE_SECRET}
    notes.policies["p" * 32] = {"id": "p" * 32, "name": "live", "enabled": True,
                                "alert_type": "stream_live_notifications", "filters": {},
                                "mechanisms": {"webhooks": [{"id": "d" * 32}]}}
    hook = stream_webhook.state(em)
    hook.url, hook.secret = f"{url}/stream-webhook", HOOK_SECRET


@pytest.fixture(scope="module")
def week(tmp_path_factory, _pristine_account):
    """A week of deliveries (every fault, and the receiver down for a fifth of them), one
    polled show, then one sync of the stream and live events."""
    import copy

    account = copy.deepcopy(_pristine_account)
    db = tmp_path_factory.mktemp("live") / "wh.duckdb"
    spool = Spool(spool_dir(db))
    receiver = _AsgiClient(create_app(spool, ReceiverConfig(Secret(NOTE_SECRET),
                                                            Secret(HOOK_SECRET))))
    down: list[bytes] = []

    def send(url, body, headers):
        if url.endswith("/notifications") and len(body) % 5 == 0:  # the receiver was down
            down.append(body)
            return 503
        return receiver.post(url.replace("http://receiver", ""), content=body,
                             headers=headers).status_code

    with Sandbox(account, r2=False) as sb:
        sb.advance(QUIET_DAYS)
        since = account.now
        _setup(sb.emulator, "http://receiver")
        live_delivery.configure(sb.emulator, send=send, faults=live_delivery.DeliveryFaults(
            duplicates=0.2, delays=0.2, bad_signatures=0.1, shuffle=True, seed=14))
        polled = _poll_a_show(sb, spool, since)
        sb.advance(WEEK)
        report = sync(sb.settings(db_path=db), transport=sb.transport,
                      sources=["stream", "minutes_viewed", "live_events", "live_minutes"],
                      progress="none",
                      since=since.date(), now=lambda: account.now.to_pydatetime())
    return account, db, since, report, polled, down, sb


def _poll_a_show(sb, spool, since):
    """Deliver up to a show of a healthy input, then poll it every minute (mid-minute)."""
    live = L.truth(sb.account)  # as of the quiet days' end: no show of the week yet
    shows = sb.account.draws.shows
    rows = shows[(shows["start"] > since) & (shows["start"] < since + timedelta(days=1))
                 & ~shows["live_input_uid"].isin([p.target for p in sb.account.planted
                                                   if p.kind == "encoder_drops"])]
    show = rows.loc[rows["duration"].idxmin()]
    assert len(live["sessions"]) and show["uid"] not in set(live["sessions"]["show_uid"])
    minutes = L.minutes_of(show["start"], show["end"])
    clock = {"at": show["start"]}
    with httpx.Client(transport=sb.transport) as http:
        poller = Poller(spool, "https://customer-x.cloudflarestream.com", http,
                        now=lambda: clock["at"].to_pydatetime())
        for i, minute in enumerate(minutes):
            at = max(minute + pd.Timedelta(seconds=30), show["start"] + pd.Timedelta(seconds=1))
            live_views.set_live_clock(sb.emulator, at)
            live_delivery.deliver_until(sb.emulator, at)
            clock["at"] = at
            assert show["live_input_uid"] in poller.live() or i == len(minutes) - 1
            poller.poll_once()
        live_views.set_live_clock(sb.emulator, None)
    return show


def _every_show_of_the_week_is_one_session_with_its_start_end_and_recording(week):
    account, db, since, report, _, down, _ = week
    truth = L.truth(account)["sessions"]
    truth = truth[truth["start"] > since].set_index("show_uid")
    assert len(truth) > 25 and down  # some events only reached the alerting history
    wh = Warehouse(db, read_only=True)
    got = live_sessions(wh)
    assert len(got) == len(truth)
    got = got.set_index(["live_input_uid", "start"]).sort_index()
    want = truth.reset_index().set_index(["live_input_uid", "start"]).sort_index()
    assert got.index.equals(want.index)
    assert (got["end"] == want["end"]).all()
    assert got["reconnects"].tolist() == want["reconnects"].tolist()
    assert got["errors"].tolist() == want["errors"].tolist()
    rec = want["recording_uid"].where(want["recording_uid"].notna(), None)
    assert got["recording_uid"].tolist() == rec.tolist()
    events = L.truth(account)["events"]
    ready = account.visible_videos()
    ready = ready[(ready["kind"] == "recording") & (ready["ready_at"] > since)]
    assert report.rows["live_input_events"] == (events["at"] > since).sum() + len(ready)


def _planted_drops_and_the_quota_failure_are_found(week):
    account, db, since, *_ = week
    wh = Warehouse(db, read_only=True)
    s = live_sessions(wh)
    (flaky,) = [p.target for p in account.planted if p.kind == "encoder_drops" and not p.healthy]
    (steady,) = [p.target for p in account.planted if p.kind == "encoder_drops" and p.healthy]
    (quota,) = [p.target for p in account.planted if p.kind == "quota_failure" and not p.healthy]
    flaky_s = s[s["live_input_uid"] == flaky]
    assert len(flaky_s) and (flaky_s["reconnects"] >= L.FLAKY_DROPS[0]).all()
    assert (s.loc[s["live_input_uid"] != flaky, "reconnects"] <= 1).all()
    assert (s.loc[s["live_input_uid"] == steady, "reconnects"] <= 1).all()
    failed = s[s["errors"].str.contains(L.QUOTA_CODE)]
    show = account.draws.shows.set_index("uid").loc[quota]
    assert failed["start"].tolist() == [show["start"]]
    assert failed["duration_seconds"].tolist() == [L.QUOTA_FAIL_AFTER_SECONDS]


def _peak_viewers_equal_the_truth_at_the_sampling_resolution(week):
    account, db, since, report, show, *_ = week
    wh = Warehouse(db, read_only=True)
    s = live_sessions(wh)
    mine = s[(s["live_input_uid"] == show["live_input_uid"]) & (s["start"] == show["start"])]
    curve = L.truth(account)["curve"]
    curve = curve[curve["show_uid"] == show["uid"]]
    assert mine["peak_viewers"].tolist() == [curve["viewers"].max()]
    samples = viewer_samples(wh, show["live_input_uid"])
    inside = samples[samples["at"] <= show["end"]]  # a poll after the end finds no show
    assert inside["viewers"].astype(int).tolist() == curve["viewers"].iloc[:len(inside)].tolist()
    assert len(curve) - 1 <= len(inside) <= len(curve)
    assert mine["samples"].tolist() == [len(inside)]
    # beside the samples, the minutes viewed in each minute (GraphQL `datetime`) are the
    # curve itself: a minute's minutes viewed are its concurrent viewers
    side = minutes_beside_samples(wh, show["live_input_uid"], show["start"], show["end"])
    assert side["minute"].tolist() == curve["minute"].tolist()
    assert side["minutes_viewed"].astype(int).tolist() == curve["viewers"].tolist()
    polled = side[side["samples"] > 0]
    assert polled["viewers"].astype(int).tolist() == polled["minutes_viewed"].astype(int).tolist()


def _the_sync_of_the_spool_is_idempotent(week, tmp_path):
    account, db, since, report, _, _, sb = week
    from .conftest import copy_warehouse

    copy = copy_warehouse(db, tmp_path / "again")
    spool = spool_dir(db)
    import shutil

    shutil.copytree(spool, spool_dir(copy))
    before = Warehouse(copy, read_only=True)
    tables = ("live_input_events", "live_viewer_samples")
    first = {t: before.query(f"SELECT * FROM {t} ORDER BY ALL") for t in tables}
    del before
    again = sync(sb.settings(db_path=copy), transport=sb.transport, sources=["live_events"],
                 progress="none", now=lambda: account.now.to_pydatetime())
    after = Warehouse(copy, read_only=True)
    for t in tables:
        pd.testing.assert_frame_equal(after.query(f"SELECT * FROM {t} ORDER BY ALL"), first[t])
    # the first sync compacted the spool: what is left is each input's last sample and last
    # events, already in the warehouse (re-read, they change nothing)
    assert again.rows["live_viewer_samples"] == len(spool_rows(spool)[1]) >= 1
    assert len(spool_rows(spool)[1]) <= len(first["live_viewer_samples"]["live_input_uid"].unique())


def _the_post_show_report_shows_drops_quota_failure_viewers_and_cost(week, month):
    from decimal import Decimal

    from lc_analytics.live import report as live_report

    account, db, since, report, show, *_ = week
    wh = Warehouse(db, read_only=True)
    polled = live_report.show_report(wh, show["live_input_uid"], show["start"].date())
    curve = L.truth(account)["curve"]
    curve = curve[curve["show_uid"] == show["uid"]]
    h = polled.headline
    assert h["peak_viewers"] == curve["viewers"].max() and h["recording_uid"] == show["uid"]
    assert h["time_to_peak_minutes"] == pytest.approx(
        ((curve.loc[curve["viewers"].idxmax(), "minute"] + pd.Timedelta(seconds=30)
          - show["start"]).total_seconds()) / 60, abs=0.06)
    gt = account.minutes_viewed_between(show["start"].date(), account.end)
    mine = gt[gt["uid"] == show["uid"]]
    day = pd.Timestamp(show["start"].date(), tz="UTC")
    assert h["live_minutes"] == mine.loc[mine["date"] == day, "minutes_viewed"].sum()
    assert h["on_demand_minutes"] == mine.loc[mine["date"] > day, "minutes_viewed"].sum()
    # live minutes by country come from the per-minute rows, and equal the day's live rows
    assert h["live_minutes_from"] == "per-minute"
    by_country = mine[mine["date"] == day].groupby("country")["minutes_viewed"].sum()
    assert polled.countries.set_index("country")["minutes"].sort_index().to_dict() \
        == by_country.sort_index().to_dict()
    assert polled.per_minute["minutes_viewed"].astype(int).tolist() == curve["viewers"].tolist()
    rows = month.rows[month.rows["resource_id"] == show["uid"]]
    assert Decimal(h["cost"]) == sum(rows["cost"], Decimal(0)) > 0
    assert Decimal(h["cost_per_viewer_minute"]) == Decimal(h["cost"]) / Decimal(
        str(h["live_minutes"] + h["on_demand_minutes"]))
    (quota,) = [p.target for p in account.planted if p.kind == "quota_failure" and not p.healthy]
    q = account.draws.shows.set_index("uid").loc[quota]
    failed = live_report.show_report(wh, q["live_input_uid"], q["start"].date(), priced=False)
    assert failed.timeline["error_code"].dropna().tolist() == [L.QUOTA_CODE]
    (flaky,) = [p.target for p in account.planted if p.kind == "encoder_drops" and not p.healthy]
    day = live_report.sessions_overview(wh, account.end - timedelta(days=WEEK), account.end)
    drops = day[day["live_input_uid"] == flaky]
    one = live_report.show_report(wh, flaky, drops["start"].iloc[0].date(), priced=False)
    kinds = one.timeline["event_type"].tolist()
    assert kinds.count("live_input.disconnected") == drops["drops"].iloc[0] + 1 >= 4
    codes = live_report.errors_by_code(wh, account.end - timedelta(days=WEEK), account.end)
    assert codes.set_index("error_code")["errors"].to_dict() == {L.QUOTA_CODE: 1}


def _metrics_for_the_ops_dashboard(week, month):
    import json

    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from lc_analytics.live.metrics import LiveMetrics
    from lc_analytics.readmodel import last_successful_sync

    account, db, since, report, show, down, _ = week
    wh = Warehouse(db, read_only=True)
    last = last_successful_sync(wh)
    registry = CollectorRegistry()
    registry.register(LiveMetrics(Spool(spool_dir(db)), db, clock=lambda: last.timestamp() + 42))
    text = generate_latest(registry).decode()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(text) for s in f.samples}
    events = L.truth(account)["events"]
    events = events[events["at"] > since]

    def kind_code(data):
        code = ((data.get("live_input_errored") or {}).get("error") or {}).get("code") or ""
        return data["event_type"], code

    lost = pd.Series([kind_code(json.loads(b)["data"]) for b in down]).value_counts()
    want = events.assign(code=events["code"].fillna("")).groupby(["event_type", "code"]).size()
    got = {labels: v for (name, labels), v in samples.items()
           if name == "lc_live_input_events_total"}
    expect = {(("error_code", code), ("event_type", kind)): n - lost.get((kind, code), 0)
              for (kind, code), n in want.items()}
    assert got == {k: v for k, v in expect.items() if v} and len(got) >= 2
    assert samples[("lc_sync_last_success_age_seconds", ())] == 42
    assert samples[("lc_warehouse_readable", ())] == 1
    # the month to date is the engine's bill of the month through the last synced day: the
    # allocation's rows add up to it, per service
    by_service = month.rows.groupby("service")["cost"].agg(lambda c: float(sum(c)))
    got_mtd = {dict(labels)["service"]: v for (name, labels), v in samples.items()
               if name == "lc_cost_month_to_date_usd"}
    assert got_mtd == pytest.approx(by_service[by_service > 0].to_dict())
    assert sum(got_mtd.values()) > 0


def test_a_week_of_live_shows_end_to_end(week, tmp_path):
    """One test over the week (its fixture is costly: built once, not once per xdist worker)."""
    from lc_analytics.costs.allocate import allocate_month

    account, db, *_ = week
    month = allocate_month(Warehouse(db, read_only=True), account.end,
                           through=account.end + timedelta(days=1))
    _every_show_of_the_week_is_one_session_with_its_start_end_and_recording(week)
    _planted_drops_and_the_quota_failure_are_found(week)
    _peak_viewers_equal_the_truth_at_the_sampling_resolution(week)
    _the_post_show_report_shows_drops_quota_failure_viewers_and_cost(week, month)
    _metrics_for_the_ops_dashboard(week, month)
    _the_sync_of_the_spool_is_idempotent(week, tmp_path)
