"""The same month priced on an AWS alternative (S3 + CloudFront), component by component."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd

from ..errors import UsageError
from ..warehouse import Warehouse
from .engine import STANDARD, Bill, Usage, month_bounds, price_period
from .pricebook import PriceBook, load_book
from .usage import period_usage

#: Cloudflare's recommended encodes (reference section 6), Mbps per rendition.
RENDITION_MBPS: dict[str, Decimal] = {"1080p": Decimal("8"), "720p": Decimal("4.8"),
                                      "480p": Decimal("2.4"), "360p": Decimal("1")}
#: Assumed share of minutes delivered at each rendition (overridable).
DEFAULT_MIX: dict[str, Decimal] = {"1080p": Decimal("0.30"), "720p": Decimal("0.40"),
                                   "480p": Decimal("0.20"), "360p": Decimal("0.10")}
#: the components that compare R2 with S3 (the rest compare Stream with S3 + CloudFront)
R2_COMPONENTS = ("Object storage (R2 -> S3 Standard)", "Operations (R2 Class A/B -> S3 PUT/GET)",
                 "IA retrieval (R2 -> S3 Standard)")
#: what the project's seed claimed R2 saves against S3, checked by `comparison_summary`
CLAIMED_R2_SAVING = 0.9
_COLUMNS = ["component", "cloudflare_cost", "aws_cost", "difference", "aws_quantity",
            "aws_unit", "assumption", "excluded"]


def aws_comparison(wh: Warehouse, month: date | str,
                   bitrate_mix: Mapping[str, float | str | Decimal] | None = None, *,
                   rendition_mbps: Mapping[str, float | str | Decimal] | None = None,
                   book: PriceBook | None = None) -> pd.DataFrame:
    """Per component: the Cloudflare bill and the same usage priced on AWS by the same engine.

    How it is computed (usage: `warehouse_usage(wh, month)`; Cloudflare: `book`, default the
    built-in list prices; AWS: `load_book("aws")`, which bills GB as 2^30 bytes):

    - Object storage: R2's daily bytes (Standard and Infrequent Access alike) as S3 Standard
      GB-months; Cloudflare column: the R2 storage SKUs.
    - Operations: R2 Class A / Class B requests as S3 PUT-COPY-POST-LIST / GET requests.
    - IA retrieval: S3 Standard has no retrieval fee, so AWS is 0.
    - Video delivery: Stream minutes delivered as CloudFront egress. Bytes = minutes x 60 s x
      Mbps x 10^6 / 8, where Mbps is the mix-weighted bitrate (default: Cloudflare's
      recommended encodes 1080p 8, 720p 4.8, 480p 2.4, 360p 1 Mbps weighted 30/40/20/10% =
      4.9 Mbps). In decimal GB that is minutes x 60 x Mbps / 8 / 1000; the AWS engine divides
      bytes by 2^30 (AWS's "GB"), and `aws_quantity` is in those GB.
    - Video storage: Stream's stored minutes each day (rebuilt from the videos the warehouse
      has listed; pending reservations excluded) as S3 Standard bytes of an HLS ladder that
      keeps every rendition of the mix: minutes x 60 x (sum of their Mbps) x 10^6 / 8.
      Cloudflare charges prepaid capacity instead (the Stream storage SKU).
    - Not priced on AWS (aws_cost None, `excluded` says why): live ingest and transcoding
      (IVS / MediaLive, per-hour prices unverified) and CloudFront request fees (not in the
      AWS book). Both are included in Cloudflare Stream's prices.
    - The total row: the Cloudflare bill's total, and the AWS bill of all priced components
      together (one bill, so CloudFront's free tier and tiers apply once).

    >>> aws_comparison(Warehouse("data/demo.duckdb", read_only=True), "2026-06")  # doctest: +SKIP
    """
    first, nxt = month_bounds(month)
    return aws_comparison_days(wh, first, nxt - timedelta(days=1), bitrate_mix,
                               rendition_mbps=rendition_mbps, book=book)


def aws_comparison_days(wh: Warehouse, first: date, last: date,
                        bitrate_mix: Mapping[str, float | str | Decimal] | None = None, *,
                        rendition_mbps: Mapping[str, float | str | Decimal] | None = None,
                        book: PriceBook | None = None) -> pd.DataFrame:
    """`aws_comparison` for the days `first`..`last` priced as one billing period (both
    sides by `engine.price_period`), e.g. the last 30 complete days of a warehouse that does
    not hold a whole month yet.

    >>> aws_comparison_days(wh, date(2026, 6, 4), date(2026, 7, 3))    # doctest: +SKIP
    """
    cf_book = book or load_book("cloudflare")
    aws_book = load_book("aws")
    mix, mbps = rendition_shares(bitrate_mix, rendition_mbps)
    delivered_mbps = sum((mix[r] * mbps[r] for r in mix), Decimal(0))
    ladder = [r for r in mix if mix[r] > 0]
    ladder_mbps = sum((mbps[r] for r in ladder), Decimal(0))
    u = period_usage(wh, first, last)
    cf = price_period(u, first, last, cf_book)
    meter = {li.sku_id: cf_book.price(li.sku_id, first).meter for li in cf.line_items}

    def cf_cost(*meters: str) -> Decimal:
        return sum((li.cost for li in cf.line_items if meter[li.sku_id] in meters), Decimal(0))

    parts = {
        "Object storage (R2 -> S3 Standard)": (
            ("object_storage",), Usage(r2_storage=_as_standard(u)),
            "all R2 bytes (Standard and IA) as S3 Standard GB-months; GB = 2^30 bytes"),
        "Operations (R2 Class A/B -> S3 PUT/GET)": (
            ("operations",), Usage(r2_operations=u.r2_operations),
            "Class A as PUT/COPY/POST/LIST, Class B as GET, per 1,000 requests"),
        "IA retrieval (R2 -> S3 Standard)": (
            ("retrieval",), Usage(), "S3 Standard has no retrieval fee"),
        "Video delivery (Stream minutes delivered -> CloudFront egress)": (
            ("stream_delivery",), Usage(egress=_egress(u, delivered_mbps)),
            f"minutes x 60 x {_n(delivered_mbps)} Mbps / 8 = bytes; mix "
            + ", ".join(f"{r} {_n(mbps[r])} Mbps x {_n(mix[r])}" for r in mix)
            + "; billed GB = bytes / 2^30"),
        "Video storage (Stream minutes stored -> S3 Standard renditions)": (
            ("stream_capacity",), Usage(r2_storage=_rendition_bytes(u, ladder_mbps)),
            f"stored minutes x 60 x {_n(ladder_mbps)} Mbps (every rendition: "
            + " + ".join(ladder) + ") / 8 = bytes, as S3 Standard GB-months; Cloudflare "
            "bills prepaid capacity"),
    }
    rows = []
    for name, (meters, aws_usage, assumption) in parts.items():
        aws = price_period(aws_usage, first, last, aws_book)
        rows.append(_row(name, cf_cost(*meters), aws.total, _quantity(aws), assumption))
    rows += _unpriced_rows()
    everything = Usage(r2_storage=pd.concat([_as_standard(u), _rendition_bytes(u, ladder_mbps)],
                                            ignore_index=True),
                       r2_operations=u.r2_operations, egress=_egress(u, delivered_mbps))
    aws_total = price_period(everything, first, last, aws_book).total
    rows.append(_row("Total", cf.total, aws_total, None,
                     f"Cloudflare: {cf_book.label}; AWS: {aws_book.label}",
                     "the rows marked excluded are not in the AWS total"))
    return pd.DataFrame(rows, columns=_COLUMNS)


def _unpriced_rows() -> list[dict]:
    """The AWS counterparts the comparison names but cannot price."""
    return [
        _row("Live ingest and transcoding (AWS IVS / MediaLive)", Decimal(0), None, None,
             "included in Cloudflare Stream",
             "not priced: AWS IVS and MediaLive per-hour prices could not be verified"),
        _row("CloudFront HTTPS requests", Decimal(0), None, None,
             "Cloudflare does not charge per request for delivery",
             "not priced: CloudFront request fees are not in the AWS price book"),
    ]


def comparison_summary(table: pd.DataFrame, first: date, last: date,
                       bitrate_mix: Mapping[str, float | str | Decimal] | None = None, *,
                       rendition_mbps: Mapping[str, float | str | Decimal] | None = None,
                       ) -> dict:
    """What an `aws_comparison` table says, for a review's headline and summary.json.

    Keys: period_start, period_end, cloudflare_total, aws_total, saving (AWS - Cloudflare;
    negative when Cloudflare costs more), saving_share (of the AWS total, float), r2_total,
    s3_total, r2_saving, r2_saving_share (R2 against S3 alone: storage, operations, IA
    retrieval), claimed_r2_saving_share (the seed's "R2 saves 90% vs S3"), rendition_mix and
    rendition_mbps (floats), delivered_mbps, excluded (what the AWS total leaves out),
    unverified_prices (AWS SKUs whose figure AWS's page copy did not show). Money is Decimal.

    >>> table = aws_comparison(wh, "2026-06")                          # doctest: +SKIP
    >>> comparison_summary(table, date(2026, 6, 1), date(2026, 6, 30))  # doctest: +SKIP
    """
    by = table.set_index("component")
    cf, aws = by.loc["Total", "cloudflare_cost"], by.loc["Total", "aws_cost"]
    r2 = sum((by.loc[c, "cloudflare_cost"] for c in R2_COMPONENTS), Decimal(0))
    s3 = sum((by.loc[c, "aws_cost"] for c in R2_COMPONENTS), Decimal(0))
    mix, mbps = rendition_shares(bitrate_mix, rendition_mbps)
    return {
        "period_start": first, "period_end": last,
        "cloudflare_total": cf, "aws_total": aws, "saving": aws - cf,
        "saving_share": float((aws - cf) / aws) if aws else None,
        "r2_total": r2, "s3_total": s3, "r2_saving": s3 - r2,
        "r2_saving_share": float((s3 - r2) / s3) if s3 else None,
        "claimed_r2_saving_share": CLAIMED_R2_SAVING,
        "rendition_mix": {r: float(x) for r, x in mix.items()},
        "rendition_mbps": {r: float(x) for r, x in mbps.items()},
        "delivered_mbps": float(sum((mix[r] * mbps[r] for r in mix), Decimal(0))),
        "excluded": [f"{c}: {e}" for c, e in zip(table["component"], table["excluded"],
                                                    strict=True) if e and c != "Total"],
        "unverified_prices": unverified_prices(load_book("aws"), first),
    }


def unverified_prices(book: PriceBook, on: date) -> list[str]:
    """The SKUs of `book` whose figure its source page did not show (`source_note` starts
    with UNVERIFIED): a comparison that uses them says so.

    >>> unverified_prices(load_book("aws"), date(2026, 6, 1))
    ['aws-s3-get-class', 'aws-s3-put-class', 'aws-s3-standard-storage']
    """
    return sorted(s.id for s in book.skus(on) if s.source_note.startswith("UNVERIFIED"))


def egress_bytes(minutes: Decimal | int, mbps: Decimal) -> Decimal:
    """Bytes delivered for `minutes` of video at `mbps` megabits per second (10^6 bits).

    >>> egress_bytes(1000, Decimal("4.9"))      # 1,000 minutes at 4.9 Mbps = 36.75 GB
    Decimal('36750000000.0')
    """
    return Decimal(minutes) * 60 * mbps * 1_000_000 / 8


def rendition_shares(mix: Mapping[str, float | str | Decimal] | None,
                     mbps: Mapping[str, float | str | Decimal] | None = None,
                     ) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """A validated rendition mix (default DEFAULT_MIX) and each rendition's Mbps.

    Raises ValueError for an unknown rendition or shares that are negative or do not add
    up to 1.

    >>> rendition_shares({"720p": "1"})
    ({'720p': Decimal('1')}, {'720p': Decimal('4.8')})
    """
    rates = {**RENDITION_MBPS, **{k: Decimal(str(v)) for k, v in (mbps or {}).items()}}
    shares = dict(DEFAULT_MIX) if mix is None else {k: Decimal(str(v)) for k, v in mix.items()}
    unknown = sorted(set(shares) - set(rates))
    if unknown:
        raise UsageError(f"unknown rendition(s) {', '.join(unknown)}: give their Mbps in "
                         f"rendition_mbps (known: {', '.join(rates)})")
    if any(s < 0 for s in shares.values()) or sum(shares.values()) != 1:
        raise UsageError(f"bitrate_mix shares must be >= 0 and add up to 1 (got "
                         f"{sum(shares.values())})")
    return shares, {r: rates[r] for r in shares}


def _n(x: Decimal) -> str:
    return f"{x.normalize():f}"


def _as_standard(u: Usage) -> pd.DataFrame:
    return u.frame("r2_storage", ["date", "storage_class", "bytes"]).assign(
        storage_class=STANDARD)


def _egress(u: Usage, mbps: Decimal) -> pd.DataFrame:
    d = u.frame("stream_delivery", ["date", "minutes"])
    return pd.DataFrame({"date": d["date"], "bytes": [
        int(egress_bytes(Decimal(str(m)), mbps)) for m in d["minutes"]]})


def _rendition_bytes(u: Usage, ladder_mbps: Decimal) -> pd.DataFrame:
    s = u.frame("stream_storage", ["date", "stored_minutes"])
    return pd.DataFrame({"date": s["date"], "bucket": "(stream renditions)",
                         "storage_class": STANDARD, "bytes": [
                             int(egress_bytes(Decimal(str(m)), ladder_mbps))
                             for m in s["stored_minutes"]]})


def _quantity(bill: Bill) -> tuple[Decimal | None, str | None]:
    if not bill.line_items:
        return None, None
    units = {li.consumed_unit for li in bill.line_items}
    unit = units.pop() if len(units) == 1 else None
    qty = sum((li.consumed_quantity for li in bill.line_items), Decimal(0)) if unit else None
    return qty, unit


def _row(component: str, cf: Decimal, aws: Decimal | None,
         quantity: tuple[Decimal | None, str | None] | None, assumption: str,
         excluded: str = "") -> dict:
    qty, unit = quantity or (None, None)
    return {"component": component, "cloudflare_cost": cf, "aws_cost": aws,
            "difference": None if aws is None else aws - cf, "aws_quantity": qty,
            "aws_unit": unit, "assumption": assumption, "excluded": excluded}
