"""R2 source over the S3 API: every object of each bucket and each bucket's lifecycle rules."""

from __future__ import annotations

import functools
import json
import random
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    HTTPClientError,
    IncompleteReadError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.parsers import ResponseParserError
from urllib3.exceptions import HTTPError as Urllib3Error

from ..errors import ConfigError, R2Error
from ..settings import Settings, mask_secrets
from .retry import (
    AUTH,
    ERROR_CODES,
    TRANSIENT_KINDS,
    ClientStats,
    Clock,
    Retrier,
    RetryPolicy,
    retry_after,
)

_CREDENTIAL_FIXES = {  # S3 error code -> which credential to fix
    "InvalidAccessKeyId": "R2 does not know the access key id: check R2_ACCESS_KEY_ID (the R2 "
                          "API token's Access Key ID)",
    "SignatureDoesNotMatch": "the signature does not match: R2_SECRET_ACCESS_KEY is not the "
                             "secret of R2_ACCESS_KEY_ID",
    "InvalidToken": "check R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY",
    "Unauthorized": "check R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY",
}

T = TypeVar("T")

#: Failures below the S3 protocol, retried like a reset connection: refused, reset or
#: early-closed connections, timeouts (botocore's and urllib3's), and bodies cut short so
#: that the XML does not parse.
_TRANSIENT_ERRORS = (BotoConnectionError, HTTPClientError, IncompleteReadError, ResponseParserError,
                     Urllib3Error)


class R2Inventory:
    """Lists R2 with boto3 and counts its own ListObjectsV2 calls (each is a Class A op).

    >>> inv = R2Inventory(settings)                                   # doctest: +SKIP
    >>> sum(1 for _ in inv.iter_objects("lc-thumbnails")), inv.listing_calls  # doctest: +SKIP
    """

    def __init__(self, settings: Settings, *, page_size: int = 1000,
                 retry: RetryPolicy | None = None, clock: Clock | None = None,
                 rng: random.Random | None = None) -> None:
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
        self.stats = ClientStats()  # requests = attempts sent; retries go to sync_runs
        self._retrier = Retrier(retry or RetryPolicy(), clock or Clock(),
                                rng or random.Random(), self.stats)
        self._secrets = settings.secrets()
        self._s3 = boto3.session.Session().client(
            "s3",
            region_name="auto",
            endpoint_url=settings.r2_endpoint_url,
            aws_access_key_id=settings.r2_access_key_id,
            aws_secret_access_key=settings.r2_secret_access_key.reveal(),
            # botocore does not retry: `_call` does, with the client's policy and clock
            config=Config(signature_version="s3v4",
                          retries={"mode": "standard", "total_max_attempts": 1},
                          connect_timeout=settings.request_timeout,
                          read_timeout=settings.request_timeout,
                          s3={"addressing_style": "path"}),
        )

    def raw_lifecycle(self, bucket: str) -> list[dict]:
        """The bucket's lifecycle rules exactly as S3 returns them ([] when none)."""
        try:
            answer = self._call("GetBucketLifecycleConfiguration", bucket,
                                lambda: self._s3.get_bucket_lifecycle_configuration(Bucket=bucket))
            return list(answer["Rules"])
        except R2Error as exc:
            if exc.context.get("code") == "NoSuchLifecycleConfiguration":
                return []
            raise

    def put_lifecycle(self, bucket: str, rules: list[dict]) -> None:
        """Replace the bucket's lifecycle configuration (needs R2 Object Read & Write)."""
        self._call("PutBucketLifecycleConfiguration", bucket,
                   lambda: self._s3.put_bucket_lifecycle_configuration(
                       Bucket=bucket, LifecycleConfiguration={"Rules": rules}), write=True)

    def buckets(self) -> list[str]:
        """The configured bucket (R2_BUCKET_NAME), or every bucket of the account."""
        if self.settings.r2_bucket_name:
            return [self.settings.r2_bucket_name]
        self.listing_calls["(ListBuckets)"] += 1
        answer = self._call("ListBuckets", None, self._s3.list_buckets)
        return sorted(b["Name"] for b in answer.get("Buckets", []))

    def iter_objects(self, bucket: str) -> Iterator[dict]:
        """Every object of `bucket` as an `r2_objects` row, following continuation tokens."""
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": bucket, "MaxKeys": self.page_size}
            if token:
                kwargs["ContinuationToken"] = token
            self.listing_calls[bucket] += 1
            page = self._call("ListObjectsV2", bucket,
                              functools.partial(self._s3.list_objects_v2, **kwargs))
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

    def _call(self, operation: str, bucket: str | None, send: Callable[[], T],
              write: bool = False) -> T:
        """The R2 retry loop: transient failures (ERROR_CODES, 5xx, resets, timeouts, cut
        bodies) are retried within the policy; every botocore error leaves as an R2Error."""
        attempt = 0
        while True:
            attempt += 1
            self.stats.requests += 1
            try:
                return send()
            except (ClientError, BotoCoreError, *_TRANSIENT_ERRORS) as exc:
                err, transient = self._translate(exc, operation, bucket, write)
                if not transient:
                    raise err from exc
                headers = (exc.response.get("ResponseMetadata", {}).get("HTTPHeaders") or {}
                           if isinstance(exc, ClientError) else {})
                self._retrier.wait_or_raise(attempt, err, exc, at_least=retry_after(headers))

    def _translate(self, exc: Exception, operation: str, bucket: str | None,
                   write: bool) -> tuple[R2Error, bool]:
        """An R2Error naming the setting or permission to fix, and whether to retry."""
        where = f"{operation} on bucket {bucket}" if bucket else operation
        if isinstance(exc, ClientError):
            err = exc.response.get("Error", {})
            code = err.get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            kind = ERROR_CODES.get(code)
            if code in _CREDENTIAL_FIXES or _bad_key_id(code, err.get("Message", "")):
                fix = _CREDENTIAL_FIXES.get(code) or (
                    f"{err.get('Message')}: R2_ACCESS_KEY_ID is not an R2 access key id")
                msg = f"R2 refused the credentials for {where} ({code}): {fix}"
            elif code == "AccessDenied" or (status == 403 and kind is None):
                needed = ("'Object Read & Write' permission (Workers R2 Storage Write)"
                          if write else "'Object Read only' permission (Workers R2 Storage "
                          "Read)")
                msg = (f"R2 denied {where} (AccessDenied): the R2 API token needs the "
                       f"{needed} for {bucket or 'the account'}")
            elif kind == AUTH:
                msg = (f"R2 refused the credentials for {where} ({code}): check "
                       "R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY")
            elif code == "NoSuchBucket":
                msg = f"R2 bucket {bucket!r} does not exist (check R2_BUCKET_NAME)"
            else:
                msg = f"R2 {where} failed: {code or status}: {err.get('Message', '')}"
            transient = kind in TRANSIENT_KINDS or (
                kind is None and isinstance(status, int) and (status == 429 or status >= 500))
            return R2Error(mask_secrets(msg, self._secrets), code=code, status=status,
                           bucket=bucket), transient
        if isinstance(exc, EndpointConnectionError):
            return R2Error(f"cannot reach R2 at {self.settings.r2_endpoint_url} for {where} "
                           "(check R2_ENDPOINT_URL)", bucket=bucket), True
        return (R2Error(mask_secrets(f"R2 {where} failed: {exc}", self._secrets), bucket=bucket),
                isinstance(exc, _TRANSIENT_ERRORS))


def _bad_key_id(code: str, message: str) -> bool:
    """R2's answer to a key id of the wrong length (InvalidArgument, "Credential access key")."""
    return code == "InvalidArgument" and message.startswith("Credential access key")


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
