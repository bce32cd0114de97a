"""Zone (CDN) source, reference 8.1: the `settings` node, the daily rollup, the sampled hourly
groups and the cache rules of one zone.

Each dataset's limits come from the zone's `settings` node (`DatasetLimits`), never assumed;
the hourly groups are read with `requestSource: "eyeball"` and folded to host x path prefix x
extension x cache status x status class x country, keeping what the sampling says about the
estimate's error (`requests_variance`: a count `c` sampled at interval `k` has variance
`c * (k - 1)`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from ..client.http import CloudflareClient
from ..client.paginators import KeysetPaginator, paginate
from ..errors import QueryError
from .analytics import _literal

DAILY = "httpRequests1dGroups"
HOURLY = "httpRequestsAdaptiveGroups"
PHASE = "http_request_cache_settings"
_HOURLY_DIMENSIONS = ("datetimeHour", "clientRequestHTTPHost", "clientRequestPath",
                      "cacheStatus", "edgeResponseStatus", "clientCountryName")
#: the fields each table needs (checked against the settings node's `availableFields`)
NEEDS = {
    DAILY: ("dimensions_date", "sum_requests", "sum_cachedRequests", "sum_bytes",
            "sum_cachedBytes", "sum_pageViews", "sum_threats", "uniq_uniques"),
    HOURLY: tuple(f"dimensions_{d}" for d in _HOURLY_DIMENSIONS)
    + ("count", "avg_sampleInterval", "sum_edgeResponseBytes"),
}
COUNTRY_FIELD = "sum_countryMap"


@dataclass(frozen=True)
class DatasetLimits:
    """One dataset's entry of a zone's `settings` node (durations in seconds)."""

    dataset: str
    enabled: bool
    max_duration_s: int
    not_older_than_s: int
    max_page_size: int
    available_fields: frozenset[str]

    def missing(self, fields: tuple[str, ...]) -> list[str]:
        """The fields of `fields` the plan does not make available."""
        return [f for f in fields if f not in self.available_fields]


def _zone(data: dict, what: str) -> dict:
    try:
        zones = data["viewer"]["zones"]
    except (KeyError, TypeError) as exc:
        raise QueryError(f"{what}: unexpected answer shape (no viewer.zones)") from exc
    if not zones:
        raise QueryError(f"{what}: the zone tag matched no zone")
    return zones[0]


def _ask(client: CloudflareClient, zone_id: str, body: str, what: str) -> dict:
    query = ("query ($zoneTag: string!) {\n  viewer { zones(filter: {zoneTag: $zoneTag}) {\n"
             f"    {body}\n  }} }}\n}}")
    data = client.graphql(query, {"zoneTag": zone_id}, permission="zone_analytics")
    return _zone(data, what)


def dataset_limits(client: CloudflareClient, zone_id: str) -> dict[str, DatasetLimits]:
    """Both datasets' limits for `zone_id`, from its `settings` node (absent = not enabled)."""
    fields = "enabled maxDuration notOlderThan maxPageSize availableFields"
    zone = _ask(client, zone_id, f"settings {{ {DAILY} {{ {fields} }} "
                                 f"{HOURLY} {{ {fields} }} }}", "zone settings")
    out = {}
    for name in (DAILY, HOURLY):
        node = (zone.get("settings") or {}).get(name) or {}
        out[name] = DatasetLimits(
            name, bool(node.get("enabled")), int(node.get("maxDuration") or 0),
            int(node.get("notOlderThan") or 0), int(node.get("maxPageSize") or 0),
            frozenset(node.get("availableFields") or ()))
    return out


def iter_daily(client: CloudflareClient, zone_id: str, lo: date, hi: date,
               limits: DatasetLimits, countries: bool = True) -> Iterator[dict]:
    """Every day of the rollup in [lo, hi): {"zone_id", "date", ..., "countries": [...]}."""
    cmap = " countryMap { clientCountryName requests bytes }" if countries else ""
    limit = limits.max_page_size

    def fetch(flt: dict) -> dict:
        body = (f"rows: {DAILY}(filter: {_literal(flt)}, limit: {limit}, orderBy: [date_ASC]) "
                "{ dimensions { date } sum { requests cachedRequests bytes cachedBytes "
                f"pageViews threats{cmap} }} uniq {{ uniques }} }}")
        return _ask(client, zone_id, body, f"{DAILY} {lo}..{hi}")

    request = {"date_geq": lo.isoformat(), "date_lt": hi.isoformat()}
    paginator = KeysetPaginator("date", limit, f"{DAILY} in {lo}..{hi}")
    for row in paginate(fetch, request, paginator, lambda z: z.get("rows") or []):
        s = row["sum"]
        yield {"zone_id": zone_id, "date": date.fromisoformat(row["dimensions"]["date"]),
               "requests": s["requests"], "cached_requests": s["cachedRequests"],
               "bytes": s["bytes"], "cached_bytes": s["cachedBytes"],
               "page_views": s["pageViews"], "threats": s["threats"],
               "uniques": row["uniq"]["uniques"],
               "countries": [{"country": c["clientCountryName"], "requests": c["requests"],
                              "bytes": c["bytes"]} for c in s.get("countryMap") or ()]}


def path_prefix(path: str) -> str:
    """The first path segment as a prefix.

    >>> path_prefix("/static/app.js"), path_prefix("/"), path_prefix("/robots.txt")
    ('/static/', '/', '/')
    """
    head, sep, _ = path.lstrip("/").partition("/")
    return f"/{head}/" if sep and head else "/"


def extension(path: str) -> str:
    """The lower-case file extension of the path's last segment ('' when none).

    >>> extension("/assets/a/Hero.JPG"), extension("/api/v1/shows")
    ('jpg', '')
    """
    last = path.rsplit("/", 1)[-1]
    return last.rsplit(".", 1)[-1].lower() if "." in last[1:] else ""


def status_class(status: int) -> str:
    """'2xx' .. '5xx' (0 and others: 'other')."""
    return f"{status // 100}xx" if 100 <= status < 600 else "other"


def iter_hourly_rows(client: CloudflareClient, zone_id: str, lo: datetime, hi: datetime,
                     limits: DatasetLimits) -> Iterator[dict]:
    """Every sampled group of [lo, hi) as the API answers it (one per hour x host x path x
    cache status x status x country), paged by `datetimeHour`."""
    limit = limits.max_page_size
    order = ", ".join(f"{d}_ASC" for d in _HOURLY_DIMENSIONS)

    def fetch(flt: dict) -> dict:
        body = (f"rows: {HOURLY}(filter: {_literal(flt)}, limit: {limit}, orderBy: [{order}]) "
                "{ count avg { sampleInterval } sum { edgeResponseBytes } "
                f"dimensions {{ {' '.join(_HOURLY_DIMENSIONS)} }} }}")
        return _ask(client, zone_id, body, f"{HOURLY} {lo}..{hi}")

    request: dict[str, Any] = {"datetime_geq": _rfc3339(lo), "datetime_lt": _rfc3339(hi),
                               "requestSource": "eyeball"}
    paginator = KeysetPaginator("datetimeHour", limit, f"{HOURLY} in {lo}..{hi}")
    yield from paginate(fetch, request, paginator, lambda z: z.get("rows") or [])


def fold_hourly(zone_id: str, rows: Iterator[dict]) -> list[dict]:
    """API rows folded to the table's grain, estimates summed with their variance."""
    out: dict[tuple, dict] = {}
    for row in rows:
        d = row["dimensions"]
        path = d["clientRequestPath"]
        key = (d["datetimeHour"], d["clientRequestHTTPHost"], path_prefix(path),
               extension(path), d["cacheStatus"], status_class(int(d["edgeResponseStatus"])),
               d["clientCountryName"])
        count = int(row["count"])
        interval = max(1.0, float((row.get("avg") or {}).get("sampleInterval") or 1.0))
        acc = out.setdefault(key, {"requests": 0, "bytes": 0, "sampled": 0.0, "variance": 0.0})
        acc["requests"] += count
        acc["bytes"] += int(row["sum"]["edgeResponseBytes"])
        acc["sampled"] += count / interval
        acc["variance"] += count * (interval - 1.0)
    return [{"zone_id": zone_id,
             "hour": datetime.fromisoformat(k[0].replace("Z", "+00:00")), "host": k[1],
             "path_prefix": k[2], "extension": k[3], "cache_status": k[4],
             "status_class": k[5], "country": k[6], "requests": v["requests"],
             "bytes": v["bytes"],
             "sample_interval": v["requests"] / v["sampled"] if v["sampled"] else 1.0,
             "requests_variance": v["variance"]} for k, v in out.items()]


def _rfc3339(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def cache_rules_raw(client: CloudflareClient, zone_id: str) -> tuple[str, list[dict]]:
    """The entrypoint's version and rules as the API answers them (a zone with no
    entrypoint yet answers 404: no rules)."""
    from ..errors import ApiError

    try:
        page = client.get(f"/zones/{zone_id}/rulesets/phases/{PHASE}/entrypoint",
                          permission="zone_analytics")
    except ApiError as exc:
        if exc.status == 404:
            return "", []
        raise
    ruleset = page.result or {}
    return str(ruleset.get("version", "")), list(ruleset.get("rules") or ())


def cache_rules(client: CloudflareClient, zone_id: str) -> tuple[str, list[dict]]:
    """The entrypoint's version and its rules as `zone_cache_rules` records."""
    version, rules = cache_rules_raw(client, zone_id)
    return version, [rule_record(zone_id, version, r) for r in rules]


def put_cache_rules(client: CloudflareClient, zone_id: str, rules: list[dict]) -> list[dict]:
    """Replace the entrypoint's rules (needs Zone > Cache Rules > Edit); returns the rules
    the zone now holds as `zone_cache_rules` records."""
    page = client.put(f"/zones/{zone_id}/rulesets/phases/{PHASE}/entrypoint",
                      {"rules": rules}, permission="zone_cache_rules")
    ruleset = page.result or {}
    version = str(ruleset.get("version", ""))
    return [rule_record(zone_id, version, r) for r in ruleset.get("rules") or ()]


def rule_record(zone_id: str, version: str, rule: dict) -> dict:
    """One Rulesets rule as a `zone_cache_rules` record."""
    params = rule.get("action_parameters") or {}
    edge, browser = params.get("edge_ttl") or {}, params.get("browser_ttl") or {}
    updated = rule.get("last_updated")
    return {"zone_id": zone_id, "rule_id": str(rule.get("id", "")), "ruleset_version": version,
            "description": str(rule.get("description") or ""),
            "expression": str(rule.get("expression", "")), "action": str(rule.get("action")),
            "enabled": bool(rule.get("enabled", True)), "cache": params.get("cache"),
            "edge_ttl_mode": edge.get("mode"), "edge_ttl_seconds": edge.get("default"),
            "browser_ttl_mode": browser.get("mode"),
            "browser_ttl_seconds": browser.get("default"),
            "last_updated": datetime.fromisoformat(updated.replace("Z", "+00:00"))
            if updated else None}


def day_windows(lo: date, hi: date, seconds: int) -> Iterator[tuple[date, date]]:
    """[lo, hi) in windows of whole days no longer than `seconds` (at least one day)."""
    step = timedelta(days=max(1, seconds // 86_400))
    while lo < hi:
        yield lo, min(hi, lo + step)
        lo = min(hi, lo + step)


def hour_windows(lo: datetime, hi: datetime, seconds: int,
                 ) -> Iterator[tuple[datetime, datetime]]:
    """[lo, hi) in windows of whole hours no longer than `seconds`, cut at midnights
    so each window's days can be committed with their watermark."""
    step = timedelta(hours=max(1, seconds // 3_600))
    while lo < hi:
        midnight = datetime.combine(lo.date() + timedelta(days=1), datetime.min.time(),
                                    lo.tzinfo)
        end = min(hi, lo + step, midnight) if step < timedelta(days=1) else min(hi, lo + step)
        yield lo, end
        lo = end


def rule_body(rule: dict) -> dict:
    """A cache rule as the Rulesets API takes it back (what a plan compares and PUTs): id,
    description, expression, action, enabled, action_parameters; not version or times."""
    keep = ("id", "description", "expression", "action", "enabled", "action_parameters")
    return {k: rule[k] for k in keep if k in rule and rule[k] is not None}


def rule_from_record(row: dict) -> dict:
    """A `zone_cache_rules` row back as a Rulesets rule (`rule_body` form)."""
    params: dict[str, Any] = {"cache": bool(row["cache"])} if row.get("cache") is not None \
        else {}
    for ttl in ("edge_ttl", "browser_ttl"):
        mode = row.get(f"{ttl}_mode")
        if isinstance(mode, str):
            seconds = row.get(f"{ttl}_seconds")
            params[ttl] = {"mode": mode, **({"default": int(seconds)}
                                            if seconds is not None and seconds == seconds
                                            else {})}
    return rule_body({"id": row["rule_id"], "description": row["description"],
                      "expression": row["expression"], "action": row["action"],
                      "enabled": bool(row["enabled"]), "action_parameters": params})
