"""The sandbox's live shows: curves that add up to the live minutes, the event timeline, the
live-show plants (and their look-alikes), `/views` and the pushed deliveries."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import date

import pandas as pd
import pytest

from lc_analytics.sandbox import SimulatedAccount
from lc_analytics.sandbox import live_days as LD
from lc_analytics.sandbox import live_shows as L
from lc_analytics.sandbox.apis import live_delivery, live_views
from lc_analytics.sandbox.emulator import Emulator

from .conftest import END, SEED

ACCOUNTS = [(SEED, END), (3, date(2026, 3, 15)), (11, date(2025, 11, 2))]


@pytest.fixture(scope="module")
def accounts(shared_account):
    return [shared_account] + [SimulatedAccount.build("small", seed=s, end=e)
                               for s, e in ACCOUNTS[1:]]


def _planted(account, kind, healthy):
    return [p for p in account.planted if p.kind == kind and p.healthy is healthy]


def test_each_curve_sums_to_its_shows_live_minutes_in_the_truth(accounts):
    for account in accounts[:2]:
        live = L.truth(account)
        gt = account.minutes_viewed()  # the truth's minutes_viewed (no R2 tables needed)
        sessions = live["sessions"].set_index("show_uid")
        by_curve = live["curve"].groupby("show_uid")["viewers"].sum()
        assert by_curve.reindex(sessions.index).fillna(0).astype(int).tolist() \
            == sessions["live_minutes"].tolist()
        # recorded shows: the truth's live rows of the show's day carry the show's uid
        shows = account.draws.shows.set_index("uid")
        rec = sessions[sessions["recording_uid"].notna() & sessions["end"].notna()]
        rec = rec[~rec.index.isin([p.target for p in account.planted
                                   if p.kind == "quota_failure" and not p.healthy])]
        # (a show past midnight has live rows on two days: tests/test_live_consistency.py)
        crossing = account.draws.shows["uid"].iloc[LD.crossing_rows(account.draws.shows)]
        rec = rec[~rec.index.isin(crossing)]
        day = shows.loc[rec.index, "start"].dt.floor("D")
        live_rows = gt[gt["is_live"] & gt["uid"].isin(rec.index)]
        live_rows = live_rows[live_rows["date"].to_numpy() == day.reindex(
            live_rows["uid"]).to_numpy()]
        want = live_rows.groupby("uid")["minutes_viewed"].sum().reindex(rec.index).fillna(0)
        assert rec["live_minutes"].tolist() == want.astype(int).tolist()
        assert rec["live_minutes"].sum() > 1000


def test_every_show_that_started_is_one_session_from_connect_to_disconnect(shared_account):
    live = L.truth(shared_account)
    s, ev = live["sessions"], live["events"]
    started = shared_account.draws.shows
    assert sorted(s["show_uid"]) == sorted(started.loc[started["start"] <= shared_account.now,
                                                       "uid"])
    first = ev.groupby("show_uid")["at"].min()
    last = ev.groupby("show_uid")["at"].max()
    ended = s[s["end"].notna()].set_index("show_uid")
    assert (first.reindex(ended.index) == ended["start"]).all()
    assert (last.reindex(ended.index) == ended["end"]).all()
    kinds = ev.groupby("show_uid")["event_type"].agg(list)
    for uid, types in kinds.items():
        seq = [t for t in types if t != "live_input.errored"]
        assert seq[0] == "live_input.connected"
        assert all(a != b for a, b in zip(seq, seq[1:], strict=False)), uid  # alternate


def test_planted_encoder_drops_and_their_lookalike(accounts):
    for account in accounts:
        (bad,) = _planted(account, "encoder_drops", False)
        (good,) = _planted(account, "encoder_drops", True)
        s = L.truth(account)["sessions"]
        flaky = s[s["live_input_uid"] == bad.target]
        steady = s[s["live_input_uid"] == good.target]
        assert len(flaky) >= 5 and len(steady) >= 5
        assert flaky["reconnects"].between(*L.FLAKY_DROPS[:1], L.FLAKY_DROPS[1] - 1).all()
        assert steady["reconnects"].max() == 1 and (steady["reconnects"] == 0).mean() > 0.5
        others = s[~s["live_input_uid"].isin([bad.target, good.target])]
        assert (others["reconnects"] == 0).all()


@pytest.mark.parametrize("seed,end", ACCOUNTS[:2])
def test_the_first_show_after_storage_runs_out_fails_for_quota(seed, end):
    account = SimulatedAccount.build("small", seed=seed, end=end)
    (bad,) = _planted(account, "quota_failure", False)
    (good,) = _planted(account, "quota_failure", True)
    ex = account.exhaustion_date()
    show = account.draws.shows.set_index("uid").loc[bad.target]
    assert show["start"] >= pd.Timestamp(ex, tz="UTC") + pd.Timedelta(days=1)
    earlier = account.draws.shows
    assert not ((earlier["start"] >= pd.Timestamp(ex, tz="UTC") + pd.Timedelta(days=1))
                & (earlier["start"] < show["start"])).any()
    account.advance((show["start"].date() - account.now.date()).days + 1)
    s = L.truth(account)["sessions"].set_index("show_uid")
    failed, gop = s.loc[bad.target], s.loc[good.target]
    assert failed["errors"] == L.QUOTA_CODE
    assert failed["end"] - failed["start"] == pd.Timedelta(seconds=L.QUOTA_FAIL_AFTER_SECONDS)
    assert failed["live_minutes"] == 0
    assert gop["errors"] == L.GOP_CODE and gop["recording_uid"] == good.target
    assert (s["errors"] != "").sum() == 2


def test_views_answers_the_curve_minute_and_zero_during_a_drop(shared_account):
    em = Emulator(shared_account)
    live = L.truth(shared_account)
    (bad,) = _planted(shared_account, "encoder_drops", False)
    calm = live["sessions"][live["sessions"]["reconnects"] == 0].iloc[-1]
    cv = live["curve"][live["curve"]["show_uid"] == calm["show_uid"]]
    peak = cv.loc[cv["viewers"].idxmax()]
    live_views.set_live_clock(em, peak["minute"] + pd.Timedelta(seconds=30))
    answer = em.handle("GET", f"/{calm['live_input_uid']}/views", "", {}, b"")
    assert answer.json() == {"liveViewers": int(peak["viewers"])} and peak["viewers"] > 0
    show = live["sessions"][live["sessions"]["live_input_uid"] == bad.target].iloc[-1]
    ev = live["events"][live["events"]["show_uid"] == show["show_uid"]]
    drop = ev[ev["event_type"] == "live_input.disconnected"].iloc[0]["at"]
    live_views.set_live_clock(em, drop + pd.Timedelta(milliseconds=1))
    path = f"/{bad.target}/views"
    assert em.handle("GET", path, "", {}, b"").json() == {"liveViewers": 0}
    assert em.handle("GET", f"/{'0' * 32}/views", "", {}, b"").status == 404


def _configure_destinations(em, url="https://hooks.example/in", secret="dest-secret"):
    from lc_analytics.sandbox.apis import notifications, stream_webhook

    notes = notifications.state(em)
    notes.destinations["d" * 32] = {"id": "d" * 32, "name": "lc", "url": url, "secret": secret}
    notes.policies["p" * 32] = {"id": "p" * 32, "name": "live", "enabled": True,
                                "alert_type": "stream_live_notifications", "filters": {},
                                "mechanisms": {"webhooks": [{"id": "d" * 32}]}}
    hook = stream_webhook.state(em)
    hook.url, hook.secret = url + "/stream", "stream-secret"


def test_deliveries_carry_the_real_headers_and_the_configured_faults(account):
    em = Emulator(account)
    _configure_destinations(em)
    got: list[tuple[str, bytes, dict]] = []
    live_delivery.configure(em, faults=live_delivery.DeliveryFaults(
        duplicates=0.3, delays=0.2, bad_signatures=0.2, shuffle=True, seed=1),
        send=lambda url, body, headers: got.append((url, body, headers)) or 200)
    account.advance(2)
    sent = live_delivery.deliver_until(em, account.now)
    truth = L.truth(account)["events"]
    window = truth[truth["at"] > account.now - pd.Timedelta(days=2)]
    genuine = {(json.loads(b)["data"]["input_id"], json.loads(b)["data"]["event_type"],
                json.loads(b)["data"]["updated_at"])
               for u, b, h in got if u.endswith("/in") and h["cf-webhook-auth"] == "dest-secret"}
    want = {(r.live_input_uid, r.event_type, r.at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
            for r in window.itertuples()}
    assert genuine == want and len(want) > 10
    forged = [h for u, b, h in got if u.endswith("/in") and h["cf-webhook-auth"] != "dest-secret"]
    assert forged and len(got) > len(want)
    hooks = [(b, h["webhook-signature"]) for u, b, h in got if u.endswith("/stream")]
    assert hooks
    good = 0
    for body, sig in hooks:
        t, mac = sig.split(",")
        expect = hmac.new(b"stream-secret", f"{t[5:]}.".encode() + body,
                          hashlib.sha256).hexdigest()
        good += mac[5:] == expect
    assert 0 < good < len(hooks) + 1
    history = [h for h in live_delivery.notifications.state(em).history]
    assert len(history) == sum(1 for s in sent if s["kind"] == "notification" and not s["forged"])
