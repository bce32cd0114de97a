"""lc_analytics.reports: data functions against the sandbox's truth, and runs end to end.

Runs: papermill into reports/<name>/<date>/, offline HTML drawn by headless Chromium, secrets
never published, a failing cell named.
"""

from __future__ import annotations

import json
import re
import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from lc_analytics import analyses
from lc_analytics.errors import LcAnalyticsError, UsageError
from lc_analytics.reports import ReportError, read_summary, run
from lc_analytics.reports.html import external_resources
from lc_analytics.reports.scrub import (
    check_parameters,
    configured_secrets,
    kernel_env,
    scrub_notebook,
)
from lc_analytics.reports.summary import jsonable, summary_markdown, with_display
from lc_analytics.settings import MASK
from lc_analytics.warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
JUNE = (date(2026, 6, 1), date(2026, 6, 30))
TOKEN = "tok-Zq8Xv3Lw9Rk2Pn7Ty4Hs"  # a fake API token, put in the environment of report runs
R2_SECRET = "r2s-Mf6Jd1Bc8Vx5Gt0Ye3Ua"
PLOTLY_MIME = "application/vnd.plotly.v1+json"


@pytest.fixture(scope="module")
def wh(synced) -> Warehouse:
    return Warehouse(synced[1], read_only=True)


@pytest.fixture(scope="module")
def truth(synced):
    return synced[0].account.ground_truth()


def _june(df: pd.DataFrame) -> pd.DataFrame:
    day = pd.to_datetime(df["date"]).dt.date
    return df[(day >= JUNE[0]) & (day <= JUNE[1])]


# -- data functions ----------------------------------------------------------------------------

def test_period_defaults_to_30_days_ending_with_the_last_synced_day(wh):
    p = analyses.resolve_period(wh)
    assert (p.start, p.end, p.as_of) == (*JUNE, date(2026, 6, 30))
    assert analyses.resolve_period(wh, "2026-05-01", "2026-05-31").as_of == date(2026, 5, 31)
    assert analyses.resolve_period(wh, None, "2026-07-31").end == date(2026, 6, 30)  # clipped
    with pytest.raises(ReportError, match="starts after it ends"):
        analyses.resolve_period(wh, "2026-06-10", "2026-06-01")
    with pytest.raises(ReportError, match="not a date"):
        analyses.resolve_period(wh, "June")


def test_live_and_on_demand_minutes_equal_the_truth(wh, truth):
    got = analyses.minutes_by_day(wh, *JUNE)
    assert len(got) == 60  # every day, both modes
    mv = _june(truth.minutes_viewed)
    assert got.loc[got["mode"] == "live", "minutes"].sum() == mv.loc[mv["is_live"],
                                                                     "minutes_viewed"].sum()
    assert got.loc[got["mode"] == "on demand", "minutes"].sum() == \
        mv.loc[~mv["is_live"], "minutes_viewed"].sum()


def test_minutes_by_country_broadcaster_and_show(wh, truth):
    mv = _june(truth.minutes_viewed)
    countries = analyses.minutes_by_country(wh, *JUNE)
    assert dict(zip(countries["country"], countries["minutes"], strict=True)) == \
        mv.groupby("country")["minutes_viewed"].sum().astype(float).to_dict()
    assert countries["minutes"].is_monotonic_decreasing
    assert countries["share"].sum() == pytest.approx(1.0)
    creators = analyses.minutes_by_broadcaster(wh, *JUNE)
    assert dict(zip(creators["creator"], creators["minutes"], strict=True)) == \
        mv.groupby("creator")["minutes_viewed"].sum().astype(float).to_dict()
    shows = analyses.minutes_by_show(wh, *JUNE).set_index("live_input_uid")
    planted = {p.kind: p for p in truth.planted if not p.healthy}
    unwatched = shows.loc[planted["unwatched_recordings"].target]
    assert unwatched["live"] > 0 and unwatched["on demand"] == 0
    assert shows["recordings"].min() == 0  # the live input with recording off has no videos


def test_top_recordings_and_show_summary(wh, truth):
    top = analyses.top_recordings(wh, *JUNE, n=5)
    assert len(top) == 5 and top["minutes"].is_monotonic_decreasing
    uid = analyses.latest_recording(wh, date(2026, 6, 30))
    show = analyses.show_summary(wh, None, date(2026, 6, 30))
    assert show.headline["uid"] == uid
    mv = truth.minutes_viewed[truth.minutes_viewed["uid"] == uid]
    assert show.headline["live_minutes"] == mv.loc[mv["is_live"], "minutes_viewed"].sum()
    assert show.headline["average_live_viewers"] == pytest.approx(
        show.headline["live_minutes"] / show.headline["duration_minutes"], rel=1e-3)
    assert len(show.previous) == 10 and "Average live audience" in show._repr_markdown_()
    with pytest.raises(ReportError, match="not a video"):
        analyses.show_summary(wh, "nope", date(2026, 6, 30))


def test_decay_curve_by_age(wh):
    curve = analyses.minutes_by_age(wh, date(2026, 6, 30), max_age=30)
    assert list(curve["age_days"]) == list(range(31))
    assert curve["share"].iloc[0] == 1.0
    assert curve["mean"].iloc[0] > 5 * curve["mean"].iloc[1]  # the live day dominates
    assert curve["recordings"].iloc[0] >= curve["recordings"].iloc[-1] > 0
    assert (curve["p90"] >= curve["p50"]).all()
    pct = analyses.on_demand_percentiles(curve)
    within = analyses.on_demand_within(curve, days=(7, 30))
    assert 1 <= pct["p50"] <= pct["p90"] <= 30 and within["within_30d"] == 1.0


def test_delivery_gb_uses_the_rendition_mix(wh, truth):
    mix = analyses.rendition_mix(minutes=1000)
    assert list(mix["rendition"]) == ["1080p", "720p", "480p", "360p"]
    assert list(mix["share"]) == [0.3, 0.4, 0.2, 0.1]
    assert analyses.delivered_mbps() == Decimal("4.9")
    assert mix["gb"].sum() == pytest.approx(1000 * 60 * 4.9 / 8 / 1000)
    got = analyses.delivery_by_day(wh, *JUNE)
    daily = _june(truth.minutes_viewed_daily)
    assert list(got["minutes"]) == list(daily["minutes_viewed"].astype(float))
    assert got["gb"].sum() == pytest.approx(got["minutes"].sum() * 0.03675)
    with pytest.raises(ReportError, match="add up to 1"):
        analyses.delivered_mbps({"1080p": 0.5})


def test_r2_operations_storage_and_listing_cost(wh, truth, synced):
    ops = analyses.r2_operations_by_bucket(wh, *JUNE)
    want = _june(truth.r2_operations_by_class).groupby(["bucket", "op_class"])["requests"].sum()
    got = ops.set_index(["bucket", "op_class"])["requests"]
    assert got.to_dict() == want[want > 0].to_dict()
    by_class = analyses.r2_storage_by_class(wh)
    summary = truth.r2_objects_summary
    assert by_class["objects"].sum() == summary["objects"].sum()
    assert by_class["gb"].sum() == pytest.approx(summary["bytes"].sum() / 1e9)
    storage = analyses.r2_storage_by_day(wh, *JUNE)
    assert len(storage) == 30 * 4
    calls = analyses.listing_calls(wh)
    assert calls["calls"].sum() == synced[2].listing_calls
    cost = analyses.listing_cost(wh, date(2026, 6, 30))
    assert cost["price_per_call"] == Decimal("4.50") / 1_000_000
    assert cost["cost_last_run"] == cost["price_per_call"] * synced[2].listing_calls
    assert cost["cost_per_month_daily"] == cost["cost_last_run"] * 30


# -- summaries and scrubbing -----------------------------------------------------------------

def test_jsonable_and_summary_markdown():
    got = jsonable({"m": Decimal("0.0000045"), "d": date(2026, 6, 30), "n": float("nan"),
                    "i": pd.Series([3]).iloc[0], "t": (1, 2)})
    assert got == {"m": "0.0000045", "d": "2026-06-30", "n": None, "i": 3, "t": [1, 2]}
    assert type(got["i"]) is int
    with pytest.raises(UsageError):
        jsonable({"x": object()})
    assert "| minutes viewed | 1,234 |" in summary_markdown({"minutes_viewed": 1234.0})


def test_scrub_masks_secrets_everywhere_and_drops_environment():
    nb = {"metadata": {"papermill": {"parameters": {"note": f"x{TOKEN}"},
                                     "environment_variables": {"T": TOKEN},
                                     "input_path": "/tmp/a", "output_path": "/tmp/b"}},
          "cells": [{"cell_type": "code", "source": f"t = '{TOKEN}'", "metadata": {},
                     "outputs": [{"output_type": "error", "traceback": [f"E {TOKEN}"],
                                  "data": {TOKEN: 1}}]}]}
    out = scrub_notebook(nb, [TOKEN], paths={"input_path": "notebooks/x.ipynb"})
    text = json.dumps(out)
    assert TOKEN not in text and MASK in text
    assert "environment_variables" not in out["metadata"]["papermill"]
    assert out["metadata"]["papermill"]["input_path"] == "notebooks/x.ipynb"
    assert TOKEN in json.dumps(nb)  # the input is left alone


def test_secrets_are_found_refused_and_kept_from_the_kernel():
    env = {"CLOUDFLARE_API_TOKEN": TOKEN, "R2_SECRET_ACCESS_KEY": R2_SECRET,
           "GITHUB_TOKEN": "ghp_abcdefgh", "LC_ANALYTICS_DB": "x.duckdb", "SHORT_TOKEN": "ab"}
    assert set(configured_secrets(env, env_file=None)) == {TOKEN, R2_SECRET, "ghp_abcdefgh"}
    assert kernel_env(env) == {"LC_ANALYTICS_DB": "x.duckdb"}
    with pytest.raises(ReportError, match="looks like a secret"):
        check_parameters({"api_token": "x"}, [TOKEN])
    with pytest.raises(ReportError, match="contains a configured secret"):
        check_parameters({"note": f"see {TOKEN}"}, [TOKEN])
    check_parameters({"db": "x.duckdb", "as_of": "2026-06-30"}, [TOKEN])


def test_external_resources_are_detected():
    assert external_resources('<script src="https://cdn.plot.ly/plotly.min.js"></script>')
    assert external_resources('<link rel="stylesheet" href="//fonts.example/x.css">')
    assert external_resources('<script type="module">import "https://esm.sh/x"</script>')
    assert not external_resources('<svg xmlns="http://www.w3.org/2000/svg"></svg><script>'
                                  'var a = "https://example.com";</script>')


# -- report runs -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def published(synced, tmp_path_factory):
    """viewers and bandwidth run once, with fake secrets in the environment."""
    out = tmp_path_factory.mktemp("reports")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LC_ANALYTICS_DB", str(synced[1]))
        mp.setenv("CLOUDFLARE_API_TOKEN", TOKEN)
        mp.setenv("R2_SECRET_ACCESS_KEY", R2_SECRET)
        results = {name: run(name, out_root=out) for name in ("viewers", "bandwidth")}
    return out, results


def _figures(notebook: Path) -> int:
    nb = nbformat.read(notebook, as_version=4)
    return sum(PLOTLY_MIME in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
               for o in c.outputs)


def test_runs_publish_notebook_html_and_summary(published):
    out, results = published
    for name, res in results.items():
        assert res.folder == out / name / "2026-06-30"
        assert res.notebook.exists() and res.html.exists() and res.summary_path.exists()
        assert res.summary == json.loads(res.summary_path.read_text())
        assert res.summary["parameters"]["period_start"] == "2026-06-01"
        assert _figures(res.notebook) >= 4
        nb = nbformat.read(res.notebook, as_version=4)
        assert read_summary(nb) == res.headline
        html = res.html.read_text()  # code is hidden, markdown and outputs are shown
        assert "publish_summary(" not in html and "lcnb.warehouse" not in html
        assert "How recordings are watched" in html or "R2 operations by bucket" in html
    index = (out / "index.html").read_text()
    for name in results:
        for file in (f"{name}.html", f"{name}.ipynb", "summary.json"):
            assert f'href="{name}/2026-06-30/{file}"' in index


def test_summary_numbers_equal_the_library(published, wh):
    _, results = published
    period = analyses.resolve_period(wh)
    assert results["viewers"].headline == jsonable(with_display(analyses.viewers_headline(wh,
                                                                                     period)))
    bandwidth = results["bandwidth"].headline
    assert bandwidth == jsonable(with_display(analyses.bandwidth_headline(wh, period)))
    assert bandwidth["listing_price_per_call"] == "0.0000045"
    assert bandwidth["listing_price_per_call_display"] == "< $0.01"
    assert bandwidth["delivered_mbps"] == 4.9 and "delivered_mbps_display" not in bandwidth


def test_html_is_offline_with_plotly_inlined_once(published):
    _, results = published
    for res in results.values():
        html = res.html.read_text()
        assert external_resources(html) == []
        assert not re.search(r"<script[^>]*\bsrc=", html)
        assert html.count("* plotly.js v") == 1
        assert html.count('class="plotly-graph-div"') == _figures(res.notebook)


def test_secrets_in_the_environment_are_never_published(published):
    out, _ = published
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} >= {".ipynb", ".html", ".json"}
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert TOKEN not in text and R2_SECRET not in text, path
    for res in published[1].values():
        pm = json.loads(res.notebook.read_text())["metadata"]["papermill"]
        assert "environment_variables" not in pm
        assert set(pm["parameters"]) == {"db", "period_start", "period_end", "as_of"}


def _tiny(folder: Path, name: str, *cells: str, params: str = "db = None\nas_of = None\n"
          "note = ''") -> None:
    params = new_code_cell(params)
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[new_markdown_cell(f"# {name}"), params,
                             *map(new_code_cell, cells)],
                      metadata={"kernelspec": {"name": "lc-analytics", "language": "python",
                                               "display_name": "lc-analytics"}})
    nbformat.write(nb, folder / f"{name}.ipynb")


def test_a_failing_cell_raises_naming_it_and_keeps_the_partial_notebook(synced, tmp_path,
                                                                         monkeypatch):
    monkeypatch.setenv("LC_ANALYTICS_DB", str(synced[1]))
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", TOKEN)
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    _tiny(nbs, "boom", "import os\nprint('token:', os.environ.get('CLOUDFLARE_API_TOKEN'))",
          "x = 1 / 0  # the failing cell\ny = 2", "z = 3")
    with pytest.raises(ReportError) as info:
        run("boom", out_root=tmp_path / "reports", notebooks_dir=nbs, as_of="2026-06-30")
    err = info.value
    assert isinstance(err, LcAnalyticsError) and err.exit_code == 7
    assert err.context["cell_index"] == 3 and "cell 3 of boom.ipynb" in str(err)
    assert err.context["cell_first_line"] == "x = 1 / 0  # the failing cell"
    assert err.context["ename"] == "ZeroDivisionError"
    [folder] = (tmp_path / "reports" / "boom").glob("2026-06-30.failed-*")
    partial = nbformat.read(folder / "boom.ipynb", as_version=4)
    assert Path(err.context["notebook"]) == folder / "boom.ipynb"
    outputs = [o for c in partial.cells if c.cell_type == "code" for o in c.outputs]
    assert any(o.output_type == "error" and o.ename == "ZeroDivisionError" for o in outputs)
    assert any(o.get("text") == "token: None\n" for o in outputs)  # the kernel had no token
    assert sorted(p.name for p in folder.iterdir()) == ["boom.ipynb"]
    index = (tmp_path / "reports" / "index.html").read_text()
    assert "boom" in index and "failed" in index
    assert TOKEN not in (folder / "boom.ipynb").read_text()
    # a failing cell right after the parameters is cell 2 (papermill's cells are not counted)
    _tiny(nbs, "early", "raise RuntimeError('early')")
    with pytest.raises(ReportError, match=r"cell 2 of early\.ipynb") as info:
        run("early", out_root=tmp_path / "reports", notebooks_dir=nbs, as_of="2026-06-30")
    assert info.value.context["cell_first_line"] == "raise RuntimeError('early')"


def test_period_sets_the_parameters_and_names_the_run_folder(synced, tmp_path, monkeypatch):
    monkeypatch.setenv("LC_ANALYTICS_DB", str(synced[1]))
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    _tiny(nbs, "tiny", "from lc_analytics.reports import publish_summary\n"
          "publish_summary({'period': [period_start, period_end], 'as_of': as_of, 'db': db})",
          params="db = None\nperiod_start = None\nperiod_end = None\nas_of = None")
    res = run("tiny", out_root=tmp_path / "reports", notebooks_dir=nbs, period="2026-05")
    assert res.folder == tmp_path / "reports" / "tiny" / "2026-05-31"
    assert res.headline == {"period": ["2026-05-01", "2026-05-31"], "as_of": "2026-05-31",
                            "db": str(synced[1])}
    assert res.date == date(2026, 5, 31) and external_resources(res.html.read_text()) == []


def test_bad_requests_fail_before_any_kernel_starts(synced, tmp_path, monkeypatch):
    monkeypatch.setenv("LC_ANALYTICS_DB", str(synced[1]))
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", TOKEN)
    with pytest.raises(ReportError, match="no report notebook"):
        run("nope", out_root=tmp_path)
    with pytest.raises(ReportError, match="not a report name"):
        run("../viewers", out_root=tmp_path)
    with pytest.raises(ReportError, match="has no parameter"):
        run("viewers", {"colour": "red"}, out_root=tmp_path)
    with pytest.raises(ReportError, match="looks like a secret"):
        run("viewers", {"api_token": "x"}, out_root=tmp_path)
    with pytest.raises(ReportError, match="contains a configured secret"):
        run("viewers", {"show_uid": TOKEN}, out_root=tmp_path)
    with pytest.raises(ReportError, match="YYYY-MM"):
        run("viewers", out_root=tmp_path, period="June")
    monkeypatch.setenv("LC_ANALYTICS_DB", str(tmp_path / "missing.duckdb"))
    with pytest.raises(LcAnalyticsError, match="no warehouse"):
        run("viewers", out_root=tmp_path)
    assert not list(tmp_path.rglob("*.ipynb"))


# -- the HTML in a real browser ------------------------------------------------------------------

def _chromium(url: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
           # every connection goes to a closed local port: the page gets no network at all
           "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
           "--virtual-time-budget=10000", "--hide-scrollbars", *args, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed "
                    "(.ci/run installs Debian's chromium package)")
def test_every_chart_draws_in_headless_chromium_without_network(published, tmp_path):
    _, results = published
    ARTIFACTS.mkdir(exist_ok=True)
    for name, res in results.items():
        assert_every_chart_draws(name, res, tmp_path, height=2000, min_png_bytes=20_000)


def assert_every_chart_draws(name: str, res, workdir: Path, *, height: int,
                             min_png_bytes: int) -> None:
    """One offline browser run: every plotly figure drew, and a screenshot kept for a human."""
    shot = ARTIFACTS / f"{name}.png"
    shot.unlink(missing_ok=True)
    got = _chromium(res.html.resolve().as_uri(), workdir / name, "--dump-dom",
                    f"--screenshot={shot}", f"--window-size=1280,{height}")
    assert got.returncode == 0, got.stderr[-2000:]
    figures = _figures(res.notebook)
    drawn = got.stdout.count('class="main-svg"')
    assert drawn >= figures, f"{name}: {drawn} plotly SVGs for {figures} figures"
    assert shot.stat().st_size > min_png_bytes, got.stderr[-2000:]


def test_reports_default_to_the_configured_warehouse_not_the_demo(tmp_path, monkeypatch):
    """A cron job with its settings in .env must report on the real warehouse."""
    from lc_analytics.notebook import default_db

    monkeypatch.delenv("LC_ANALYTICS_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_db() == Path("data/lc_analytics.duckdb")
    (tmp_path / ".env").write_text("LC_ANALYTICS_DB=/srv/wh/prod.duckdb\n")
    assert default_db() == Path("/srv/wh/prod.duckdb")
