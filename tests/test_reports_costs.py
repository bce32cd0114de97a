"""The costs and cost_review reports: their library tables against the cost and recommendation
libraries, runs end to end, the HTML in headless Chromium, and a scheduled run beside a sync
and an analyst's open warehouse.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import date
from decimal import Decimal

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from lc_analytics import reports
from lc_analytics.costs import billing, review
from lc_analytics.costs.analyses import aws_comparison, month_to_date, storage_runway
from lc_analytics.costs.engine import price_month
from lc_analytics.costs.pricebook import load_book
from lc_analytics.costs.usage import warehouse_usage
from lc_analytics.recommend import explanation
from lc_analytics.reports import ReportError, run
from lc_analytics.reports.html import external_resources
from lc_analytics.reports.summary import jsonable
from lc_analytics.sandbox import Sandbox
from lc_analytics.sync import sync
from lc_analytics.warehouse import Warehouse
from tests.test_reports import ARTIFACTS, CHROMIUM, _figures, assert_every_chart_draws

JUNE, MAY = date(2026, 6, 1), date(2026, 5, 1)
PAGE_HEIGHT = {"cost_review": 8200, "costs": 9600}  # pixels: each page whole in its screenshot


@pytest.fixture(scope="module")
def wh(synced) -> Warehouse:
    return Warehouse(synced[1], read_only=True)


@pytest.fixture(scope="module")
def recs(synced_recs):
    return synced_recs  # recommend_all(wh), computed once for the session


def _engine_bill(wh: Warehouse, month: str):
    mu = warehouse_usage(wh, month)
    return price_month(mu.usage, mu.month, load_book("cloudflare"))


# -- months and coverage -----------------------------------------------------------------------

def test_the_month_defaults_to_the_last_complete_month(wh):
    p = billing.resolve_month(wh)
    assert (p.month, p.as_of, p.label, p.complete) == (JUNE, date(2026, 6, 30), "2026-06", True)
    assert billing.resolve_month(wh, None, "2026-07-01").month == JUNE
    assert billing.resolve_month(wh, None, "2026-06-29").month == MAY
    may = billing.resolve_month(wh, "2026-05")
    assert (may.month, may.as_of, may.previous) == (MAY, date(2026, 5, 31), date(2026, 4, 1))
    with pytest.raises(ReportError, match="YYYY-MM"):
        billing.resolve_month(wh, "June")
    with pytest.raises(ReportError, match="no data for 2026-08"):
        billing.resolve_month(wh, "2026-08")


def test_coverage_says_which_services_a_month_holds_whole(wh):
    # Stream analytics reach back 90 days (from 2026-04-02), R2 metrics 31 (from 2026-05-31)
    may = billing.month_coverage(wh, "2026-05").set_index("source")
    assert may.loc["minutes_viewed", "complete"]
    assert may.loc[["r2_storage", "r2_operations", "r2_object_reads"], "days_covered"].tolist() \
        == [1, 1, 1]
    assert billing.month_coverage(wh, "2026-06")["complete"].all()
    april = billing.month_coverage(wh, "2026-04").set_index("source")
    assert april.loc["minutes_viewed", "days_covered"] == 29
    prev = billing.month_bill(wh, "2026-05")
    assert prev.known_total() is None and not prev.complete
    stream = sum(li.cost for li in _engine_bill(wh, "2026-05").line_items
                 if li.service == "Stream")
    assert prev.known_by_service() == {"Stream": stream, "R2": None}
    assert prev.gaps() == ["the warehouse holds R2 data for 1 of 31 days of May 2026"]


def test_the_bill_and_its_days_equal_the_engine(wh):
    engine = _engine_bill(wh, "2026-06")
    june = billing.month_bill(wh, "2026-06")
    # June: 430.985 with delivery in 209 whole blocks; pro rata it is 208,314 minutes / 1,000
    # x $1 = 208.314, so 430.985 - 209.00 + 208.314 = 430.299; the sandbox's planted archive/
    # prefix (IA) then adds IA storage 1,220 x $0.01 = 12.20 (was 1.71) and IA retrieval
    # 132 x $0.01 = 1.32 (was 1.05): 430.299 + 10.49 + 0.27 = 441.059; the planted cost
    # anomaly adds R2 operations 9.00 + 6.48 = 15.48 -> 456.539 (re-derived by hand in
    # test_costs_review and test_costs_usage)
    assert june.total == engine.total == Decimal("456.539") and june.complete
    by_service = june.by_service()
    assert sum(by_service.values()) == engine.total
    assert by_service["Stream"] == sum(li.cost for li in engine.line_items
                                       if li.service == "Stream")
    daily = billing.daily_costs(june.allocation)
    assert daily["date"].nunique() == 30
    per_sku = daily.groupby("sku_id")["cost"].agg(lambda s: sum(s, Decimal(0)))
    assert per_sku.to_dict() == {li.sku_id: li.cost for li in engine.line_items}
    items = june.line_items()
    assert items["cost"].tolist() == [li.cost for li in engine.line_items]
    change = billing.compare_months(june, billing.month_bill(wh, "2026-05")) \
        .set_index("service")
    stream_may = _engine_bill(wh, "2026-05")
    stream_may = sum(li.cost for li in stream_may.line_items if li.service == "Stream")
    assert change.loc["Stream", "change"] == by_service["Stream"] - stream_may
    assert change.loc["R2", "previous"] is None and change.loc["Total", "previous"] is None
    assert "1 of 31 days" in change.loc["Total", "note"]
    monthly = billing.monthly_costs(wh).set_index(["month", "service"])
    assert list(monthly.index.unique("month")) == ["2026-04", "2026-05", "2026-06"]
    assert monthly.loc[("2026-06", "R2"), "cost"] == by_service["R2"]
    assert monthly["complete"].tolist() == [False, False, True, False, True, True]


def test_forecast_and_runway_summaries_are_the_libraries(wh):
    mid = review.forecast_summary(wh, "2026-06-15")
    total = month_to_date(wh, "2026-06-15").set_index("sku_id").loc["total"]
    assert (mid["mtd_cost"], mid["forecast_cost"], mid["forecast_low"], mid["forecast_high"]) \
        == tuple(total[["mtd_cost", "forecast_cost", "forecast_low", "forecast_high"]])
    assert mid["forecast_low"] <= mid["forecast_cost"] <= mid["forecast_high"]
    assert (mid["days_elapsed"], mid["complete"]) == (15, False)
    end = review.forecast_summary(wh, "2026-06-30")
    assert end["complete"] and end["forecast_cost"] == end["mtd_cost"] == Decimal("456.539")
    runway = review.runway_summary(wh)
    lib = storage_runway(wh).iloc[0]
    assert runway["exhaustion_date"] == lib["exhaustion_date"] == date(2026, 7, 22)
    assert runway["days_until_exhaustion"] == lib["days_until_exhaustion"] == 21
    assert runway["capacity_minutes"] == 39000.0


def test_showback_tables_add_up_to_the_bill_with_names(wh):
    total = _engine_bill(wh, "2026-06").total
    names = set(wh.query("SELECT name FROM live_inputs")["name"])
    for by in review.SHOWBACK_BY:
        t = review.showback_table(wh, "2026-06", by)
        assert sum(t["cost"], Decimal(0)) == total, by
    live = review.showback_table(wh, "2026-06", "live_input")
    assert set(live["label"][:-1]) <= names and live["label"].iloc[-1].startswith("unallocated")


def test_presentation_helpers_keep_money_exact_until_shown():
    assert not hasattr(explanation, "usd")  # one formatter: lc_analytics.money.format_usd
    assert not hasattr(reports.tables, "usd") and not hasattr(reports.headlines, "usd")
    df = pd.DataFrame({"cost": [Decimal("1.25"), None], "n": [3, 4]})
    assert reports.plottable(df)["cost"].tolist()[0] == 1.25
    assert df["cost"].iloc[0] == Decimal("1.25")  # the original is untouched
    assert reports.money_table(df)["cost"].tolist() == ["$1.25", "n/a"]
    assert billing.last_complete_month(date(2026, 12, 31)) == date(2026, 12, 1)


# -- report runs -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def published(synced, tmp_path_factory):
    """costs and cost_review run once against the synced sandbox."""
    out = tmp_path_factory.mktemp("reports")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LC_ANALYTICS_DB", str(synced[1]))
        results = {name: run(name, out_root=out) for name in ("costs", "cost_review")}
    return out, results


def test_runs_publish_notebook_html_and_summary(published):
    out, results = published
    for name, res in results.items():
        assert res.folder == out / name / "2026-06-30"
        assert res.notebook.exists() and res.html.exists() and res.summary_path.exists()
        assert res.summary == json.loads(res.summary_path.read_text())
        assert res.summary["parameters"]["period"] == "2026-06"
        assert "period_start" not in res.summary["parameters"]
        assert _figures(res.notebook) >= 6
        html = res.html.read_text()
        assert external_resources(html) == [] and html.count("* plotly.js v") == 1
        assert "cd.month_bill" not in html  # code hidden
        nb = nbformat.read(res.notebook, as_version=4)
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
                  if o.get("name") == "stderr" or o.output_type == "error"]
        assert errors == [], errors  # no warning or traceback in a published report
    review = results["cost_review"].html.read_text()
    for text in ("What to do next", "lc-analytics apply PLAN --yes", "n/a", "2026-07-22"):
        assert text in review


def test_cost_review_numbers_equal_the_library(published, wh, recs):
    h = published[1]["cost_review"].headline
    engine = _engine_bill(wh, "2026-06")
    assert h["period"] == "2026-06" and h["as_of"] == "2026-06-30"
    # exact: 456.539 (see test_the_bill_and_its_days_equal_the_engine)
    assert h["bill_total"] == str(engine.total) == "456.53900"
    services = {}
    for li in engine.line_items:
        services[li.service] = services.get(li.service, Decimal(0)) + li.cost
    assert {k: Decimal(v) for k, v in h["bill_by_service"].items()} == services
    assert h["previous_period"] == "2026-05" and h["previous_total"] is None
    assert h["previous_by_service"]["R2"] is None
    assert Decimal(h["previous_by_service"]["Stream"]) == sum(
        li.cost for li in _engine_bill(wh, "2026-05").line_items if li.service == "Stream")
    lib = storage_runway(wh).iloc[0]
    assert h["runway"]["date"] == lib["exhaustion_date"].isoformat()
    assert h["runway"]["days"] == int(lib["days_until_exhaustion"])
    mtd = month_to_date(wh, "2026-06-30").set_index("sku_id").loc["total"]
    assert h["forecast"]["forecast_cost"] == str(mtd["forecast_cost"])
    assert h["forecast"]["month"] == "2026-06" and h["forecast"]["complete"] is True
    got = {r["id"]: r for r in h["recommendations"]}
    assert set(got) == {r.id for r in recs}
    for r in recs:
        assert got[r.id]["monthly_saving"] == str(r.monthly_saving)
        assert (got[r.id]["kind"], got[r.id]["target"], got[r.id]["action"],
                got[r.id]["confidence"]) == (r.kind, r.target, r.action, r.confidence)
    assert h["total_monthly_saving"] == str(sum((r.monthly_saving for r in recs), Decimal(0)))


def test_the_review_lists_recommendations_ranked(published, recs):
    # review_headline keeps the order it is given; the notebook passes them ranked
    h = published[1]["cost_review"].headline
    assert [r["id"] for r in h["recommendations"]] == [r.id for r in explanation.ranked(recs)]
    assert h["recommendations"][0]["kind"] == "storage_runway"


def test_costs_numbers_equal_the_library(published, wh):
    h = published[1]["costs"].headline
    engine = _engine_bill(wh, "2026-06")
    assert h["bill_total"] == str(engine.total)
    assert h["bill_by_sku"] == {li.sku_id: str(li.cost) for li in engine.line_items}
    assert h["runway_date"] == "2026-07-22" and h["mtd_month"] == "2026-06"
    aws = aws_comparison(wh, "2026-06").set_index("component").loc["Total"]
    assert h["aws_total"] == str(aws["aws_cost"])
    assert h == jsonable(h)  # already plain JSON


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed "
                    "(.ci/run installs Debian's chromium package)")
def test_every_chart_draws_in_headless_chromium_without_network(published, tmp_path):
    _, results = published
    ARTIFACTS.mkdir(exist_ok=True)
    for name, res in results.items():  # the whole page in one screenshot
        assert_every_chart_draws(name, res, tmp_path, height=PAGE_HEIGHT[name],
                                 min_png_bytes=100_000)


def test_a_month_notebook_takes_period_and_defaults_to_the_last_complete_month(
        synced, tmp_path, monkeypatch):
    monkeypatch.setenv("LC_ANALYTICS_DB", str(synced[1]))
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    params = new_code_cell("db = None\nperiod = None\nas_of = None")
    params.metadata["tags"] = ["parameters"]
    body = new_code_cell("from lc_analytics.reports import publish_summary\n"
                         "publish_summary({'period': period, 'as_of': as_of})")
    nbformat.write(new_notebook(cells=[params, body], metadata={"kernelspec": {
        "name": "lc-analytics", "language": "python", "display_name": "lc-analytics"}}),
        nbs / "month.ipynb")
    kw = {"out_root": tmp_path / "reports", "notebooks_dir": nbs}
    assert run("month", **kw).headline == {"period": "2026-06", "as_of": "2026-06-30"}
    assert run("month", period="2026-05", **kw).headline == {"period": "2026-05",
                                                              "as_of": "2026-05-31"}
    assert run("month", {"period": "2026-04"}, **kw).headline == {"period": "2026-04",
                                                                   "as_of": "2026-04-30"}


# -- a scheduled run beside a sync and an open notebook ----------------------------------------

READER = """
import json, sys, time
from pathlib import Path
from lc_analytics.warehouse import Warehouse

db, stop, out = sys.argv[1:4]
wh = Warehouse(db, read_only=True)  # an analyst's notebook: read-only, one query at a time
queries, errors, seen = 0, [], set()
while not Path(stop).exists():
    try:
        got = wh.query("SELECT max(date) AS d, count(*) AS n FROM minutes_viewed_daily")
        seen.add(str(got["d"].iloc[0])[:10])
        queries += 1
        if queries == 1:
            print("reading", flush=True)
    except Exception as exc:  # noqa: BLE001 - the test reports whatever the reader met
        errors.append(f"{type(exc).__name__}: {exc}")
    time.sleep(0.01)
Path(out).write_text(json.dumps({"queries": queries, "errors": errors, "seen": sorted(seen)}))
"""


def test_a_scheduled_run_succeeds_while_an_analyst_reads_and_a_sync_writes(account, synced_copy,
                                                                           tmp_path):
    db = synced_copy  # yesterday's sync of `account`
    stop, result = tmp_path / "stop", tmp_path / "reader.json"
    with Sandbox(account) as sb:
        def run_sync():
            return sync(sb.settings(db_path=db), transport=sb.transport,
                        now=lambda: account.now.to_pydatetime(), progress="none")

        reader = subprocess.Popen([sys.executable, "-c", READER, str(db), str(stop),
                                   str(result)], stdout=subprocess.PIPE, text=True)
        try:
            assert reader.stdout.readline().strip() == "reading"
            account.advance(1)  # a new day to sync while the notebook reads
            report = run_sync()
            res = run("cost_review", {"db": str(db)}, out_root=tmp_path / "reports")
            time.sleep(0.2)
        finally:
            stop.touch()
            reader.wait(timeout=60)
            reader.stdout.close()
    seen = json.loads(result.read_text())
    assert reader.returncode == 0 and seen["errors"] == [], seen["errors"][:3]
    assert seen["queries"] > 20 and seen["seen"] == ["2026-06-30", "2026-07-01"]
    assert report.rows["minutes_viewed_daily"] > 0
    runs = Warehouse(db, read_only=True).query("SELECT status FROM sync_runs")
    assert runs["status"].tolist() == ["ok", "ok"]
    h = res.headline
    assert (h["as_of"], h["period"]) == ("2026-07-01", "2026-06")
    assert (h["forecast"]["month"], h["forecast"]["days_elapsed"]) == ("2026-07", 1)
    assert h["bill_total"] == str(_engine_bill(Warehouse(db, read_only=True), "2026-06").total)


def test_one_saving_reads_the_same_in_the_report_cli_apply_and_summary(
        published, synced, tmp_path, capsys):
    """A saving is one string wherever people read it: the cost review's HTML, `recommend`'s
    output, `apply`'s dry run and summary.json's display field (ROUND_HALF_UP to the cent)."""
    import shutil

    from lc_analytics.actions import ApplyReport, render
    from lc_analytics.cli import main
    from lc_analytics.money import format_usd
    from lc_analytics.recommend.model import Plan

    res = published[1]["cost_review"]
    html, summary = res.html.read_text(), res.headline
    db = tmp_path / "wh.duckdb"
    shutil.copy(synced[1], db)
    plan_path = tmp_path / "plan.json"
    assert main(["recommend", "--db", str(db), "--plan", str(plan_path)]) == 0
    cli_out = capsys.readouterr().out
    plan = Plan.read(plan_path)
    dry_run = render(plan, ApplyReport(plan.id, dry_run=True))

    total = sum((r.monthly_saving for r in plan.recommendations), Decimal(0))
    assert str(total) == summary["total_monthly_saving"]
    shown = format_usd(total)
    assert summary["total_monthly_saving_display"] == shown
    assert f"estimated saving {shown}/month" in dry_run
    assert f"{shown}/month  in all" in cli_out
    assert f"worth {shown}/month" in html.replace("<strong>", "").replace("</strong>", "")
    by_id = {r["id"]: r for r in summary["recommendations"]}
    half_cent = [r for r in plan.recommendations if r.monthly_saving.as_tuple().exponent == -3
                 and r.monthly_saving.as_tuple().digits[-1] == 5]
    assert half_cent, "the sandbox plants a saving of a half cent (0.105): the rule shows"
    for r in plan.recommendations:
        text = format_usd(r.monthly_saving)
        assert by_id[r.id]["monthly_saving"] == str(r.monthly_saving)
        assert by_id[r.id]["monthly_saving_display"] == text
        assert f"{text}/month" in cli_out
        if r.monthly_saving > 0:
            assert f"{text}/month" in html, r.id
    assert "$0.11/month" in cli_out and "$0.105" not in html  # 0.105 rounds up, never exact
    # targets by name, never by 32-hex id, in every recommendation text people read
    hex_id = r"\b[0-9a-f]{32}\b"
    import re
    for r in plan.recommendations:
        assert not re.search(hex_id, r.action), r.action
        assert r.target_name in cli_out
    assert not re.search(hex_id, cli_out)
