"""Cache rules: a path prefix serving static content that the CDN barely caches, and no rule.

The rule, per zone, host and path prefix, over the last `cache_lookback_days` (default 7) of synced
hourly traffic:

- static: at least `min_static_share` (90%) of its requests are for files with an extension
  Cloudflare caches by default (`STATIC_EXTENSIONS`) and at least that share are answered
  2xx/3xx (a prefix answering errors is not made cacheable);
- poorly cached: its hit ratio by requests is under `max_hit_ratio` (50%; hit statuses per
  reference 8.1), with at least `min_requests` requests in the window;
- uncovered: no enabled caching rule of the zone covers the prefix.

Proposed: a cache rule `http.host eq <host> and starts_with(http.request.uri.path, <prefix>)`,
Cache Everything with edge TTL `edge_ttl_seconds` (30 days) and browser TTL
`browser_ttl_seconds` (1 day), the seed's `/static/*` settings; applied through the Rulesets
API as the zone's entrypoint with the rule added (dry run first, stale plans refused).

Estimated effect: the origin bytes a month that the rule saves = the prefix's bytes a day x
(expected byte hit ratio - current one) x 30, where the expected ratio is what the zone's own
covered static prefixes achieve (else `DEFAULT_EXPECTED_HIT_RATIO`). Money: Cloudflare does not
bill this bandwidth; the value is origin load and origin egress, priced by the engine only when
the origin's egress price is stated (`origin_egress_usd_per_gb`, LC_ANALYTICS_ORIGIN_EGRESS_
USD_PER_GB, or a price book with an egress meter as `origin_book`, e.g. "aws"); otherwise the
saving is $0 and the bytes are the evidence.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd

from ..analyses.cdn import covering_rules
from ..costs.engine import Usage, price_period
from ..costs.pricebook import PriceBook, Sku, load_book
from ..readmodel.zone import zone_cache_rules, zone_hourly
from ..sources.zone import rule_body, rule_from_record
from ..warehouse import Warehouse
from ._common import money, pct
from ._evidence_base import EvidenceBase, evidence_for
from .model import Action, Recommendation

KIND = "cache_rule"
#: File extensions Cloudflare caches by default (cache/concepts/default-cache-behavior).
STATIC_EXTENSIONS = frozenset({
    "7z", "avi", "avif", "apk", "bin", "bmp", "bz2", "class", "css", "csv", "doc", "docx",
    "dmg", "ejs", "eot", "eps", "exe", "flac", "gif", "gz", "ico", "iso", "jar", "jpg",
    "jpeg", "js", "mid", "midi", "mkv", "mp3", "mp4", "ogg", "otf", "pdf", "pict", "pls",
    "png", "ppt", "pptx", "ps", "rar", "svg", "svgz", "swf", "tar", "tif", "tiff", "ttf",
    "webm", "webp", "woff", "woff2", "xls", "xlsx", "zip", "zst"})
MAX_HIT_RATIO = 0.5
MIN_STATIC_SHARE = 0.9
MIN_REQUESTS = 10_000
LOOKBACK_DAYS = 7
EDGE_TTL_SECONDS = 30 * 86_400
BROWSER_TTL_SECONDS = 86_400
DEFAULT_EXPECTED_HIT_RATIO = 0.9
MONTH_DAYS = 30
GB = 10**9


@dataclass(frozen=True)
class CacheRuleParams:
    """The rule's thresholds and the TTLs it proposes."""

    max_hit_ratio: float = MAX_HIT_RATIO
    min_static_share: float = MIN_STATIC_SHARE
    min_requests: int = MIN_REQUESTS
    cache_lookback_days: int = LOOKBACK_DAYS
    edge_ttl_seconds: int = EDGE_TTL_SECONDS
    browser_ttl_seconds: int = BROWSER_TTL_SECONDS
    origin_egress_usd_per_gb: Decimal | None = None  # prices the origin bytes saved


@evidence_for(KIND)
@dataclass(frozen=True, kw_only=True)
class CacheRuleEvidence(EvidenceBase):
    """What was measured on the prefix, and what the rule is expected to change; `explain`
    adds the proposed rule and the confidence's reason."""

    zone_id: str
    host: str
    prefix: str
    first: str
    last: str
    requests: int
    bytes: int
    hit_ratio_requests: float
    hit_ratio_bytes: float
    static_share: float
    ok_share: float
    extensions: tuple[str, ...]
    expected_hit_ratio_bytes: float
    expected_from: str
    origin_bytes_saved_per_month: int
    proposed_rule: dict[str, Any] = field(default_factory=dict)
    confidence_reason: str = ""

    def summary(self) -> str:
        return (f"{self.host}{self.prefix}: {self.requests:,} requests ({pct(self.static_share)}"
                f" static: {', '.join(self.extensions)}), {pct(self.hit_ratio_requests)} "
                f"served from cache, {self.bytes / GB:,.1f} GB from {self.first} to "
                f"{self.last}; a rule saves the origin about "
                f"{self.origin_bytes_saved_per_month / GB:,.1f} GB a month")


@dataclass(frozen=True)
class Candidate:
    """One prefix the rule found, with its zone's current cache rules."""

    evidence: CacheRuleEvidence
    rules: list[dict[str, Any]]


def recommend_cache_rules(wh: Warehouse, *, book: PriceBook | str | None = None,
                          as_of: date | str | None = None,
                          rule: CacheRuleParams | None = None,
                          origin_book: PriceBook | str | None = None) -> list[Recommendation]:
    """A cache rule for each uncovered static prefix with a low hit ratio (see the module).

    `rule` holds the thresholds, the TTLs and the origin's egress price (default
    `CacheRuleParams()`); `book` is unused (Cloudflare does not bill this bandwidth); the
    rule's `origin_egress_usd_per_gb` or `origin_book` price the origin's egress.

    >>> recommend_cache_rules(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    """
    params = rule or CacheRuleParams()
    found = find(wh, params, as_of)
    pricing = _origin_pricing(params.origin_egress_usd_per_gb, origin_book)
    return [explain(c, price(c, pricing), params) for c in found]


def find(wh: Warehouse, params: CacheRuleParams,
         as_of: date | str | None = None) -> list[Candidate]:
    """The prefixes the rule flags, over the last `cache_lookback_days` of hourly traffic."""
    last = date.fromisoformat(as_of) if isinstance(as_of, str) else as_of
    h = zone_hourly(wh, last=last)
    if h.empty:
        return []
    last = last or h["date"].max()
    h = h[h["date"] > last - timedelta(days=params.cache_lookback_days)]
    h = h.assign(static=h["extension"].isin(STATIC_EXTENSIONS),
                 ok=h["status_class"].isin(["2xx", "3xx"]))
    found = []
    all_rules = zone_cache_rules(wh)
    for (zone, host, prefix), g in h.groupby(["zone_id", "host", "path_prefix"]):
        stats = _stats(g)
        rules = all_rules[all_rules["zone_id"] == zone]
        if (stats["requests"] < params.min_requests
                or stats["static_share"] < params.min_static_share
                or stats["ok_share"] < params.min_static_share
                or stats["hit_ratio_requests"] >= params.max_hit_ratio
                or len(covering_rules(rules, host, prefix))):
            continue
        expected, source = _expected(h[h["zone_id"] == zone], rules)
        days = g["date"].nunique()
        saved = max(0.0, stats["bytes"] / days * (expected - stats["hit_ratio_bytes"]))
        found.append(Candidate(CacheRuleEvidence(
            zone_id=zone, host=host, prefix=prefix, first=str(g["date"].min()),
            last=str(g["date"].max()), requests=int(stats["requests"]),
            bytes=int(stats["bytes"]), hit_ratio_requests=stats["hit_ratio_requests"],
            hit_ratio_bytes=stats["hit_ratio_bytes"], static_share=stats["static_share"],
            ok_share=stats["ok_share"],
            extensions=tuple(sorted(set(g.loc[g["static"], "extension"]))),
            expected_hit_ratio_bytes=expected, expected_from=source,
            origin_bytes_saved_per_month=int(saved * MONTH_DAYS)),
            [rule_from_record(r) for r in rules.to_dict("records")]))
    return found


def _stats(g: pd.DataFrame) -> dict[str, float]:
    req, byt = float(g["requests"].sum()), float(g["bytes"].sum())
    return {"requests": req, "bytes": byt,
            "hit_ratio_requests": float(g.loc[g["hit"], "requests"].sum()) / req if req else 0,
            "hit_ratio_bytes": float(g.loc[g["hit"], "bytes"].sum()) / byt if byt else 0,
            "static_share": float(g.loc[g["static"], "requests"].sum()) / req if req else 0,
            "ok_share": float(g.loc[g["ok"], "requests"].sum()) / req if req else 0}


def _expected(zone: pd.DataFrame, rules: pd.DataFrame) -> tuple[float, str]:
    """The byte hit ratio the zone's covered static prefixes achieve, and which they are."""
    hit = byt = 0.0
    names = []
    for (host, prefix), g in zone.groupby(["host", "path_prefix"]):
        static = float(g.loc[g["static"], "requests"].sum()) >= 0.9 * float(g["requests"].sum())
        if static and len(covering_rules(rules, host, prefix)):
            hit += float(g.loc[g["hit"], "bytes"].sum())
            byt += float(g["bytes"].sum())
            names.append(f"{host}{prefix}")
    if not byt:
        return DEFAULT_EXPECTED_HIT_RATIO, "default (no covered static prefix in the zone)"
    return hit / byt, "measured on " + ", ".join(names)


@dataclass(frozen=True)
class Priced:
    """The rule's monthly value: origin bytes saved, and dollars when egress is priced."""

    saving: Decimal
    text: str


def _origin_pricing(usd_per_gb: Decimal | None,
                    origin_book: PriceBook | str | None) -> PriceBook | None:
    if usd_per_gb is not None:
        return origin_egress_book(usd_per_gb)
    if isinstance(origin_book, str):
        origin_book = load_book(origin_book)
    if origin_book is not None and any(s.meter == "egress" for v in
                                       origin_book.versions.values() for s in v):
        return origin_book
    return None


def origin_egress_book(usd_per_gb: Decimal) -> PriceBook:
    """A one-SKU book pricing the origin's egress at the stated price per GB (no free tier).

    >>> origin_egress_book(Decimal("0.09")).price("origin-egress", date(2026, 1, 1)).amount
    Decimal('0.09')
    """
    sku = Sku("origin-egress", "egress", "origin", "Origin egress to Cloudflare, per GB",
              "GB", "GB", Decimal(1), Decimal(usd_per_gb), Decimal(0), "none", "usage",
              date(2000, 1, 1), "LC_ANALYTICS_ORIGIN_EGRESS_USD_PER_GB (your setting)")
    return PriceBook("origin-egress", "origin", "USD", {"bytes_per_gb": GB},
                     {"origin-egress": (sku,)}, ("origin egress price (setting)",))


def price(c: Candidate, book: PriceBook | None) -> Priced:
    """The engine's price of the origin egress the rule removes, over a 30-day period (the
    prefix's current origin bytes a day, and what remains with the rule)."""
    e = c.evidence
    saved_gb = e.origin_bytes_saved_per_month / GB
    if book is None:
        return Priced(Decimal(0), (
            f"Cloudflare does not bill this bandwidth: the rule saves the origin about "
            f"{saved_gb:,.1f} GB a month ({e.bytes / GB:,.1f} GB served in the window at "
            f"{pct(e.hit_ratio_bytes)} from cache, {pct(e.expected_hit_ratio_bytes)} "
            f"expected); set LC_ANALYTICS_ORIGIN_EGRESS_USD_PER_GB (or use a price book "
            "with the origin's egress) to price it"))
    first = date.fromisoformat(e.last) + timedelta(days=1)
    days = [first + timedelta(days=i) for i in range(MONTH_DAYS)]
    per_day = e.bytes / (date.fromisoformat(e.last) - date.fromisoformat(e.first)).days \
        if e.last != e.first else e.bytes
    now = [{"date": d, "bytes": int(per_day * (1 - e.hit_ratio_bytes))} for d in days]
    after = [{"date": d, "bytes": int(per_day * (1 - e.expected_hit_ratio_bytes))}
             for d in days]
    before_bill = price_period(Usage(egress=now), days[0], days[-1], book)
    after_bill = price_period(Usage(egress=after), days[0], days[-1], book)
    saving = max(Decimal(0), before_bill.total - after_bill.total)
    return Priced(saving, (
        f"Engine ({book.label}): origin egress over 30 days {money(before_bill.total)} now, "
        f"{money(after_bill.total)} with the rule ({pct(e.hit_ratio_bytes)} -> "
        f"{pct(e.expected_hit_ratio_bytes)} of bytes from cache) = {money(saving)}/month; "
        "Cloudflare itself does not bill this bandwidth"))


def proposed_rule(e: CacheRuleEvidence, params: CacheRuleParams) -> dict[str, Any]:
    """The cache rule proposed for the prefix (Rulesets `set_cache_settings`)."""
    return {"description": f"Cache {e.host}{e.prefix} (lc-analytics)",
            "expression": (f'(http.host eq "{e.host}" and '
                           f'starts_with(http.request.uri.path, "{e.prefix}"))'),
            "action": "set_cache_settings", "enabled": True,
            "action_parameters": {
                "cache": True,
                "edge_ttl": {"mode": "override_origin", "default": params.edge_ttl_seconds},
                "browser_ttl": {"mode": "override_origin",
                                "default": params.browser_ttl_seconds}}}


def explain(c: Candidate, priced: Priced, params: CacheRuleParams) -> Recommendation:
    """The recommendation: the rule, its evidence, and the Rulesets action that adds it."""
    e = c.evidence
    rid = f"{KIND}:{e.zone_id}:{e.host}{e.prefix}"
    rule = proposed_rule(e, params)
    current = [rule_body(r) for r in c.rules]
    action = Action(
        id=f"zone.cache_rules:{e.zone_id}:{e.host}{e.prefix}", kind="zone.cache_rules",
        resource=e.zone_id, current={"rules": current},
        proposed={"rules": [*current, rule]},
        why=(f"{e.host}{e.prefix} serves static files ({', '.join(e.extensions)}) and only "
             f"{pct(e.hit_ratio_requests)} of its requests come from cache; no rule covers it"),
        recommendation_id=rid)
    return Recommendation(
        id=rid, kind=KIND, target_type="zone_prefix", target=f"{e.host}{e.prefix}",
        action=(f"Add a cache rule for {e.host}{e.prefix}: Cache Everything, edge TTL "
                f"{params.edge_ttl_seconds // 86_400} days, browser TTL "
                f"{params.browser_ttl_seconds // 3_600} hours (expression {rule['expression']})"),
        evidence=dataclasses.replace(
            e, proposed_rule=rule,
            confidence_reason=f"{e.requests:,} requests over {e.first}..{e.last}, sampled "
                              "estimates"),
        rule=(f"static share >= {pct(params.min_static_share)} (by extension and 2xx/3xx), "
              f"hit ratio < {pct(params.max_hit_ratio)} over the last {params.cache_lookback_days} "
              f"days, >= {params.min_requests:,} requests, and no caching rule covers it"),
        monthly_saving=priced.saving, saving_computation=priced.text,
        viewer_impact=("faster responses from the edge; a changed file is served stale for up "
                       f"to {params.edge_ttl_seconds // 86_400} days unless purged or renamed"),
        confidence="high" if e.requests >= 10 * params.min_requests else "medium",
        actions=(action,))


__all__ = ["KIND", "STATIC_EXTENSIONS", "CacheRuleEvidence", "CacheRuleParams", "Candidate",
           "explain", "find", "origin_egress_book", "price", "proposed_rule",
           "recommend_cache_rules"]
