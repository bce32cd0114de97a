"""A simulated Cloudflare zone (reference 8.1): the platform's domain behind the CDN.

Its own RNG, seeded from the account's seed, draws hourly traffic by host x path x country x
(cache status, HTTP status) for a year before the account's end and its simulated future; the
account's own draws and ground truth are untouched. Paths:

- `api.` host, `/api/`: dynamic JSON, never cached (the healthy look-alike: busy, low hit
  ratio, but must not be cached);
- `www.` host, `/static/`: JS and CSS covered by the seed's cache rule (high hit ratio);
- `www.` host, `/assets/`: product images with no rule, the origin sending `max-age=0`
  (planted: a low hit ratio that a cache rule fixes);
- `www.` host, `/`: HTML pages (dynamic).

Every (hour, path, country) cell has two outcome splits drawn up front, one without and one
with a covering cache rule; the rules in force at each hour (the Rulesets entrypoint's history,
`put_rules`) pick which one is true, so a rule applied now changes the hit ratio from the next
hour on and never re-rolls the past.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from .simulator import UTC, Planted

#: hit statuses (the sandbox's own copy of reference 8.1)
HIT_STATUSES = frozenset({"hit", "stale", "updating", "revalidated"})
HISTORY_DAYS = 370  # the 1d rollup keeps 365 days; draw a little more
HOUR = pd.Timedelta(hours=1)
DAY_SECONDS = 86_400
PHASE = "http_request_cache_settings"
COUNTRIES = ("United States", "Germany", "Brazil", "India")
COUNTRY_WEIGHTS = np.array([0.5, 0.2, 0.2, 0.1])

# outcome = (cache status, HTTP status); probabilities without / with a covering rule
_STATIC_RULE = ((("hit", 200), .90), (("miss", 200), .05), (("revalidated", 200), .03),
                (("miss", 404), .02))
_STATIC_NORULE = ((("hit", 200), .50), (("miss", 200), .40), (("expired", 200), .08),
                  (("miss", 404), .02))
_ASSETS_NORULE = ((("miss", 200), .70), (("expired", 200), .18), (("hit", 200), .10),
                  (("miss", 404), .02))
_DYNAMIC = ((("dynamic", 200), .96), (("dynamic", 404), .03), (("dynamic", 500), .01))
_API = ((("dynamic", 200), .95), (("dynamic", 401), .04), (("dynamic", 503), .01))


@dataclass(frozen=True)
class ZonePath:
    """One simulated URL path: where it lives, how big and busy, how it caches."""

    host: str
    path: str
    size: int  # bytes of a 200 response (errors are 1,500 bytes)
    rate: float  # mean requests per hour at the daily peak
    norule: tuple
    rule: tuple
    content_type: str


def zone_paths(domain: str) -> tuple[ZonePath, ...]:
    """The zone's paths for `domain` (e.g. `shop-7.example`)."""
    www, api = f"www.{domain}", f"api.{domain}"
    return (
        ZonePath(www, "/static/app.js", 182_000, 2_400, _STATIC_NORULE, _STATIC_RULE,
                 "application/javascript"),
        ZonePath(www, "/static/styles.css", 41_000, 2_400, _STATIC_NORULE, _STATIC_RULE,
                 "text/css"),
        ZonePath(www, "/assets/products/hero.jpg", 356_000, 900, _ASSETS_NORULE,
                 _STATIC_RULE, "image/jpeg"),
        ZonePath(www, "/assets/products/thumb.webp", 28_000, 2_000, _ASSETS_NORULE,
                 _STATIC_RULE, "image/webp"),
        ZonePath(www, "/", 62_000, 1_500, _DYNAMIC, _DYNAMIC, "text/html"),
        ZonePath(api, "/api/v1/shows", 8_200, 4_000, _API, _API, "application/json"),
    )


#: what the sandbox's `settings` node says per plan (seconds), reference 8.1 (retention table)
PLANS: dict[str, dict[str, dict[str, int]]] = {
    "free": {"httpRequestsAdaptiveGroups": {"notOlderThan": 3 * DAY_SECONDS,
                                            "maxDuration": DAY_SECONDS, "maxPageSize": 1_000},
             "httpRequests1dGroups": {"notOlderThan": 365 * DAY_SECONDS,
                                      "maxDuration": 92 * DAY_SECONDS, "maxPageSize": 1_000}},
    "enterprise": {"httpRequestsAdaptiveGroups": {"notOlderThan": 90 * DAY_SECONDS,
                                                  "maxDuration": 7 * DAY_SECONDS,
                                                  "maxPageSize": 10_000},
                   "httpRequests1dGroups": {"notOlderThan": 365 * DAY_SECONDS,
                                            "maxDuration": 366 * DAY_SECONDS,
                                            "maxPageSize": 10_000}},
}


def zone_id(seed: int, index: int = 0) -> str:
    """The zone tag of the account's `index`-th zone."""
    return hashlib.sha256(f"lc-sandbox-{seed}-zone-{index}".encode()).hexdigest()[:32]


def seed_rule() -> dict[str, Any]:
    """The seed guide's cache rule: `/static/*`, Cache Everything, edge 1 month, browser 1 day."""
    return {"id": "5eedcac4e00000000000000000000001",
            "description": "Cache static assets",
            "expression": 'starts_with(http.request.uri.path, "/static/")',
            "action": "set_cache_settings", "enabled": True,
            "action_parameters": {"cache": True,
                                  "edge_ttl": {"mode": "override_origin", "default": 2_592_000},
                                  "browser_ttl": {"mode": "override_origin", "default": 86_400}}}


_STARTS = re.compile(r'starts_with\(\s*http\.request\.uri\.path\s*,\s*"([^"]*)"\s*\)')
_HOST = re.compile(r'http\.host\s+(?:eq|==)\s+"([^"]*)"')


def rule_covers(rule: dict[str, Any], host: str, path: str) -> bool:
    """Whether an enabled caching rule matches (`starts_with` on the path, `http.host eq`;
    clauses joined by `or` match any, `and` all)."""
    params = rule.get("action_parameters") or {}
    if not rule.get("enabled", True) or rule.get("action") != "set_cache_settings" \
            or not params.get("cache"):
        return False
    for clause in re.split(r"\s+or\s+", str(rule.get("expression", ""))):
        terms = [t.strip(" ()") for t in re.split(r"\s+and\s+", clause)]
        ok = bool(terms)
        for term in terms:
            starts, hosts = _STARTS.search(term + ")"), _HOST.search(term)
            if starts:
                ok &= path.startswith(starts.group(1))
            elif hosts:
                ok &= host == hosts.group(1)
            else:
                ok = False
        if ok:
            return True
    return False


@dataclass
class SimulatedZone:
    """One zone: drawn traffic, the cache rules' history, the plan, the ground truth."""

    seed: int
    index: int
    start: date
    horizon_end: date
    plan: str = "enterprise"
    zone_id: str = ""
    domain: str = ""
    paths: tuple[ZonePath, ...] = ()
    hours: pd.DatetimeIndex = field(default_factory=lambda: pd.DatetimeIndex([]))
    # (hour, path, country, outcome) counts without / with a covering rule
    counts: dict[str, np.ndarray] = field(default_factory=dict)
    outcomes: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    daily_extra: pd.DataFrame = field(default_factory=pd.DataFrame)  # threats, uniques
    rules_history: list[tuple[pd.Timestamp, dict[str, Any]]] = field(default_factory=list)
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, seed: int, end: date, horizon_end: date, index: int = 0,
              plan: str = "enterprise") -> SimulatedZone:
        """Draw a zone for the account of `seed` whose last complete day is `end`."""
        start = end - timedelta(days=HISTORY_DAYS - 1)
        zone = cls(seed, index, start, horizon_end, plan, zone_id(seed, index),
                   f"shop-{seed}.example")
        zone.paths = zone_paths(zone.domain)
        zone._draw()
        first = pd.Timestamp(start, tz=UTC)
        zone.rules_history = [(first, {"version": 1, "rules": [seed_rule()]})]
        return zone

    def _draw(self) -> None:
        rng = np.random.default_rng([self.seed, 0x20E, self.index])
        self.hours = pd.date_range(pd.Timestamp(self.start, tz=UTC),
                                   pd.Timestamp(self.horizon_end + timedelta(days=1), tz=UTC),
                                   freq="h", inclusive="left")
        hod = self.hours.hour.to_numpy()
        diurnal = 0.35 + 0.65 * np.exp(-((hod - 19) ** 2) / 18.0) \
            + 0.25 * np.exp(-((hod - 12) ** 2) / 8.0)
        weekly = np.where(self.hours.day_of_week.to_numpy() >= 5, 1.25, 1.0)
        growth = np.linspace(0.8, 1.2, len(self.hours))
        scale = diurnal * weekly * growth  # (H,)
        rates = np.array([p.rate for p in self.paths])
        lam = scale[:, None, None] * rates[None, :, None] * COUNTRY_WEIGHTS[None, None, :]
        totals = rng.poisson(lam)  # (H, P, C)
        for variant in ("norule", "rule"):
            outs = sorted({o for p in self.paths for o, _ in getattr(p, variant)})
            self.outcomes[variant] = outs
            arr = np.zeros((*totals.shape, len(outs)), dtype=np.int64)
            for i, p in enumerate(self.paths):
                left, rest = totals[:, i, :], 1.0  # a multinomial as chained binomials
                for o, w in getattr(p, variant)[:-1]:
                    drawn = rng.binomial(left, min(1.0, w / rest))
                    arr[:, i, :, outs.index(o)] = drawn
                    left, rest = left - drawn, rest - w
                arr[:, i, :, outs.index(getattr(p, variant)[-1][0])] = left
            self.counts[variant] = arr
        days = pd.date_range(pd.Timestamp(self.start), pd.Timestamp(self.horizon_end), freq="D")
        per_day = totals.sum(axis=(1, 2)).reshape(len(days), 24).sum(axis=1)
        self.daily_extra = pd.DataFrame({
            "date": days.date, "threats": rng.poisson(per_day * 0.0004),
            "uniques": rng.binomial(per_day, 0.06)})

    # --- rules -------------------------------------------------------------------------
    def rules_at(self, at: pd.Timestamp) -> dict[str, Any]:
        """The entrypoint ruleset in force at `at`."""
        current = self.rules_history[0][1]
        for since, ruleset in self.rules_history:
            if since <= at:
                current = ruleset
        return current

    def put_rules(self, rules: list[dict[str, Any]], now: pd.Timestamp) -> dict[str, Any]:
        """Replace the entrypoint's rules from `now` on (the next hour is the first covered)."""
        version = self.rules_history[-1][1]["version"] + 1
        ruleset = {"version": version, "rules": rules, "last_updated": now}
        self.rules_history.append((now.ceil("h"), ruleset))
        self._cache.clear()
        return ruleset

    def _covered(self, upto: pd.Timestamp) -> np.ndarray:
        """(H, P) booleans: a caching rule covered the path during the hour."""
        mask = np.zeros((len(self.hours), len(self.paths)), dtype=bool)
        for i, (since, ruleset) in enumerate(self.rules_history):
            until = self.rules_history[i + 1][0] if i + 1 < len(self.rules_history) else upto
            rows = (self.hours >= since) & (self.hours < until)
            for j, p in enumerate(self.paths):
                mask[rows, j] = any(rule_covers(r, p.host, p.path) for r in ruleset["rules"])
        return mask

    # --- ground truth ------------------------------------------------------------------
    def _window(self, since: pd.Timestamp | None, now: pd.Timestamp,
                until: pd.Timestamp | None) -> tuple[int, int]:
        lo = 0 if since is None else int(np.searchsorted(self.hours, since))
        end = now if until is None else min(now, until)
        return lo, max(lo, int(np.searchsorted(self.hours, end)))

    def _cells(self, since: pd.Timestamp | None, now: pd.Timestamp,
               until: pd.Timestamp | None = None,
               ) -> list[tuple[int, np.ndarray, list[tuple[str, int]]]]:
        """(first hour index, counts (h, P, C, O) in force, outcomes) per variant."""
        key = ("cells", since, now, until)
        if key not in self._cache:
            if len(self._cache) > 64:
                self._cache.clear()
            lo, hi = self._window(since, now, until)
            covered = self._covered(now)[lo:hi]
            self._cache[key] = [
                (lo, self.counts[v][lo:hi] * pick[:, :, None, None], self.outcomes[v])
                for v, pick in (("norule", ~covered), ("rule", covered))]
        return self._cache[key]

    def hourly(self, now: pd.Timestamp, since: pd.Timestamp | None = None,
               until: pd.Timestamp | None = None) -> pd.DataFrame:
        """Exact traffic of every complete hour in [since, min(until, now)) (within the drawn
        year): hour, host, path, cache_status, status, country, requests, bytes."""
        parts = []
        for lo, arr, outs in self._cells(since, now, until):
            h, p, c, o = np.nonzero(arr)
            parts.append(pd.DataFrame({
                "h": h + lo, "p": p, "country": np.asarray(COUNTRIES, dtype=object)[c],
                "cache_status": np.asarray([x[0] for x in outs], dtype=object)[o],
                "status": np.asarray([x[1] for x in outs], dtype=np.int64)[o],
                "requests": arr[h, p, c, o]}))
        df = pd.concat(parts, ignore_index=True)
        sizes = np.array([pt.size for pt in self.paths])[df["p"]]
        df["bytes"] = df["requests"] * np.where(df["status"] == 200, sizes, 1_500)
        df["host"] = np.asarray([pt.host for pt in self.paths], dtype=object)[df["p"]]
        df["path"] = np.asarray([pt.path for pt in self.paths], dtype=object)[df["p"]]
        df["hour"] = self.hours[df["h"].to_numpy()]
        df = df.sort_values(["h", "p", "country", "cache_status", "status"], kind="stable")
        return df[["hour", "host", "path", "cache_status", "status", "country", "requests",
                   "bytes"]].reset_index(drop=True)

    def _daily_sums(self, now: pd.Timestamp) -> dict[str, np.ndarray]:
        """Per-day (and per-day x country) sums of every complete day before `now`."""
        end = now.floor("D")
        key = ("daily", end, len(self.rules_history))
        if key not in self._cache:
            self._cache[key] = self._sum_days(end)
        return self._cache[key]

    def _sum_days(self, end: pd.Timestamp) -> dict[str, np.ndarray]:
        n_days = max(0, (end - self.hours[0]).days)
        sizes = np.array([pt.size for pt in self.paths])
        page = np.array([pt.path == "/" for pt in self.paths])
        out = {k: np.zeros(n_days, dtype=np.int64) for k in
               ("requests", "cached_requests", "bytes", "cached_bytes", "page_views")}
        out["country_requests"] = np.zeros((n_days, len(COUNTRIES)), dtype=np.int64)
        out["country_bytes"] = np.zeros((n_days, len(COUNTRIES)), dtype=np.int64)
        for _lo, arr, outs in self._cells(None, end):
            per = arr.reshape(n_days, 24, *arr.shape[1:]).sum(axis=1)  # (D, P, C, O)
            ok = np.array([o[1] == 200 for o in outs])
            hit = np.array([o[0] in HIT_STATUSES for o in outs])
            size = np.where(ok[None, :], sizes[:, None], 1_500)  # (P, O)
            byt = per * size[None, :, None, :]
            out["requests"] += per.sum(axis=(1, 2, 3))
            out["bytes"] += byt.sum(axis=(1, 2, 3))
            out["cached_requests"] += per[..., hit].sum(axis=(1, 2, 3))
            out["cached_bytes"] += byt[..., hit].sum(axis=(1, 2, 3))
            out["page_views"] += per[:, page][..., ok].sum(axis=(1, 2, 3))
            out["country_requests"] += per.sum(axis=(1, 3))
            out["country_bytes"] += byt.sum(axis=(1, 3))
        return out

    def daily(self, now: pd.Timestamp) -> pd.DataFrame:
        """The exact 1d rollup of every complete day before `now`: date, requests,
        cached_requests, bytes, cached_bytes, page_views, threats, uniques."""
        sums = self._daily_sums(now)
        n = len(sums["requests"])
        frame = pd.DataFrame({"date": self.daily_extra["date"].iloc[:n].to_numpy(),
                              **{k: v for k, v in sums.items() if v.ndim == 1}})
        frame["threats"] = self.daily_extra["threats"].iloc[:n].to_numpy()
        frame["uniques"] = self.daily_extra["uniques"].iloc[:n].to_numpy()
        return frame

    def daily_countries(self, now: pd.Timestamp) -> pd.DataFrame:
        """date, country, requests, bytes of every complete day before `now` (non-zero)."""
        sums = self._daily_sums(now)
        n = len(sums["requests"])
        frame = pd.DataFrame({
            "date": np.repeat(self.daily_extra["date"].iloc[:n].to_numpy(), len(COUNTRIES)),
            "country": np.tile(np.asarray(COUNTRIES, dtype=object), n),
            "requests": sums["country_requests"].ravel(),
            "bytes": sums["country_bytes"].ravel()})
        return frame[frame["requests"] > 0].reset_index(drop=True)

    def planted(self) -> list[Planted]:
        """The zone's planted situation and its look-alike (targets are `host/prefix`)."""
        www, api = f"www.{self.domain}", f"api.{self.domain}"
        return [
            Planted("uncached_static_prefix", f"{www}/assets/", False,
                    "product images without a cache rule; the origin sends max-age=0"),
            Planted("uncached_static_prefix", f"{api}/api/", True,
                    "busy dynamic JSON: a low hit ratio that must not be cached"),
        ]

    def settings(self) -> dict[str, dict[str, Any]]:
        """The zone's `settings` node entries for its plan."""
        return PLANS[self.plan]
