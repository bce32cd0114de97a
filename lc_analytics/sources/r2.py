"""R2 datasets over the S3 API: every object of each bucket and each bucket's lifecycle rules."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ..client.paginators import ContinuationTokenPaginator, paginate
from ..client.s3 import R2Client

__all__ = ["R2Inventory", "lifecycle_row"]


class R2Inventory(R2Client):
    """The R2 datasets the sync reads, through the R2 client (which counts its listings).

    >>> inv = R2Inventory(settings)                                   # doctest: +SKIP
    >>> sum(1 for _ in inv.iter_objects("lc-thumbnails")), inv.listing_calls  # doctest: +SKIP
    """

    def iter_objects(self, bucket: str) -> Iterator[dict]:
        """Every object of `bucket` as an `r2_objects` row, following continuation tokens."""
        request: dict[str, Any] = {"Bucket": bucket, "MaxKeys": self.page_size}
        for obj in paginate(self.list_objects, request, ContinuationTokenPaginator(bucket),
                            lambda page: page.get("Contents", [])):
            yield object_row(bucket, obj)

    def lifecycle_rules(self, bucket: str) -> list[dict]:
        """The bucket's lifecycle rules as `r2_lifecycle_rules` rows ([] when none)."""
        return [lifecycle_row(bucket, r) for r in self.raw_lifecycle(bucket)]


def object_row(bucket: str, obj: dict) -> dict:
    """One ListObjectsV2 `Contents` entry as an `r2_objects` row."""
    return {
        "bucket": bucket,
        "key": obj["Key"],
        "size_bytes": int(obj["Size"]),
        "etag": str(obj.get("ETag", "")).strip('"'),
        "last_modified": obj["LastModified"],
        "storage_class": obj.get("StorageClass") or "STANDARD",
    }


def lifecycle_row(bucket: str, rule: dict) -> dict:
    """One S3 lifecycle rule as a flat row (and its raw JSON)."""
    flt = rule.get("Filter") or {}
    prefix = flt.get("Prefix", (flt.get("And") or {}).get("Prefix", rule.get("Prefix", "")))
    transitions = rule.get("Transitions") or []
    first = min(transitions, key=lambda t: t.get("Days", 0)) if transitions else {}
    expiration = rule.get("Expiration") or {}
    abort = rule.get("AbortIncompleteMultipartUpload") or {}
    return {
        "bucket": bucket,
        "rule_id": rule.get("ID") or json.dumps(rule, sort_keys=True, default=str)[:64],
        "enabled": rule.get("Status") == "Enabled",
        "prefix": prefix or "",
        "transition_days": first.get("Days"),
        "transition_class": first.get("StorageClass"),
        "expire_days": expiration.get("Days"),
        "abort_multipart_days": abort.get("DaysAfterInitiation"),
        "rule_json": json.dumps(rule, sort_keys=True, default=str),
    }
