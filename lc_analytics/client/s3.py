"""The R2 client over the S3 API: one retry loop, botocore errors translated once."""

from __future__ import annotations

import functools
import random
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

import boto3
import botocore.session
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
from .s3_parse import FastListParserFactory

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


class R2Client:
    """Talks to R2 with boto3 and counts its own listing calls (each is a Class A op)."""

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
        core = botocore.session.get_session()
        core.register_component("response_parser_factory", FastListParserFactory())
        self._s3 = boto3.session.Session(botocore_session=core).client(
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

    def list_objects(self, request: dict[str, Any]) -> dict[str, Any]:
        """One ListObjectsV2 page (`request` holds its keyword arguments, Bucket included)."""
        bucket = request["Bucket"]
        self.listing_calls[bucket] += 1
        return self._call("ListObjectsV2", bucket,
                          functools.partial(self._s3.list_objects_v2, **request))

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


