"""AWS Signature Version 4 checks for the sandbox's R2: is the key known, does the signature match.

`check_request(environ, keys)` recomputes the signature of one WSGI request (Authorization
header or presigned query) with the secret of the access key it names, and answers what R2
would refuse it with, or None when it passes::

    refusal = check_request(environ, {"<32-hex key id>": "<64-hex secret>"})
    if refusal is not None:
        return refusal.wsgi(start_response, head=environ["REQUEST_METHOD"] == "HEAD")

Refusals follow R2 where it documents them (developers.cloudflare.com/r2/api/error-codes):
no credentials: 401 `Unauthorized`; a wrong secret (or anything else that changes the
signature): 403 `SignatureDoesNotMatch`; an access key id that is not 32 characters: 400
`InvalidArgument` ("Credential access key has length N, should be 32", as R2 answers it).
An unknown key of the right length gets S3's 403 `InvalidAccessKeyId`; an Authorization
header that is not SigV4 (R2 supports no other) gets 400 `InvalidArgument`. Not checked,
unlike R2: the request's age (the sandbox's clock is simulated, the client signs with its
own), presigned expiry, the payload hash against the body, and chunk signatures of streaming
uploads (their seed signature is checked).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
KEY_ID_LENGTH = 32  # R2 access key ids are 32 hex characters
_HEADER_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+)\s*,\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+)\s*,\s*Signature=(?P<signature>[0-9a-f]+)\s*$")

__all__ = ["KEY_ID_LENGTH", "S3Refusal", "check_request", "sign"]


@dataclass(frozen=True)
class S3Refusal:
    """An S3 error answer: HTTP status, S3 error code and message."""

    status: int
    code: str
    message: str

    def body(self) -> bytes:
        """The S3 XML error document."""
        return ('<?xml version="1.0" encoding="UTF-8"?>\n'
                f"<Error><Code>{self.code}</Code><Message>{_xml(self.message)}</Message>"
                "</Error>").encode()

    def wsgi(self, start_response: Callable[..., Any], *, head: bool = False) -> Iterable[bytes]:
        """Answer a WSGI request with this error (no body for HEAD, as S3 does)."""
        body = b"" if head else self.body()
        reason = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden"}[self.status]
        start_response(f"{self.status} {reason}", [("Content-Type", "application/xml"),
                                                   ("Content-Length", str(len(body)))])
        return [body]


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True)
class _Signed:
    """What a request says about its own signature."""

    key_id: str
    scope: str  # date/region/service/aws4_request
    amz_date: str
    signed_headers: list[str]
    signature: str
    payload_hash: str
    query: list[tuple[str, str]]  # decoded pairs that take part in the canonical query


def check_request(environ: Mapping[str, Any], keys: Mapping[str, str]) -> S3Refusal | None:
    """None when `environ` is signed with one of `keys` (access key id -> secret)."""
    query = _query_pairs(environ.get("QUERY_STRING", ""))
    try:
        signed = _read_signature(environ, query)
    except _Refused as exc:
        return exc.refusal
    if signed is None:
        return S3Refusal(401, "Unauthorized", "Unauthorized")
    if len(signed.key_id) != KEY_ID_LENGTH:
        return S3Refusal(400, "InvalidArgument", f"Credential access key has length "
                                                 f"{len(signed.key_id)}, should be 32")
    secret = keys.get(signed.key_id)
    if secret is None:
        return S3Refusal(403, "InvalidAccessKeyId",
                         "The access key ID you provided does not exist in our records.")
    canonical = canonical_request(environ, signed)
    expected = sign(secret, signed.scope, signed.amz_date, canonical)
    if not hmac.compare_digest(expected, signed.signature):
        return S3Refusal(403, "SignatureDoesNotMatch",
                         "The request signature we calculated does not match the signature "
                         "you provided. Check your secret access key and signing method.")
    return None


class _Refused(Exception):
    def __init__(self, refusal: S3Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


def _malformed(message: str) -> _Refused:
    return _Refused(S3Refusal(400, "InvalidArgument", message))


def _read_signature(environ: Mapping[str, Any],
                    query: list[tuple[str, str]]) -> _Signed | None:
    """The signature a request carries (header or presigned query); None when unsigned."""
    params = dict(query)
    header = environ.get("HTTP_AUTHORIZATION")
    if header is not None:
        match = _HEADER_AUTH.match(header.strip())
        if match is None:
            raise _malformed("Authorization header is not a valid AWS4-HMAC-SHA256 signature")
        payload = environ.get("HTTP_X_AMZ_CONTENT_SHA256")
        if payload is None:
            raise _Refused(S3Refusal(400, "InvalidRequest", "Missing required header for this "
                                                            "request: x-amz-content-sha256"))
        credential, headers, signature = match["credential"], match["signed"], match["signature"]
        amz_date = environ.get("HTTP_X_AMZ_DATE", "")
        pairs = query
    elif "X-Amz-Signature" in params:
        if params.get("X-Amz-Algorithm") != ALGORITHM:
            raise _malformed("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
        credential = params.get("X-Amz-Credential", "")
        headers = params.get("X-Amz-SignedHeaders", "")
        signature = params["X-Amz-Signature"]
        amz_date = params.get("X-Amz-Date", "")
        payload = params.get("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
        pairs = [(k, v) for k, v in query if k != "X-Amz-Signature"]
    else:
        return None
    key_id, _, scope = credential.partition("/")
    if scope.count("/") != 3 or not scope.endswith("/s3/aws4_request") or not amz_date:
        raise _malformed("the credential scope must be <key>/<date>/<region>/s3/aws4_request "
                         "and the request must carry its X-Amz-Date")
    return _Signed(key_id, scope, amz_date, headers.split(";"), signature, payload, pairs)


def canonical_request(environ: Mapping[str, Any], signed: _Signed) -> str:
    """SigV4's canonical request for S3: the path as sent (not normalised), sorted query."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    path = urlsplit(raw).path if raw else quote(environ.get("PATH_INFO", "/"), safe="/~")
    query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
                     for k, v in sorted(signed.query))
    headers = "".join(f"{name}:{_header(environ, name)}\n" for name in signed.signed_headers)
    return "\n".join([environ.get("REQUEST_METHOD", "GET").upper(), path or "/", query,
                      headers, ";".join(signed.signed_headers), signed.payload_hash])


def sign(secret: str, scope: str, amz_date: str, canonical: str) -> str:
    """The hex signature of `canonical` under `secret` for the credential `scope`."""
    day, region, service, terminal = scope.split("/")
    string_to_sign = "\n".join([ALGORITHM, amz_date, scope,
                                hashlib.sha256(canonical.encode()).hexdigest()])
    key = f"AWS4{secret}".encode()
    for part in (day, region, service, terminal):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def _header(environ: Mapping[str, Any], name: str) -> str:
    """A request header's canonical value (trimmed, inner runs of spaces collapsed)."""
    key = name.upper().replace("-", "_")
    if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        key = f"HTTP_{key}"
    return " ".join(str(environ.get(key, "")).split())


def _query_pairs(raw: str) -> list[tuple[str, str]]:
    """Decoded (name, value) pairs of a query string, in order; `a` alone is ("a", "")."""
    pairs = []
    for part in raw.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((unquote(name), unquote(value)))
    return pairs
