"""The cost reports' headlines in words: Markdown for a manager from the numbers
`costs.review` computes. Formatting only; money is formatted by `lc_analytics.money`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from ..costs.billing import month_name
from ..costs.engine import month_bounds
from ..money import format_usd

__all__ = ["comparison_sentence", "headline_markdown"]


def comparison_sentence(s: Mapping[str, Any]) -> str:
    """What the account actually saves against AWS, in words (Markdown), with the seed's
    90% claim checked against R2 vs S3 alone, the rendition mix assumed and what is excluded.

    >>> print(comparison_sentence(aws_summary(wh, first, last)))       # doctest: +SKIP
    """
    mix = ", ".join(f"{r} {x:.0%}" for r, x in s["rendition_mix"].items())
    claim = s["claimed_r2_saving_share"]
    r2 = _versus(s["r2_saving"], s["r2_saving_share"], "R2", "S3")
    return (f"{s['period_start']} to {s['period_end']}: Cloudflare "
            f"{format_usd(s['cloudflare_total'])}, the same usage on AWS (S3 + CloudFront) "
            f"{format_usd(s['aws_total'])}: "
            + _versus(s["saving"], s["saving_share"], "Cloudflare", "AWS")
            + f". R2 alone against S3 (storage, requests, retrieval): "
            f"{format_usd(s['r2_total'])} vs {format_usd(s['s3_total'])}, so {r2} (the "
            f"project's seed claimed {claim:.0%}). Assumed rendition mix: {mix} "
            f"({s['delivered_mbps']:g} Mbps delivered on average). Not priced on AWS: "
            + "; ".join(s["excluded"]) + "."
            + (" Prices not confirmed on AWS's own page (see the AWS price book): "
               + ", ".join(s["unverified_prices"]) + "." if s.get("unverified_prices") else ""))


def headline_markdown(h: Mapping[str, Any]) -> str:
    """The review's headline as a two-column Markdown table, for a manager: the month's bill
    when the warehouse covers it whole, else the trailing days it can price whole and when
    the first whole month will be available (never a figure for an uncovered month).

    >>> print(headline_markdown(review_headline(...)))                 # doctest: +SKIP
    """
    month = month_bounds(h["period"])[0]
    rows = _lead_rows(h, month) if h.get("lead") else _month_rows(h, month)
    f = h["forecast"]
    fmonth = month_name(month_bounds(f["month"])[0])
    if f["complete"]:
        forecast = f"{format_usd(f['forecast_cost'])}: {fmonth} is complete (actual)"
    else:
        forecast = (f"**{format_usd(f['forecast_cost'])}** ({f['interval']:.0%} interval "
                    f"{format_usd(f['forecast_low'])} – {format_usd(f['forecast_high'])}); "
                    f"{format_usd(f['mtd_cost'])} so far, {f['days_elapsed']} of "
                    f"{f['days_in_month']} days")
    r = h["runway"]
    if r["date"] is None:
        runway = "not within the projection's horizon"
        if r["capacity_minutes"] is None:
            runway = "no prepaid capacity set"
    else:
        runway = (f"**{r['date']}**, in **{r['days']} days** (80%: {r['earliest']} – "
                  f"{r['latest'] or 'later'}); {r['stored_minutes']:,.0f} of "
                  f"{r['capacity_minutes']:,.0f} minutes used")
    recs = h["recommendations"]
    saving = (f"**{len(recs)}**, worth **{format_usd(h['total_monthly_saving'])}/month**"
              if recs else "none")
    rows += [(f"Forecast for {fmonth}", forecast), ("Prepaid Stream storage runs out", runway),
             ("Recommendations", saving)]
    if h.get("aws"):
        rows.append(("Against AWS (S3 + CloudFront)", _aws_cell(h["aws"])))
    when = (f"the last {h['lead']['days']} complete days" if h.get("lead")
            else month_name(month))
    caption = (f"*{when}, as of {h['as_of']}; list prices of {h['book']}; "
               f"{h['currency']}.*\n\n")
    return caption + "| | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)


def _month_rows(h: Mapping[str, Any], month: date) -> list[tuple[str, str]]:
    services = ", ".join(f"{s} {format_usd(c)}" for s, c in h["bill_by_service"].items())
    bill = f"**{format_usd(h['bill_total'])}** ({services})"
    prev_month = month_name(month_bounds(h["previous_period"])[0])
    if h["previous_total"] is not None:
        change = h["change_vs_previous"]
        ratio = f" ({float(change / h['previous_total']):+.1%})" if h["previous_total"] else ""
        vs = (f"{format_usd(h['previous_total'])} → {format_usd(h['bill_total'])}: "
              f"{format_usd(change, signed=True)}{ratio}")
    else:
        known = [f"{s} {format_usd(c)} → {format_usd(h['bill_by_service'][s])}"
                 for s, c in h["previous_by_service"].items() if c is not None]
        vs = "**n/a**: " + "; ".join(h["previous_gaps"] or ["no data"])
        if known:
            vs += " (known: " + ", ".join(known) + ")"
    return [(f"Bill for {month_name(month)}", bill), (f"vs {prev_month}", vs)]


def _lead_rows(h: Mapping[str, Any], month: date) -> list[tuple[str, str]]:
    lead = h["lead"]
    services = ", ".join(f"{s} {format_usd(c)}" for s, c in lead["by_service"].items())
    rows = [(f"Last {lead['days']} complete days ({lead['period_start']} to "
             f"{lead['period_end']})", f"**{format_usd(lead['total'])}** ({services})")]
    full = h.get("first_full_month")
    if full:
        first = month_name(month_bounds(full["month"])[0])
        rows.append(("First whole month", f"{first}: the first month the warehouse holds "
                     f"whole, so its bill is available from {full['priced_from']}. "
                     f"{month_name(month)} has no figure here: "
                     + "; ".join(h["bill_gaps"] or ["it is not over"])))
    return rows


def _aws_cell(a: Mapping[str, Any]) -> str:
    return (f"Cloudflare {format_usd(a['cloudflare_total'])}, AWS "
            f"{format_usd(a['aws_total'])}: "
            + _versus(a["saving"], a["saving_share"], "Cloudflare", "AWS") + "; R2 alone "
            + _versus(a["r2_saving"], a["r2_saving_share"], "", "S3").strip()
            + f" (the project's seed claimed R2 saves {a['claimed_r2_saving_share']:.0%})")


def _versus(saving: Decimal, share: float | None, us: str, them: str) -> str:
    pct = "" if share is None else f" ({abs(share):.1%})"
    if saving >= 0:
        return f"{us} saves **{format_usd(saving)}{pct}** against {them}"
    return f"{us} costs **{format_usd(-saving)}{pct} more** than {them}"
