"""Bitrate and ingest: live inputs that send more than their audience can use, or break the
ingest requirements.

The Cloudflare Stream bill does not depend on bitrate: Stream charges minutes stored and
minutes delivered, whatever the bitrate or resolution (reference section 6). What a lower
ingest bitrate changes is the size of MP4 exports kept in R2, the bytes that would be
delivered on a bandwidth-priced alternative, and the upload the broadcaster needs.

The rule, per live input with at least `min_ingest_recordings` (default 3) recordings in the last
`lookback_days` (default 90):

- Ingest bitrate = median over its recordings of size x 8 / duration; resolution = the short
  side of its recordings (1080 -> 1080p).
- Audience: minutes viewed by country of its recordings (and of the input itself when
  recording is off); a country is low-bandwidth when its typical mobile download speed in
  `country_bandwidth.toml` next to this module (an approximate, dated assumption; see that
  file; `bandwidth=` takes another file) is under `low_bandwidth_mbps` (default 20).
- Flagged when (a) the ingest breaks Cloudflare's requirements (outside 2-14 Mbps), or
  (b) it sends more than the recommended encode for its resolution (1080p 8 Mbps, 720p
  4.8, 480p 2.4, 360p 1) by more than `tolerance` (default 10%) AND at least
  `min_low_bandwidth_share` (default 60%) of its minutes come from low-bandwidth countries.
- Target: for (b) the recommended encode of `low_bandwidth_target` (720p, 4.8 Mbps) or of its
  own resolution if lower; for (a) the recommended encode of its resolution (raised to the
  2 Mbps minimum when below it).
- Quantified: R2 storage of the input's MP4 exports (objects under exports/<live input uid>/),
  whose bytes scale with bitrate: the last complete month priced by the engine account-wide
  with those objects at target/current of their size (storage, IA retrieval and the IA
  minimum scale) = the monthly saving, as if all its exports had been made at the target
  (realised gradually, as new exports replace old ones); bytes delivered over the last 30
  days at the ingest bitrate, priced with the AWS book (CloudFront egress) before and after,
  as information; viewers' data use per hour of video.
- Action: `manual` (the encoder is configured by the broadcaster, not through the API).
"""

from __future__ import annotations

import tomllib
from datetime import date, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..costs.engine import Usage, month_bounds, objects_daily_bytes, price_month, price_period
from ..costs.pricebook import PriceBook, load_book
from ..costs.usage import TRAILING_DAYS, inventory_objects, period_usage, warehouse_usage
from ..errors import ConfigError, UsageError
from ..warehouse import Warehouse
from ._common import CENT, as_json, money, recordings, resolve
from .model import Action, Recommendation

#: Cloudflare's live ingest requirement: combined input bitrate, Mbps.
MIN_INGEST_MBPS, MAX_INGEST_MBPS = 2.0, 14.0
#: Cloudflare's recommended encodes: resolution -> (short side in pixels, Mbps).
RECOMMENDED_ENCODES: dict[str, tuple[int, float]] = {
    "1080p": (1080, 8.0), "720p": (720, 4.8), "480p": (480, 2.4), "360p": (360, 1.0)}
#: Typical mobile download below which a country's viewers count as low-bandwidth (Mbps).
LOW_BANDWIDTH_MBPS = 20.0
#: Share of an input's minutes from low-bandwidth countries that makes its audience one.
MIN_LOW_BANDWIDTH_SHARE = 0.60
#: How far above the recommended encode an ingest may be before it counts as above it.
TOLERANCE = 0.10
#: The encode proposed for a low-bandwidth audience (never above the input's resolution).
LOW_BANDWIDTH_TARGET = "720p"
#: Days of recordings and viewing looked at.
LOOKBACK_DAYS = 90
#: Recordings an input needs in the window to be judged.
MIN_INGEST_RECORDINGS = 3
#: Days of viewing the delivered bytes (AWS comparison) are measured over.
DELIVERY_DAYS = 30

KIND = "bitrate_ingest"
STREAM_BILL = ("The Cloudflare Stream bill does not depend on bitrate: Stream charges minutes "
               "stored and minutes delivered, whatever the bitrate or resolution, so this "
               "changes nothing on the Stream bill.")


def load_bandwidth(path: str | Path | None = None) -> tuple[dict[str, float], float, str]:
    """Country -> typical mobile Mbps, the default for other countries, and the source.

    >>> table, default, source = load_bandwidth()
    >>> table["US"] > LOW_BANDWIDTH_MBPS > table["BD"]
    True
    """
    if path is None:
        text = resources.files("lc_analytics.recommend").joinpath(
            "country_bandwidth.toml").read_text(encoding="utf-8")
        origin = "built-in country_bandwidth.toml"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError([f"cannot read bandwidth file {path}: {exc.strerror}"]) from exc
        origin = str(path)
    try:
        data = tomllib.loads(text)
        table = {str(k).upper(): float(v) for k, v in data["countries"].items()}
        default = float(data["meta"]["default_mbps"])
        source = str(data["meta"].get("source", origin))
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError([f"bandwidth file {origin} is malformed: {exc}"]) from exc
    return table, default, f"{source} ({origin})"


def ingest_profiles(wh: Warehouse, *, as_of: date | str | None = None,
                    lookback_days: int = LOOKBACK_DAYS,
                    bandwidth: str | Path | None = None,
                    low_bandwidth_mbps: float = LOW_BANDWIDTH_MBPS) -> pd.DataFrame:
    """Per live input: recordings, ingest Mbps, resolution and its audience's bandwidth mix.

    >>> ingest_profiles(Warehouse("data/demo.duckdb", read_only=True))   # doctest: +SKIP
    """
    _, day = resolve(wh, "cloudflare", as_of)
    table, default, _ = load_bandwidth(bandwidth)
    rec = recordings(wh, day)
    lo = pd.Timestamp(day - timedelta(days=lookback_days - 1), tz="UTC")
    rec = rec[(rec["created"] >= lo) & (rec["duration_seconds"] > 0)]
    rec = rec.assign(mbps=rec["size_bytes"] * 8 / rec["duration_seconds"] / 1e6,
                     short=np.minimum(rec["width"].fillna(0), rec["height"].fillna(0)))
    views = wh.query(
        "SELECT coalesce(v.live_input_uid, m.uid) AS live_input_uid, m.country, "
        "sum(m.minutes_viewed) AS minutes FROM minutes_viewed_daily m "
        "LEFT JOIN videos v ON v.uid = m.uid "
        "WHERE m.date > ? AND m.date <= ? AND (v.live_input_uid IS NOT NULL OR m.uid IN "
        "(SELECT uid FROM live_inputs)) GROUP BY ALL",
        [day - timedelta(days=lookback_days), day])
    views["typical_mbps"] = views["country"].str.upper().map(table).fillna(default)
    views["low"] = views["typical_mbps"] < low_bandwidth_mbps
    rows = []
    for uid, grp in rec.groupby("live_input_uid", sort=True):
        v = views[views["live_input_uid"] == uid]
        total = float(v["minutes"].sum())
        low = float(v.loc[v["low"], "minutes"].sum())
        short = int(grp["short"].mode().iloc[0]) if len(grp) else 0
        by_country = v.groupby("country")["minutes"].sum().sort_values(ascending=False)
        rows.append({
            "live_input_uid": uid, "recordings": len(grp),
            "ingest_mbps": float(grp["mbps"].median()),
            "ingest_mbps_p10": float(grp["mbps"].quantile(0.1)),
            "ingest_mbps_p90": float(grp["mbps"].quantile(0.9)),
            "width": int(grp["width"].mode().iloc[0]) if grp["width"].notna().any() else None,
            "height": int(grp["height"].mode().iloc[0]) if grp["height"].notna().any()
            else None,
            "resolution": _resolution(short), "minutes_viewed": total,
            "low_bandwidth_minutes": low,
            "low_bandwidth_share": low / total if total else 0.0,
            "minutes_by_country": {k: float(x) for k, x in by_country.items()},
        })
    return pd.DataFrame(rows)


def _resolution(short_side: int) -> str:
    """The recommended-encode class of a picture: the largest whose side fits (360p floor)."""
    for name, (side, _) in RECOMMENDED_ENCODES.items():
        if short_side >= side * 0.95:
            return name
    return "360p"


def recommend_bitrate(wh: Warehouse, *, book: PriceBook | str | None = None,
                      as_of: date | str | None = None, lookback_days: int = LOOKBACK_DAYS,
                      bandwidth: str | Path | None = None,
                      low_bandwidth_mbps: float = LOW_BANDWIDTH_MBPS,
                      min_low_bandwidth_share: float = MIN_LOW_BANDWIDTH_SHARE,
                      tolerance: float = TOLERANCE,
                      low_bandwidth_target: str = LOW_BANDWIDTH_TARGET,
                      min_ingest_recordings: int = MIN_INGEST_RECORDINGS
                      ) -> list[Recommendation]:
    """A target resolution and bitrate per live input whose ingest is more than its audience
    can use, or outside Cloudflare's requirements.

    >>> recs = recommend_bitrate(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    """
    if low_bandwidth_target not in RECOMMENDED_ENCODES:
        raise UsageError(f"low_bandwidth_target must be one of {', '.join(RECOMMENDED_ENCODES)}")
    book, day = resolve(wh, book, as_of)
    _, _, source = load_bandwidth(bandwidth)
    prof = ingest_profiles(wh, as_of=day, lookback_days=lookback_days, bandwidth=bandwidth,
                           low_bandwidth_mbps=low_bandwidth_mbps)
    out = []
    names = wh.query("SELECT uid, name FROM live_inputs").set_index("uid")["name"]
    ctx: dict[str, Any] = {}
    for p in prof.itertuples():
        if p.recordings < min_ingest_recordings:
            continue
        reasons, target = _judge(p, min_low_bandwidth_share, tolerance, low_bandwidth_target)
        if not reasons:
            continue
        if not ctx:
            ctx.update(_r2_context(wh, day))
        out.append(_recommendation(wh, p, names.get(p.live_input_uid), reasons, target, day,
                                   book, ctx, source, low_bandwidth_mbps,
                                   min_low_bandwidth_share, tolerance))
    return out


def _judge(p, min_share: float, tolerance: float,
           target_name: str) -> tuple[list[str], tuple[str, float]]:
    reasons = []
    rec_mbps = RECOMMENDED_ENCODES[p.resolution][1]
    target = (p.resolution, rec_mbps)
    if p.ingest_mbps > MAX_INGEST_MBPS:
        reasons.append(f"ingest {p.ingest_mbps:.1f} Mbps is above Cloudflare's "
                       f"{MAX_INGEST_MBPS:g} Mbps maximum")
    elif p.ingest_mbps < MIN_INGEST_MBPS:
        reasons.append(f"ingest {p.ingest_mbps:.1f} Mbps is below Cloudflare's "
                       f"{MIN_INGEST_MBPS:g} Mbps minimum")
        target = (p.resolution, max(rec_mbps, MIN_INGEST_MBPS))
    if p.ingest_mbps > rec_mbps * (1 + tolerance) and p.low_bandwidth_share >= min_share:
        reasons.append(f"sends {p.ingest_mbps:.1f} Mbps at {p.resolution}, above the "
                       f"recommended {rec_mbps:g} Mbps, while {p.low_bandwidth_share:.0%} of "
                       "its minutes come from low-bandwidth countries")
        names = list(RECOMMENDED_ENCODES)
        res = names[max(names.index(target_name), names.index(p.resolution))]
        target = (res, RECOMMENDED_ENCODES[res][1])
    return reasons, target


# --- quantities ------------------------------------------------------------------------------

def _r2_context(wh: Warehouse, day: date) -> dict[str, Any]:
    """R2 usage to price exports with: the last complete month, or, when the warehouse does
    not hold it whole (a first sync keeps 31 days of R2), the last 30 days up to `day`."""
    first, nxt = month_bounds(day)
    if day + timedelta(days=1) < nxt:
        first, nxt = month_bounds(first - timedelta(days=1))
    mu = warehouse_usage(wh, first)
    usage, priced = mu.usage, f"{first:%Y-%m}"
    if not mu.r2_complete:
        nxt = day + timedelta(days=1)
        first = nxt - timedelta(days=TRAILING_DAYS)
        usage, priced = period_usage(wh, first, day), f"{first} to {day}"
    objs = inventory_objects(wh)
    reads = wh.query("SELECT date, bucket, object_name AS key, requests FROM "
                     "r2_object_reads_daily WHERE action_type = 'GetObject' AND date >= ? "
                     "AND date < ?", [first, nxt])
    videos = wh.query("SELECT uid, size_bytes, duration_seconds FROM videos "
                      "WHERE duration_seconds > 0")
    views = wh.query("SELECT m.uid, sum(m.minutes_viewed) AS minutes FROM minutes_viewed_daily m "
                     "WHERE m.date > ? AND m.date <= ? GROUP BY m.uid",
                     [day - timedelta(days=DELIVERY_DAYS), day])
    return {"first": first, "nxt": nxt, "usage": usage, "objects": objs, "reads": reads,
            "videos": videos, "views": views, "notes": mu.notes, "priced": priced}


def _exports_saving(ctx: dict[str, Any], uid: str, factor: float,
                    book: PriceBook) -> tuple[Decimal, str, dict[str, Any]]:
    first, nxt, usage, objs = ctx["first"], ctx["nxt"], ctx["usage"], ctx["objects"]
    mine = objs[objs["key"].str.startswith(f"exports/{uid}/")]
    info: dict[str, Any] = {"objects": len(mine),
                            "bytes_stored": int(mine.loc[mine["stored_until"].isna(),
                                                         "size_bytes"].sum())}
    if not len(mine):
        return Decimal(0), "no MP4 exports of this input in R2", info
    scaled = mine.assign(size_bytes=(mine["size_bytes"] * factor).round().astype(np.int64))
    storage = usage.frame("r2_storage", ["date", "bucket", "storage_class", "bytes"])
    parts = [storage]
    for bucket, grp in mine.groupby("bucket"):
        d = objects_daily_bytes(scaled.loc[grp.index], first, nxt).set_index(
            ["date", "storage_class"])["bytes"] - objects_daily_bytes(grp, first, nxt) \
            .set_index(["date", "storage_class"])["bytes"]
        d = d.reset_index()
        days = set(pd.to_datetime(storage.loc[storage["bucket"] == bucket, "date"]).dt.date)
        parts.append(d[d["date"].isin(days)].assign(bucket=bucket))
    reads = ctx["reads"].merge(mine[["bucket", "key", "size_bytes", "ia_from"]],
                               on=["bucket", "key"])
    ia = reads["ia_from"].notna() & (pd.to_datetime(reads["date"]).dt.tz_localize("UTC")
                                     >= reads["ia_from"].dt.floor("D"))
    got = reads[ia].assign(bytes=reads["requests"] * reads["size_bytes"])
    by_bucket = got.groupby("bucket")["bytes"].sum()
    deltas = [{"date": first, "bucket": b, "bytes": int(round(float(x) * (factor - 1)))}
              for b, x in by_bucket.items() if x]
    retr_delta = sum(d["bytes"] for d in deltas)
    retrieval = usage.frame("r2_retrieval", ["date", "bucket", "bytes"])
    if deltas:
        retrieval = pd.concat([retrieval, pd.DataFrame(deltas)], ignore_index=True)
    removals = usage.frame("r2_ia_removals", ["size_bytes", "ia_from", "removed_at"])
    after = Usage(r2_storage=pd.concat(parts, ignore_index=True), r2_retrieval=retrieval,
                  r2_operations=usage.r2_operations, r2_ia_removals=removals)
    before = Usage(r2_storage=storage, r2_retrieval=usage.r2_retrieval,
                   r2_operations=usage.r2_operations, r2_ia_removals=removals)
    last = nxt - timedelta(days=1)
    b, a = price_period(before, first, last, book), price_period(after, first, last, book)
    saving = b.total - a.total
    info.update({"priced_month": ctx["priced"], "bill_before": b.total,
                 "bill_after": a.total, "retrieval_bytes_delta": retr_delta})
    text = (f"engine ({book.label}) re-prices {ctx['priced']} R2 account-wide with this input's "
            f"{len(mine)} MP4 exports at {factor:.3f} x their size: {money(b.total)} -> "
            f"{money(a.total)} = "
            f"{money(saving)}/month")
    return saving, text, info


def _delivery(ctx: dict[str, Any], uid_videos: set[str], factor: float,
              day: date) -> dict[str, Any]:
    """Bytes delivered in the last DELIVERY_DAYS days at each video's ingest bitrate, and the
    AWS alternative's egress price before and after (information: Stream does not bill it)."""
    v = ctx["views"].merge(ctx["videos"], on="uid")
    per_min = v["size_bytes"] / v["duration_seconds"] * 60
    total = float((v["minutes"] * per_min).sum())
    mine = v["uid"].isin(uid_videos)
    input_bytes = float((v.loc[mine, "minutes"] * per_min[mine]).sum())
    after = total - input_bytes * (1 - factor)
    aws = load_book("aws")
    month = month_bounds(day + timedelta(days=1))[0]

    def price(b: float) -> Decimal:
        return price_month(Usage(egress=[{"date": month, "bytes": int(round(b))}]), month,
                           aws).total
    before_cost, after_cost = price(total), price(after)
    return {"days": DELIVERY_DAYS, "input_bytes": int(input_bytes),
            "input_bytes_after": int(input_bytes * factor),
            "account_bytes": int(total), "account_bytes_after": int(after),
            "aws_book": aws.label, "aws_egress_cost": before_cost.quantize(CENT),
            "aws_egress_cost_after": after_cost.quantize(CENT),
            "aws_egress_saving": (before_cost - after_cost).quantize(CENT),
            "note": "bytes at the ingest bitrate for every minute viewed (what a self-hosted "
                    "delivery without a lower ladder would send); Stream does not bill them"}


def _recommendation(wh: Warehouse, p, name: str | None, reasons: list[str],
                    target: tuple[str, float], day: date, book: PriceBook,
                    ctx: dict[str, Any], source: str, low_mbps: float, min_share: float,
                    tolerance: float) -> Recommendation:
    uid = p.live_input_uid
    rid = f"{KIND}:{uid}"
    t_res, t_mbps = target
    factor = t_mbps / p.ingest_mbps
    saving, exports_text, exports = _exports_saving(ctx, uid, factor, book)
    uid_videos = set(wh.query("SELECT uid FROM videos WHERE live_input_uid = ?", [uid])["uid"])
    delivery = _delivery(ctx, uid_videos | {uid}, factor, day)
    gb_h = p.ingest_mbps * 3600 / 8 / 1000
    gb_h_after = t_mbps * 3600 / 8 / 1000
    monthly = saving if saving > 0 else Decimal(0)
    information = monthly == 0
    breaks = any("Cloudflare's" in r for r in reasons)
    confidence = "high" if breaks else "medium"
    evidence = as_json({
        "live_input": uid, "live_input_name": name, "recordings": p.recordings,
        "ingest_mbps_median": round(p.ingest_mbps, 3),
        "ingest_mbps_p10_p90": [round(p.ingest_mbps_p10, 3), round(p.ingest_mbps_p90, 3)],
        "resolution": p.resolution, "width": p.width, "height": p.height,
        "recommended_encode_mbps": RECOMMENDED_ENCODES[p.resolution][1],
        "requirement_mbps": [MIN_INGEST_MBPS, MAX_INGEST_MBPS],
        "target": {"resolution": t_res, "bitrate_mbps": t_mbps},
        "reasons": reasons,
        "minutes_viewed": p.minutes_viewed, "low_bandwidth_minutes": p.low_bandwidth_minutes,
        "low_bandwidth_share": round(p.low_bandwidth_share, 4),
        "minutes_by_country": p.minutes_by_country,
        "low_bandwidth_threshold_mbps": low_mbps, "bandwidth_source": source,
        "mp4_exports": exports, "delivery": delivery,
        "viewer_data_gb_per_hour": {"current": round(gb_h, 3), "target": round(gb_h_after, 3)},
        "stream_bill": STREAM_BILL,
        "information_only": information,
        "priced_month": ctx["priced"],
        "usage_notes": ctx.get("notes", []),
        "confidence_reason": ("measured ingest outside the requirement" if breaks else
                              "measured ingest and audience, but the country bandwidth table "
                              "is an approximate assumption"),
    })
    computation = (f"{exports_text}. Exports scale with bitrate: {t_mbps:g} / "
                   f"{p.ingest_mbps:.2f} Mbps = {factor:.3f}; realised gradually, as new "
                   "exports at the target replace old ones. Information (not counted): bytes "
                   f"delivered in the last {DELIVERY_DAYS} days at the ingest bitrate priced on "
                   f"the AWS book ({delivery['aws_book']}): "
                   f"{money(delivery['aws_egress_cost'])} -> "
                   f"{money(delivery['aws_egress_cost_after'])}. {STREAM_BILL}")
    return Recommendation(
        id=rid, kind=KIND, target_type="live_input", target=uid,
        action=(f"Have the broadcaster of live input '{name or uid}' send {t_res} at "
                f"{t_mbps:g} Mbps instead of {p.resolution} at {p.ingest_mbps:.1f} Mbps "
                f"(encoder setting, not an API change). {STREAM_BILL}"),
        evidence=evidence,
        rule=(f"ingest outside {MIN_INGEST_MBPS:g}-{MAX_INGEST_MBPS:g} Mbps, or above the "
              f"recommended encode for its resolution by more than {tolerance:.0%} with >= "
              f"{min_share:.0%} of minutes from countries whose typical mobile download is "
              f"under {low_mbps:g} Mbps"),
        monthly_saving=monthly, saving_computation=computation,
        viewer_impact=(f"{p.low_bandwidth_share:.0%} of its {p.minutes_viewed:,.0f} minutes "
                       "come from low-bandwidth countries; Stream re-encodes the stream into "
                       "its own ladder, so viewers lose at most the 1080p rendition where the "
                       f"target is lower. Data use at the ingest bitrate: {gb_h:.2f} GB per "
                       f"hour now, {gb_h_after:.2f} GB per hour at the target."),
        confidence=confidence,
        actions=(Action(
            id=f"manual:encoder:{uid}", kind="manual", resource=uid,
            current={"resolution": p.resolution, "bitrate_mbps": round(p.ingest_mbps, 2)},
            proposed={"resolution": t_res, "bitrate_mbps": t_mbps,
                      "how": "change the encoder settings (OBS, hardware encoder); the API "
                             "cannot"},
            why="; ".join(reasons), recommendation_id=rid),))


__all__ = ["KIND", "STREAM_BILL", "ingest_profiles", "load_bandwidth", "recommend_bitrate"]
