"""The planted cost anomaly and its healthy look-alike (for `lc-analytics alerts check`).

- Anomaly: on the account's last complete day at build time (`end`), one product image is
  hot-linked by a viral post and read ~30 million times (R2 Class B operations, far above the
  free tier): a spike in the daily cost of Class B operations, driven by one prefix.
- Look-alike: every week on `end`'s weekday, a planned catalog re-index lists the product
  bucket ~600,000 times (ListObjectsV2, Class A): each such day costs real money (the monthly
  free tier is 1 million) and towers over the other days, but it is the same every week, so a
  weekday-aware baseline must leave it alone.

Both are drawn from their own generator (`[seed, 3]`) after every other draw, so the rest of
the account is exactly as before; the counts are added to rows that already exist (the
object's reads on `end`, the bucket's daily ListObjectsV2), so no key is duplicated.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from .simulator import BUCKETS, UTC, Draws, Planted

ANOMALY_READS = 30_000_000  # extra GetObject on the anomaly day (about 30M, drawn)
PEAK_LISTS = 600_000  # ListObjectsV2 of the weekly re-index (about 600k, drawn)


def plant_cost_anomaly(draws: Draws, seed: int, end: date) -> None:
    """Add the anomaly on `end` and the weekly peak on `end`'s weekday to `draws` in place."""
    rng = np.random.default_rng([seed, 3])
    bucket = BUCKETS["products"]
    day = pd.Timestamp(end, tz=UTC)
    objects, reads = draws.objects, draws.reads
    in_bucket = objects["bucket"].to_numpy()[reads["obj"].to_numpy()] == bucket
    on_day = in_bucket & (reads["day"] == day).to_numpy()
    extra = int(rng.normal(ANOMALY_READS, ANOMALY_READS * 0.05))
    peaks = draws.bucket_ops
    lists = ((peaks["bucket"] == bucket) & (peaks["action_type"] == "ListObjectsV2")
             & (peaks["day"].dt.day_of_week == day.day_of_week)).to_numpy()
    sizes = rng.normal(PEAK_LISTS, PEAK_LISTS * 0.03, size=int(lists.sum())).astype(np.int64)
    if on_day.any():
        row = reads.index[on_day][int(np.argmax(reads["requests"].to_numpy()[on_day]))]
        reads.loc[row, "requests"] += extra
        key = objects["key"].iloc[int(reads.loc[row, "obj"])]
        prefix = key.split("/", 1)[0] + "/"
        draws.planted.append(Planted(
            "cost_anomaly", f"{bucket}/{prefix}", False,
            f"{key} is hot-linked on {end}: {extra:,} extra GetObject (Class B) that day"))
    peaks.loc[lists, "requests"] += sizes
    draws.planted.append(Planted(
        "cost_anomaly", bucket, True,
        f"a planned catalog re-index lists {bucket} ~{PEAK_LISTS:,} times every "
        f"{day.day_name()} (Class A): a weekly peak, not an anomaly"))
