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

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import facts
from .. import readmodel as rm
from ..costs.pricebook import PriceBook
from ..errors import UsageError
from ..warehouse import Warehouse
from ._bandwidth import load_bandwidth
from ._bitrate_price import (
    DELIVERY_DAYS,
    ExportsSaving,
    R2Context,
    delivery,
    exports_saving,
    r2_context,
)
from ._common import as_json, money, resolve
from ._recordings import recordings
from .evidence import BitrateEvidence
from .model import Action, Recommendation

#: Cloudflare's live ingest requirement: combined input bitrate, Mbps.
MIN_INGEST_MBPS, MAX_INGEST_MBPS = 2.0, 14.0
#: Cloudflare's recommended encodes: resolution -> (short side in pixels, Mbps).
RECOMMENDED_ENCODES = facts.RECOMMENDED_ENCODES
#: Typical mobile download below which a country's viewers count as low-bandwidth (Mbps).
LOW_BANDWIDTH_MBPS = facts.LOW_BANDWIDTH_MBPS
#: Share of an input's minutes from low-bandwidth countries that makes its audience one.
MIN_LOW_BANDWIDTH_SHARE = facts.MIN_LOW_BANDWIDTH_SHARE
#: How far above the recommended encode an ingest may be before it counts as above it.
TOLERANCE = 0.10
#: The encode proposed for a low-bandwidth audience (never above the input's resolution).
LOW_BANDWIDTH_TARGET = facts.LOW_BANDWIDTH_TARGET
#: Days of recordings and viewing looked at.
LOOKBACK_DAYS = facts.LOOKBACK_DAYS
#: Recordings an input needs in the window to be judged.
MIN_INGEST_RECORDINGS = 3

KIND = "bitrate_ingest"
STREAM_BILL = ("The Cloudflare Stream bill does not depend on bitrate: Stream charges minutes "
               "stored and minutes delivered, whatever the bitrate or resolution, so this "
               "changes nothing on the Stream bill.")


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
    views = rm.viewing_totals(wh, day - timedelta(days=lookback_days - 1), day,
                              ["live_input_uid", "country"], kinds=["recording", "live_input"])
    views["typical_mbps"] = views["country"].str.upper().map(table).fillna(default)
    views["low"] = views["typical_mbps"] < low_bandwidth_mbps
    rows = []
    views_of = views.groupby("live_input_uid", sort=False).indices
    minutes, low_mask = views["minutes"].to_numpy(float), views["low"].to_numpy(bool)
    mbps, short = rec["mbps"].to_numpy(float), rec["short"].to_numpy(float)
    for uid, idx in sorted(rec.groupby("live_input_uid", sort=False).indices.items()):
        at = views_of.get(uid, np.zeros(0, np.int64))  # numpy per input: pandas' results
        total = float(minutes[at].sum())
        low = float(minutes[at][low_mask[at]].sum())
        width, height = _mode(rec["width"].iloc[idx]), _mode(rec["height"].iloc[idx])
        by_country = pd.Series(minutes[at], index=views["country"].iloc[at].to_numpy()) \
            .sort_values(ascending=False)
        rows.append({
            "live_input_uid": uid, "recordings": len(idx),
            **_ingest_quantiles(mbps[idx]),
            "width": width, "height": height,
            "resolution": _resolution(int(_mode(pd.Series(short[idx])) or 0)),
            "minutes_viewed": total,
            "low_bandwidth_minutes": low,
            "low_bandwidth_share": low / total if total else 0.0,
            "minutes_by_country": {k: float(x) for k, x in by_country.items()},
        })
    return pd.DataFrame(rows)


def _ingest_quantiles(mbps: np.ndarray) -> dict[str, float]:
    """Median, 10th and 90th percentile of the known values (as pandas computes them)."""
    known = mbps[~np.isnan(mbps)]
    if not len(known):
        return dict.fromkeys(("ingest_mbps", "ingest_mbps_p10", "ingest_mbps_p90"), np.nan)
    return {"ingest_mbps": float(np.median(known)),
            "ingest_mbps_p10": float(np.percentile(known, 10)),
            "ingest_mbps_p90": float(np.percentile(known, 90))}


def _mode(values: pd.Series) -> int | None:
    """The most frequent value (the smallest of a tie, as `Series.mode().iloc[0]`), None
    when every value is missing."""
    known = values.dropna().to_numpy(float)
    if not len(known):
        return None
    vals, counts = np.unique(known, return_counts=True)
    return int(vals[counts == counts.max()][0])


def _resolution(short_side: int) -> str:
    """The recommended-encode class of a picture: the largest whose side fits (360p floor)."""
    for name, (side, _) in RECOMMENDED_ENCODES.items():
        if short_side >= side * 0.95:
            return name
    return "360p"


@dataclass(frozen=True)
class BitrateRule:
    """The rule's parameters (module constants are the defaults); a target resolution
    Cloudflare has no recommended encode for is a UsageError."""

    lookback_days: int = LOOKBACK_DAYS
    bandwidth: str | Path | None = None  # the country bandwidth table (None: built in)
    low_bandwidth_mbps: float = LOW_BANDWIDTH_MBPS
    min_low_bandwidth_share: float = MIN_LOW_BANDWIDTH_SHARE
    tolerance: float = TOLERANCE
    low_bandwidth_target: str = LOW_BANDWIDTH_TARGET
    min_ingest_recordings: int = MIN_INGEST_RECORDINGS

    def __post_init__(self) -> None:
        if self.low_bandwidth_target not in RECOMMENDED_ENCODES:
            raise UsageError("low_bandwidth_target must be one of "
                             f"{', '.join(RECOMMENDED_ENCODES)}")


@dataclass(frozen=True)
class Flagged:
    """One live input the rule found: its ingest profile, why, and the encode proposed."""

    profile: Any  # a row of `ingest_profiles` (attributes: live_input_uid, ingest_mbps, ...)
    name: str | None
    reasons: list[str]
    target_resolution: str
    target_mbps: float

    @property
    def factor(self) -> float:
        """Target / current bitrate: what exports and delivered bytes scale by."""
        return float(self.target_mbps / self.profile.ingest_mbps)

    @property
    def breaks_requirements(self) -> bool:
        return any("Cloudflare's" in r for r in self.reasons)


@dataclass(frozen=True)
class BitratePricing:
    """The engine's price of the input's exports at the target, and the delivered bytes."""

    exports: ExportsSaving
    delivery: dict[str, Any]

    @property
    def monthly(self) -> Decimal:
        return self.exports.saving if self.exports.saving > 0 else Decimal(0)


def recommend_bitrate(wh: Warehouse, *, book: PriceBook | str | None = None,
                      as_of: date | str | None = None,
                      rule: BitrateRule | None = None) -> list[Recommendation]:
    """A target resolution and bitrate per live input whose ingest is more than its audience
    can use, or outside Cloudflare's requirements (`rule`: default `BitrateRule()`).

    >>> recs = recommend_bitrate(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    """
    rule = rule or BitrateRule()
    book, day = resolve(wh, book, as_of)
    flagged = find(wh, day, rule)
    if not flagged:
        return []
    ctx = r2_context(wh, day)
    _, _, source = load_bandwidth(rule.bandwidth)
    return [explain_input(f, price(ctx, f, book, day), ctx, rule, source) for f in flagged]


def find(wh: Warehouse, day: date, rule: BitrateRule) -> list[Flagged]:
    """The rule: inputs with enough recordings whose ingest breaks the requirements, or is
    above the recommended encode while their audience is mostly low-bandwidth."""
    prof = ingest_profiles(wh, as_of=day, lookback_days=rule.lookback_days,
                           bandwidth=rule.bandwidth, low_bandwidth_mbps=rule.low_bandwidth_mbps)
    names = rm.live_inputs(wh, history=True).set_index("uid")["name"]
    out = []
    for p in prof.itertuples():
        if p.recordings < rule.min_ingest_recordings:
            continue
        reasons, (res, mbps) = _judge(p, rule.min_low_bandwidth_share, rule.tolerance,
                                      rule.low_bandwidth_target)
        if reasons:
            out.append(Flagged(p, names.get(p.live_input_uid), reasons, res, mbps))
    return out


def price(ctx: R2Context, f: Flagged, book: PriceBook, day: date) -> BitratePricing:
    """The engine's R2 bill with the input's exports at the target; delivered bytes."""
    uid = f.profile.live_input_uid
    uid_videos = set(ctx.recordings_of.get(uid, set()))
    return BitratePricing(exports_saving(ctx, uid, f.factor, book),
                          delivery(ctx, uid_videos | {uid}, f.factor, day))


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


def explain_input(f: Flagged, pricing: BitratePricing, ctx: R2Context, rule: BitrateRule,
                  source: str) -> Recommendation:
    """The recommendation for one flagged input: its evidence, words and manual action."""
    p, uid = f.profile, f.profile.live_input_uid
    rid = f"{KIND}:{uid}"
    gb_h, gb_h_after = p.ingest_mbps * 3600 / 8 / 1000, f.target_mbps * 3600 / 8 / 1000
    d = pricing.delivery
    computation = (f"{pricing.exports.text}. Exports scale with bitrate: {f.target_mbps:g} / "
                   f"{p.ingest_mbps:.2f} Mbps = {f.factor:.3f}; realised gradually, as new "
                   "exports at the target replace old ones. Information (not counted): bytes "
                   f"delivered in the last {DELIVERY_DAYS} days at the ingest bitrate priced on "
                   f"the AWS book ({d['aws_book']}): {money(d['aws_egress_cost'])} -> "
                   f"{money(d['aws_egress_cost_after'])}. {STREAM_BILL}")
    return Recommendation(
        id=rid, kind=KIND, target_type="live_input", target=uid,
        action=(f"Have the broadcaster of live input '{f.name or uid}' send "
                f"{f.target_resolution} at {f.target_mbps:g} Mbps instead of {p.resolution} "
                f"at {p.ingest_mbps:.1f} Mbps (encoder setting, not an API change). "
                f"{STREAM_BILL}"),
        evidence=_evidence(f, pricing, ctx, rule, source, (gb_h, gb_h_after)),
        rule=(f"ingest outside {MIN_INGEST_MBPS:g}-{MAX_INGEST_MBPS:g} Mbps, or above the "
              f"recommended encode for its resolution by more than {rule.tolerance:.0%} with "
              f">= {rule.min_low_bandwidth_share:.0%} of minutes from countries whose typical "
              f"mobile download is under {rule.low_bandwidth_mbps:g} Mbps"),
        monthly_saving=pricing.monthly, saving_computation=computation,
        viewer_impact=(f"{p.low_bandwidth_share:.0%} of its {p.minutes_viewed:,.0f} minutes "
                       "come from low-bandwidth countries; Stream re-encodes the stream into "
                       "its own ladder, so viewers lose at most the 1080p rendition where the "
                       f"target is lower. Data use at the ingest bitrate: {gb_h:.2f} GB per "
                       f"hour now, {gb_h_after:.2f} GB per hour at the target."),
        confidence="high" if f.breaks_requirements else "medium",
        actions=(Action(
            id=f"manual:encoder:{uid}", kind="manual", resource=uid,
            current={"resolution": p.resolution, "bitrate_mbps": round(p.ingest_mbps, 2)},
            proposed={"resolution": f.target_resolution, "bitrate_mbps": f.target_mbps,
                      "how": "change the encoder settings (OBS, hardware encoder); the API "
                             "cannot"},
            why="; ".join(f.reasons), recommendation_id=rid),))


def _evidence(f: Flagged, pricing: BitratePricing, ctx: R2Context, rule: BitrateRule,
              source: str, data_gb_per_hour: tuple[float, float]) -> BitrateEvidence:
    """The input's measured ingest and audience, and what the target changes."""
    p = f.profile
    gb_h, gb_h_after = data_gb_per_hour
    return BitrateEvidence(
        live_input=p.live_input_uid, live_input_name=f.name, recordings=p.recordings,
        ingest_mbps_median=round(p.ingest_mbps, 3),
        ingest_mbps_p10_p90=(round(p.ingest_mbps_p10, 3), round(p.ingest_mbps_p90, 3)),
        resolution=p.resolution, width=_int(p.width), height=_int(p.height),
        recommended_encode_mbps=RECOMMENDED_ENCODES[p.resolution][1],
        requirement_mbps=(MIN_INGEST_MBPS, MAX_INGEST_MBPS),
        target={"resolution": f.target_resolution, "bitrate_mbps": f.target_mbps},
        reasons=tuple(f.reasons),
        minutes_viewed=p.minutes_viewed, low_bandwidth_minutes=p.low_bandwidth_minutes,
        low_bandwidth_share=round(p.low_bandwidth_share, 4),
        minutes_by_country=dict(p.minutes_by_country),
        low_bandwidth_threshold_mbps=rule.low_bandwidth_mbps, bandwidth_source=source,
        mp4_exports=as_json(pricing.exports.info), delivery=as_json(pricing.delivery),
        viewer_data_gb_per_hour={"current": round(gb_h, 3), "target": round(gb_h_after, 3)},
        stream_bill=STREAM_BILL,
        information_only=pricing.monthly == 0,
        priced_month=ctx.priced,
        usage_notes=tuple(ctx.notes),
        confidence_reason=("measured ingest outside the requirement" if f.breaks_requirements
                           else "measured ingest and audience, but the country bandwidth table "
                           "is an approximate assumption"))


def _int(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


__all__ = ["KIND", "STREAM_BILL", "BitratePricing", "BitrateRule", "Flagged", "explain_input",
           "find", "ingest_profiles", "load_bandwidth", "price", "recommend_bitrate"]
