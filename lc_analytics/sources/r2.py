"""R2 source over the S3 API: every object of each bucket and each bucket's lifecycle rules."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from ..errors import ConfigError, R2Error
from ..settings import Settings, mask_secrets

_AUTH_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "Unauthorized"}


class R2Inventory:
    """Lists R2 with boto3 and counts its own ListObjectsV2 calls (each is a Class A op).

    >>> inv = R2Inventory(settings)                                   # doctest: +SKIP
    >>> sum(1 for _ in inv.iter_objects("lc-thumbnails")), inv.listing_calls  # doctest: +SKIP
    """

    def __init__(self, settings: Settings, *, page_size: int = 1000) -> None:
        problems = [
            msg for msg, bad in (
                ("R2_ACCESS_KEY_ID is not set", not settings.r2_access_key_id),
                ("R2_SECRET_ACCESS_KEY is not set", not settings.r2_secret_access_key),
                ("R2_ENDPOINT_URL is not set (nor CLOUDFLARE_ACCOUNT_ID)",
                 not settings.r2_endpoint_url),
            ) if bad
        ]
        if problems:
            raise ConfigError(problems)
        assert settings.r2_secret_access_key is not None
        self.settings = settings
        self.page_size = page_size
        self.listing_calls: Counter[str] = Counter()
        self._secrets = settings.secrets()
        self._s3 = boto3.session.Session().client(
            "s3",
            region_name="auto",
            endpoint_url=settings.r2_endpoint_url,
            aws_access_key_id=settings.r2_access_key_id,
            aws_secret_access_key=settings.r2_secret_access_key.reveal(),
            config=Config(signature_version="s3v4", retries={"mode": "standard",
                                                             "max_attempts": 5},
                          s3={"addressing_style": "path"}),
        )

    def raw_lifecycle(self, bucket: str) -> list[dict]:
        """The bucket's lifecycle rules exactly as S3 returns them ([] when none)."""
        try:
            with self._translate("GetBucketLifecycleConfiguration", bucket):
                return list(self._s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"])
        except R2Error as exc:
            if exc.context.get("code") == "NoSuchLifecycleConfiguration":
                return []
            raise

    def put_lifecycle(self, bucket: str, rules: list[dict]) -> None:
        """Replace the bucket's lifecycle configuration (needs R2 Object Read & Write)."""
        with self._translate("PutBucketLifecycleConfiguration", bucket, write=True):
            self._s3.put_bucket_lifecycle_configuration(
                Bucket=bucket, LifecycleConfiguration={"Rules": rules})

    def buckets(self) -> list[str]:
        """The configured bucket (R2_BUCKET_NAME), or every bucket of the account."""
        if self.settings.r2_bucket_name:
            return [self.settings.r2_bucket_name]
        with self._translate("ListBuckets", None):
            self.listing_calls["(ListBuckets)"] += 1
            return sorted(b["Name"] for b in self._s3.list_buckets().get("Buckets", []))

    def iter_objects(self, bucket: str) -> Iterator[dict]:
        """Every object of `bucket` as an `r2_objects` row, following continuation tokens."""
        token: str | None = None
        while True:
            kwargs = {"Bucket": bucket, "MaxKeys": self.page_size}
            if token:
                kwargs["ContinuationToken"] = token
            with self._translate("ListObjectsV2", bucket):
                self.listing_calls[bucket] += 1
                page = self._s3.list_objects_v2(**kwargs)
            for obj in page.get("Contents", []):
                yield {
                    "bucket": bucket,
                    "key": obj["Key"],
                    "size_bytes": int(obj["Size"]),
                    "etag": str(obj.get("ETag", "")).strip('"'),
                    "last_modified": obj["LastModified"],
                    "storage_class": obj.get("StorageClass") or "STANDARD",
                }
            if not page.get("IsTruncated"):
                return
            token = page.get("NextContinuationToken")
            if not token:
                raise R2Error(f"ListObjectsV2 on {bucket} was truncated without a "
                              "NextContinuationToken", bucket=bucket)

    def lifecycle_rules(self, bucket: str) -> list[dict]:
        """The bucket's lifecycle rules as `r2_lifecycle_rules` rows ([] when none)."""
        return [lifecycle_row(bucket, r) for r in self.raw_lifecycle(bucket)]

    @contextmanager
    def _translate(self, operation: str, bucket: str | None, write: bool = False):
        """Turn botocore errors into R2Error naming the setting or permission to fix."""
        where = f"{operation} on bucket {bucket}" if bucket else operation
        try:
            yield
        except ClientError as exc:
            err = exc.response.get("Error", {})
            code = err.get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in _AUTH_CODES:
                msg = (f"R2 refused the credentials for {where} ({code}): check "
                       "R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY")
            elif code == "AccessDenied" or status == 403:
                needed = ("'Object Read & Write' permission (Workers R2 Storage Write)"
                          if write else "'Object Read only' permission (Workers R2 Storage "
                          "Read)")
                msg = (f"R2 denied {where} (AccessDenied): the R2 API token needs the "
                       f"{needed} for {bucket or 'the account'}")
            elif code == "NoSuchBucket":
                msg = f"R2 bucket {bucket!r} does not exist (check R2_BUCKET_NAME)"
            else:
                msg = f"R2 {where} failed: {code or status}: {err.get('Message', '')}"
            raise R2Error(mask_secrets(msg, self._secrets), code=code, status=status,
                          bucket=bucket) from exc
        except EndpointConnectionError as exc:
            raise R2Error(f"cannot reach R2 at {self.settings.r2_endpoint_url} for {where} "
                          "(check R2_ENDPOINT_URL)", bucket=bucket) from exc
        except BotoCoreError as exc:
            raise R2Error(mask_secrets(f"R2 {where} failed: {exc}", self._secrets),
                          bucket=bucket) from exc


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
