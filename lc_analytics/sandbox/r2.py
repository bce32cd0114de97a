"""R2 for the sandbox: moto's S3 server on loopback, seeded with the simulated objects (no bytes).

`start_r2(account)` serves the account's buckets over the real S3 protocol, so the R2 source
code talks to it with an ordinary boto3 client (region ``auto``, path-style, SigV4)::

    with start_r2(account) as r2:
        s3 = r2.client()
        s3.list_objects_v2(Bucket="lc-recording-exports")["KeyCount"]

What the server reports is exact: every visible simulated object with its key, size, ETag
(the account's md5 hex, quoted), back-dated LastModified and storage class, in ListObjectsV2,
ListObjects and HeadObject; and each bucket's lifecycle rules plus R2's default rule that aborts
incomplete multipart uploads after 7 days.

Deliberate differences from real R2 (all documented here, none affects an inventory):

- No bytes are stored. A seeded object is a `_VirtualKey`; GetObject streams `size` bytes of
  deterministic filler (a repeated SHA-256 of the ETag), so Content-Length and Range requests are
  exact, but the body is not an MP4/JPEG and its MD5 is not the ETag. CopyObject of a seeded
  object (e.g. in place, to change its storage class) makes another virtual object with the same
  size and ETag; UploadPartCopy without a byte range is not supported. Objects written through
  the API are ordinary moto objects holding their bytes.
- LastModified has second precision (moto formats ``...T12:34:56.000Z``; the simulated time is
  truncated to the second). S3 and R2 list milliseconds. Objects written through the API are
  stamped with the account's simulated clock (`account.now`), not the host's.
- Lifecycle rules are stored and served, not executed: the simulation (not moto) decides when an
  object moves to STANDARD_IA or expires. `read_lifecycle_into_account()` hands rules written
  through the S3 API back to the simulation; object writes and deletes are not fed back.
  `follow_clock()` (called after the account's clock moved) swaps in the objects of the new
  day: new objects, expirations and transitions; objects written through the API stay.
- Requests must be signed (SigV4) with the sandbox's key and secret, as R2 checks them
  (`sigv4`); the request's age and the payload hash are not checked.
- moto sorts a bucket's keys for every ListObjectsV2 page, so listing a bucket of n objects
  costs about n/1000 * n; fine for the small and medium presets (medium: ~5 s for 20k objects).

Isolation: every sandbox has its own moto account id and its own server. The server stamps that
id on each request (moto's ``x-moto-account-id``), so a client that reaches the endpoint with
the sandbox's credentials sees that sandbox's buckets only, as with a real per-account R2
endpoint. Bucket names live in the account, as in R2 (moto's process-wide bucket namespace is
left untouched), so two sandboxes of one seed hold the same bucket names. `close()` removes the
moto account. Do not use ``moto.mock_aws`` in the same process while a sandbox runs: its reset
wipes every moto backend.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import hashlib
import itertools
import mimetypes
import os
import re
import socket
import threading
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

import numpy as np
import pandas as pd

from ..errors import R2Error, SandboxError
from .account import SimulatedAccount
from .sigv4 import check_request
from .simulator import BUCKETS

# --- moto internals relied on (moto 5.2.x; checked by `_check_moto_internals`) -------------------
#   moto.s3.models.s3_backends             BackendDict; s3_backends[account_id] is a dict of
#                                          partition ("aws") -> S3Backend, created lazily.
#   S3Backend(region_name, account_id)     .buckets (name -> FakeBucket), .table_buckets,
#                                          .get_bucket(name), .delete_bucket(name),
#                                          .create_bucket(name, region_name, bucket_namespace);
#                                          these consult s3_backends.bucket_accounts, moto's
#                                          process-wide name -> (partition, account) map;
#                                          .put_object(bucket, key, value, ..., etag=) builds a
#                                          FakeKey and stores it with keys.setlist; copy_object
#                                          and complete_multipart_upload go through put_object,
#                                          copy_object with value=src_key.value.
#   FakeBucket(name, account_id, region)   .keys: _VersionedKeyStore, a dict of name -> [FakeKey]
#                                          (latest version last); .creation_date (aware datetime);
#                                          .multiparts; the constructor registers the name in
#                                          s3_backends.bucket_accounts.
#   FakeKey                                listing/HEAD read .name, .size (= .contentsize),
#                                          .etag (quotes ._etag when set), .last_modified (naive
#                                          UTC datetime), .storage_class (= ._storage_class),
#                                          .metadata (._metadata); GET reads .value, Range GETs
#                                          take len(value) and value[a:b]; .dispose()/__del__
#                                          manage ._value_buffer; deepcopy uses __getstate__.
#   BaseModel.__new__                      appends every instance to cls.instances_tracked.
#   BaseResponse.get_current_account()     MOTO_ACCOUNT_ID env > "x-moto-account-id" header.
#   S3Response.setup_class                 region from the SigV4 credential scope (Authorization
#                                          header or X-Amz-Credential query parameter).
#   ThreadedMotoServer                     ._server_entry() builds the app and server,
#                                          ._server / ._server_ready_event / ._ip_address /
#                                          ._port; stop() shuts down and joins its thread.
#   moto.moto_server.werkzeug_app          DomainDispatcherApplication, create_backend_app,
#                                          MotoRequestHandler.
# -----------------------------------------------------------------------------------------------
try:
    import moto
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from moto.s3.exceptions import BucketAlreadyExists, MissingBucket
    from moto.s3.models import FakeBucket, FakeKey, S3Backend, s3_backends
    from moto.server import ThreadedMotoServer
    from moto.utilities.utils import LowercaseDict
    from werkzeug.serving import make_server
except ImportError as exc:  # pragma: no cover - depends on the installed moto
    raise SandboxError(
        f"the R2 sandbox needs moto[server] 5.x ({exc}): pip install lc-analytics[sandbox]"
    ) from exc

__all__ = ["R2Sandbox", "start_r2"]

R2_REGION = "auto"  # what R2 clients sign with
BUCKET_REGION = "us-east-1"  # what moto creates buckets in (R2 aliases it to `auto`)
PARTITION = "aws"
DEFAULT_ABORT_RULE_ID = "Default Multipart Abort Rule"
DEFAULT_ABORT_DAYS = 7
ACCOUNT_HEADER = "HTTP_X_MOTO_ACCOUNT_ID"  # WSGI spelling of moto's x-moto-account-id
LIFECYCLE_COLUMNS = ["rule_id", "prefix", "transition_days", "transition_class", "expire_days"]
CONTENT_TYPES = {".mp4": "video/mp4", ".jpg": "image/jpeg", ".csv": "text/csv"}

_account_numbers = itertools.count(1)
_account_lock = threading.RLock()  # guards moto's shared account and bucket-name maps


# --- guards --------------------------------------------------------------------------------------
@functools.cache
def _check_moto_internals() -> None:
    """Fail loudly, naming what moved, if the moto internals pinned above have changed."""
    problems = []
    if not moto.__version__.startswith("5."):
        problems.append(f"moto {moto.__version__} (the R2 sandbox is written for moto 5.x)")
    probe = object.__new__(FakeKey)
    FakeKey.__init__(probe, "probe", b"", "000000000000", BUCKET_REGION, bucket_name="probe")
    try:
        for attr in ("contentsize", "_etag", "last_modified", "_storage_class", "_metadata",
                     "_value_buffer", "lock", "disposed", "acl"):
            if attr not in probe.__dict__:
                problems.append(f"FakeKey has no attribute {attr!r}")
    finally:
        probe.dispose()
    for cls, attrs in ((FakeKey, ("etag", "size", "storage_class", "value", "dispose",
                                  "__getstate__", "instances_tracked")),
                       (S3Backend, ("get_bucket", "create_bucket", "delete_bucket",
                                    "put_object", "copy_object")),
                       (ThreadedMotoServer, ("_server_entry", "stop"))):
        problems += [f"{cls.__name__}.{a} is missing" for a in attrs if not hasattr(cls, a)]
    if not hasattr(s3_backends, "bucket_accounts"):
        problems.append("s3_backends.bucket_accounts is missing")
    if problems:
        raise SandboxError("moto internals the R2 sandbox relies on changed: "
                           + "; ".join(problems), moto_version=moto.__version__)


def _check_environment() -> None:
    """MOTO_ACCOUNT_ID would send every request to one moto account and break isolation."""
    if "MOTO_ACCOUNT_ID" in os.environ:
        raise SandboxError("unset MOTO_ACCOUNT_ID: it overrides the per-sandbox moto account "
                           "and would hide the seeded buckets")


# --- virtual objects ----------------------------------------------------------------------------
class _FillerBody:
    """`size` deterministic bytes, produced only for the slice or chunk that is asked for."""

    CHUNK = 1 << 20

    def __init__(self, size: int, etag: str) -> None:
        self._size = size
        self.etag = etag  # what a copy of this body keeps as its ETag
        self._unit = hashlib.sha256(etag.encode()).digest()

    def __len__(self) -> int:
        return self._size

    def __bool__(self) -> bool:
        return self._size > 0

    def __getitem__(self, item: slice) -> bytes:
        if not isinstance(item, slice):
            raise TypeError("a virtual object body can only be sliced")
        start, stop, step = item.indices(self._size)
        if step != 1:
            raise ValueError("a virtual object body cannot be sliced with a step")
        return self._bytes(start, stop)

    def __iter__(self) -> Iterator[bytes]:
        for start in range(0, self._size, self.CHUNK):
            yield self._bytes(start, min(start + self.CHUNK, self._size))

    def _bytes(self, start: int, stop: int) -> bytes:
        n = max(stop - start, 0)
        unit = len(self._unit)
        offset = start % unit
        return (self._unit * ((offset + n) // unit + 1))[offset:offset + n]


OWN_ATTRIBUTES = ("name", "bucket_name", "account_id", "contentsize", "_etag", "last_modified",
                  "_storage_class", "_metadata")  # what each seeded key stores itself


class _VirtualKey(FakeKey):
    """A moto object that reports a simulated size, ETag and date without holding its bytes.

    Only `OWN_ATTRIBUTES` live on each instance; every other FakeKey attribute is a class-level
    default copied from a genuine FakeKey (`_install_key_defaults`), and an assignment by moto
    simply shadows it on that key. Seeded keys share one metadata dict per Content-Type, copied
    on first write.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> _VirtualKey:
        # Skip BaseModel.__new__, which would pin every key in FakeKey.instances_tracked forever.
        return object.__new__(cls)

    @property  # type: ignore[override]
    def value(self) -> _FillerBody:
        return _FillerBody(self.contentsize, self._etag or "")

    @value.setter
    def value(self, new_value: bytes) -> None:
        raise SandboxError(f"the seeded object {self.name!r} has no bytes to replace; "
                           "write a new object instead")

    def set_metadata(self, metadata: Any, replace: bool = False) -> None:
        """Copy the shared metadata dict before moto updates it in place."""
        self._metadata = LowercaseDict(self._metadata)
        super().set_metadata(metadata, replace)

    def dispose(self, garbage: bool = False) -> None:
        self.disposed = True  # nothing to close: no buffer was opened

    def __del__(self) -> None:
        pass

    def __getstate__(self) -> dict[str, Any]:
        """What deepcopy (ListObjectVersions) copies: no lock (the class has one), no bytes."""
        state = self.__dict__.copy()
        state.pop("lock", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


@functools.cache
def _install_key_defaults() -> None:
    """Give `_VirtualKey` the attributes every FakeKey gets in __init__, as class defaults."""
    probe = object.__new__(FakeKey)  # untracked
    FakeKey.__init__(probe, "template", b"", "000000000000", BUCKET_REGION, bucket_name="t")
    probe.dispose()
    for attr, default in probe.__dict__.items():
        if attr in OWN_ATTRIBUTES or attr == "_value_buffer":
            continue
        if isinstance(getattr(FakeKey, attr, None), property):
            raise SandboxError(f"moto's FakeKey.{attr} is both a property and an attribute")
        setattr(_VirtualKey, attr, default)
    _VirtualKey.disposed = False


def _content_types(keys: pd.Series) -> list[str]:
    """A Content-Type per key, from its extension (binary/octet-stream when unknown)."""
    ext = keys.str.extract(r"(\.[^./]+)$", expand=False).fillna("").str.lower()
    known = {e: CONTENT_TYPES.get(e) or mimetypes.types_map.get(e) or "binary/octet-stream"
             for e in ext.unique()}
    return ext.map(known).tolist()


def _virtual_keys(objects: pd.DataFrame, account_id: str) -> list[_VirtualKey]:
    """One virtual key per row of `visible_objects()` (one bucket), built column-wise."""
    _install_key_defaults()
    stamps = (objects["last_modified"].dt.tz_convert("UTC").dt.tz_localize(None)
              .to_numpy(dtype="datetime64[ns]").astype("datetime64[s]").astype(object))
    shared_metadata: dict[str, LowercaseDict] = {}
    keys = []
    for name, bucket, size, etag, stamp, storage, ctype in zip(
            objects["key"].tolist(), objects["bucket"].tolist(), objects["size"].tolist(),
            objects["etag"].tolist(), stamps.tolist(), objects["storage_class"].tolist(),
            _content_types(objects["key"]), strict=True):
        metadata = shared_metadata.get(ctype)
        if metadata is None:
            metadata = shared_metadata[ctype] = LowercaseDict({"Content-Type": ctype})
        key = _VirtualKey.__new__(_VirtualKey)
        key.__dict__ = {"name": name, "bucket_name": bucket, "account_id": account_id,
                        "contentsize": size, "_etag": etag, "last_modified": stamp,
                        "_storage_class": storage, "_metadata": metadata}
        keys.append(key)
    return keys


# --- the moto account ---------------------------------------------------------------------------
def _wall_clock() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None, microsecond=0)


class _SandboxBackend(S3Backend):
    """moto's S3 backend for one sandbox account: bucket names resolve inside the account.

    Objects written through the API are stamped with `clock()` (the simulation's clock once
    `start_r2` sets it), and a copy of a seeded object stays virtual.
    """

    clock: Callable[[], datetime.datetime] = staticmethod(_wall_clock)

    def put_object(self, bucket_name: str, key_name: str, value: Any, *args: Any,
                   **kwargs: Any) -> FakeKey:
        """Store an object; a `_FillerBody` value (CopyObject of a seeded key) stays virtual."""
        if not isinstance(value, _FillerBody):
            key = super().put_object(bucket_name, key_name, value, *args, **kwargs)
            key.last_modified = self.clock()
            return key
        kwargs.setdefault("etag", value.etag)  # S3 keeps a single-part object's ETag on copy
        real = super().put_object(bucket_name, key_name, b"", *args, **kwargs)
        virtual = _VirtualKey.__new__(_VirtualKey)
        virtual.__dict__ = {k: v for k, v in real.__dict__.items() if k != "_value_buffer"}
        virtual.contentsize = len(value)
        virtual.last_modified = self.clock()
        real.dispose()
        versions = dict.__getitem__(self.get_bucket(bucket_name).keys, key_name)
        versions[versions.index(real)] = virtual
        return virtual

    def get_bucket(self, bucket_name: str) -> FakeBucket:
        """Look up a bucket of this account only (moto would fall back to other accounts)."""
        if bucket_name in self.buckets:
            return self.buckets[bucket_name]
        if bucket_name in self.table_buckets:
            return self.table_buckets[bucket_name]
        raise MissingBucket(bucket=bucket_name)

    def create_bucket(self, bucket_name: str, region_name: str,
                      bucket_namespace: str | None = None) -> FakeBucket:
        """Create a bucket in this account's own namespace (moto's is process-wide)."""
        if bucket_name in self.buckets:
            raise BucketAlreadyExists(bucket=bucket_name)  # moto would replace it
        with _account_lock:
            holder = s3_backends.bucket_accounts.pop(bucket_name, None)
            try:
                return super().create_bucket(bucket_name, region_name, bucket_namespace)
            finally:
                _restore_bucket_name(bucket_name, holder)

    def delete_bucket(self, bucket_name: str) -> FakeBucket | None:
        """Delete a bucket of this account without touching moto's process-wide namespace."""
        with _account_lock:
            holder = s3_backends.bucket_accounts.get(bucket_name)
            try:
                return super().delete_bucket(bucket_name)
            finally:
                _restore_bucket_name(bucket_name, holder)


def _new_account_id(account: SimulatedAccount) -> str:
    """Install a sandbox backend under a 12-digit moto account id no one else uses."""
    with _account_lock:
        while True:
            candidate = f"{900_000_000_000 + next(_account_numbers):012d}"
            if candidate not in s3_backends:
                backend = _SandboxBackend(PARTITION, candidate)
                backend.clock = lambda: _simulated_now(account)
                s3_backends[candidate][PARTITION] = backend
                return candidate


def _simulated_now(account: SimulatedAccount) -> datetime.datetime:
    """The account's clock as moto keeps times: naive UTC, to the second."""
    return account.now.tz_convert("UTC").tz_localize(None).floor("s").to_pydatetime()


def _seed_buckets(backend: S3Backend, buckets: tuple[str, ...],
                  objects: pd.DataFrame) -> None:
    """Create each bucket in `backend` and fill it with virtual keys (no global name claim)."""
    for name in buckets:
        bucket = object.__new__(FakeBucket)  # type: ignore[type-abstract]  # untracked
        with _account_lock:
            holder = s3_backends.bucket_accounts.get(name)
            FakeBucket.__init__(bucket, name, backend.account_id, BUCKET_REGION)
            _restore_bucket_name(name, holder)
        rows = objects[objects["bucket"] == name]
        if len(rows):  # a bucket exists before its first object: back-date it to that day
            bucket.creation_date = rows["last_modified"].min().floor("D").to_pydatetime()
        bucket.keys = _key_store(rows, backend.account_id, bucket.keys)
        backend.buckets[name] = bucket


def _key_store(rows: pd.DataFrame, account_id: str, current: Any) -> Any:
    """A new key store of one bucket: virtual keys for `rows`, plus the objects of `current`
    that were written through the S3 API (they win over a simulated key of the same name)."""
    store = type(current)()
    keys = _virtual_keys(rows, account_id)
    dict.update(store, ((k.name, [k]) for k in keys))  # bypass append-per-version
    dict.update(store, ((name, versions) for name, versions in dict.items(current)
                        if not isinstance(versions[-1], _VirtualKey)))
    return store


def _follow_clock(backend: S3Backend, buckets: tuple[str, ...], objects: pd.DataFrame) -> None:
    """Give every simulated bucket still in `backend` the simulated objects of `objects`.

    Each bucket's key store is replaced in one assignment, so a listing running meanwhile
    reads either the old or the new objects of that bucket, never a mix.
    """
    for name in buckets:
        bucket = backend.buckets.get(name)
        if bucket is not None:  # a bucket deleted through the API stays deleted
            bucket.keys = _key_store(objects[objects["bucket"] == name], backend.account_id,
                                     bucket.keys)


def _restore_bucket_name(name: str, holder: tuple[str, str] | None) -> None:
    """Put moto's process-wide claim on `name` back as it was before a sandbox touched it."""
    if holder is None:
        s3_backends.bucket_accounts.pop(name, None)
    else:
        s3_backends.bucket_accounts[name] = holder


def _drop_account(account_id: str) -> None:
    """Forget every bucket and object of a sandbox account, then the account itself."""
    with _account_lock:
        accounts: dict[str, Any] = s3_backends
        backend = accounts.get(account_id, {}).get(PARTITION)
        if backend is not None:
            for bucket in list(backend.buckets.values()):
                for versions in dict.values(bucket.keys):
                    for key in versions:
                        key.dispose()
                dict.clear(bucket.keys)
                for upload in bucket.multiparts.values():
                    upload.dispose()
            backend.buckets.clear()
        s3_backends.pop(account_id, None)


# --- the server ---------------------------------------------------------------------------------
class _QuietHandler(MotoRequestHandler):
    """moto's request handler without access logs, tracking its connection for shutdown."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Access logs off; werkzeug still reports real errors."""

    def setup(self) -> None:
        super().setup()
        self.server.lc_connections[self.connection] = threading.current_thread()  # type: ignore

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.lc_connections.pop(self.connection, None)  # type: ignore


class _AccountRouting:
    """WSGI middleware: R2's SigV4 check, then every request is for this sandbox's moto account.

    Requests that are not signed with the sandbox's key and secret are refused as R2 refuses
    them (`sigv4.check_request`); moto itself accepts any credentials. R2 treats region
    ``auto`` and ``us-east-1`` alike; moto knows only the latter (CreateBucket from an ``auto``
    client fails there), so the SigV4 credential scope's region is rewritten, after the
    signature was checked, before moto reads it.
    """

    def __init__(self, app: Any, account_id: str, keys: dict[str, str]) -> None:
        self.app = app
        self.account_id = account_id
        self.keys = keys

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        method = environ.get("REQUEST_METHOD", "GET")
        if method != "OPTIONS":  # CORS preflights carry no credentials, in S3 as in R2
            refusal = check_request(environ, self.keys)
            if refusal is not None:
                return refusal.wsgi(start_response, head=method == "HEAD")
        environ[ACCOUNT_HEADER] = self.account_id
        for name, pattern, alias in _REGION_ALIASES:
            if name in environ:
                environ[name] = pattern.sub(alias, environ[name])
        return self.app(environ, start_response)


_REGION_ALIASES = [  # (environ key, credential-scope region `auto`, its us-east-1 spelling)
    ("HTTP_AUTHORIZATION", re.compile(r"/auto/s3/aws4_request"),
     f"/{BUCKET_REGION}/s3/aws4_request"),
    ("QUERY_STRING", re.compile(r"%2Fauto%2Fs3%2Faws4_request", re.IGNORECASE),
     f"%2F{BUCKET_REGION}%2Fs3%2Faws4_request"),
]


class _SandboxServer(ThreadedMotoServer):
    """ThreadedMotoServer, quiet, routed to one account, closing every connection on stop."""

    def __init__(self, host: str, port: int, account_id: str, keys: dict[str, str]) -> None:
        super().__init__(ip_address=host, port=port, verbose=False)
        self._account_id = account_id
        self._keys = keys
        self._listener: socket.socket | None = None
        self._startup_error: Exception | None = None

    def start(self) -> None:
        """Bind here, so a busy port raises in the caller (werkzeug would sys.exit its thread)."""
        family = socket.AF_INET6 if ":" in self._ip_address else socket.AF_INET
        try:
            self._listener = socket.create_server((self._ip_address, self._port), family=family)
        except OSError as exc:
            raise SandboxError(f"cannot serve R2 on {self._ip_address}:{self._port}: {exc}",
                               host=self._ip_address, port=self._port) from exc
        super().start()
        if self._startup_error is not None:
            self._thread.join()  # type: ignore[union-attr]
            raise SandboxError(f"the R2 server did not start: {self._startup_error}",
                               host=self._ip_address, port=self._port) from self._startup_error

    def _server_entry(self) -> None:
        app = _AccountRouting(DomainDispatcherApplication(create_backend_app), self._account_id,
                             self._keys)
        listener = self._listener
        assert listener is not None
        try:
            server = make_server(self._ip_address, self._port, app, threaded=True,
                                 request_handler=_QuietHandler, fd=listener.fileno())
        except Exception as exc:  # moto would leave start() waiting forever
            self._startup_error = exc
            self._server_ready_event.set()
            return
        finally:
            listener.close()  # the server holds its own duplicate of the socket
        server.lc_connections = {}  # type: ignore[attr-defined]
        self._server = server
        self._server_ready_event.set()
        server.serve_forever(poll_interval=0.05)  # stop() waits for one poll

    def stop(self) -> None:
        """Stop serving, close the listening socket and every open connection, join threads."""
        server = self._server
        if self._thread is None:
            return  # never started (the port was busy)
        super().stop()
        if server is None:
            return
        server.server_close()
        open_connections = dict(server.lc_connections)  # type: ignore[attr-defined]
        for conn in open_connections:
            with contextlib.suppress(OSError):  # already closed by the client
                conn.shutdown(socket.SHUT_RDWR)
        for thread in open_connections.values():
            thread.join(timeout=5)


# --- lifecycle ----------------------------------------------------------------------------------
def _lifecycle_rules(rules: pd.DataFrame) -> list[dict[str, Any]]:
    """S3 lifecycle rules for one bucket's rows of `account.lifecycle`, then R2's default rule."""
    out = []
    for rule in rules.itertuples(index=False):
        s3_rule: dict[str, Any] = {"ID": rule.rule_id, "Status": "Enabled",
                                   "Filter": {"Prefix": _text(rule.prefix)}}
        if not pd.isna(rule.transition_days):
            s3_rule["Transitions"] = [{"Days": int(rule.transition_days),
                                       "StorageClass": _text(rule.transition_class)
                                       or "STANDARD_IA"}]
        if not pd.isna(rule.expire_days):
            s3_rule["Expiration"] = {"Days": int(rule.expire_days)}
        out.append(s3_rule)
    out.append({"ID": DEFAULT_ABORT_RULE_ID, "Status": "Enabled", "Filter": {"Prefix": ""},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": DEFAULT_ABORT_DAYS}})
    return out


def _text(value: Any) -> str:
    """A string cell of `account.lifecycle`, with None/NaN as ''."""
    return value if isinstance(value, str) else ""


def _rule_prefix(bucket: str, rule: dict[str, Any]) -> str:
    """The prefix of an S3 rule, whichever spelling it uses; other filters are refused."""
    flt = rule.get("Filter") or {}
    conditions = set(flt) | set(flt.get("And") or {})
    if conditions - {"Prefix", "And"}:
        raise SandboxError(
            f"lifecycle rule {rule.get('ID')!r} of {bucket} filters on "
            f"{', '.join(sorted(conditions - {'Prefix', 'And'}))}; the simulation follows "
            "prefixes only", bucket=bucket, rule_id=rule.get("ID"))
    if "Prefix" in flt:
        return flt["Prefix"] or ""
    if "And" in flt:
        return flt["And"].get("Prefix") or ""
    return rule.get("Prefix") or ""


def _simulated_rule(bucket: str, rule: dict[str, Any]) -> dict[str, Any] | None:
    """One S3 rule as a row of `account.lifecycle`; None for rules the simulation ignores."""
    transitions = rule.get("Transitions") or []
    expiration = rule.get("Expiration") or {}
    if rule.get("Status") != "Enabled" or not (transitions or expiration):
        return None  # disabled, or only aborts multipart uploads (not simulated)
    if len(transitions) > 1 or any("Days" not in t for t in transitions) or (
            expiration and "Days" not in expiration):
        raise SandboxError(
            f"lifecycle rule {rule.get('ID')!r} of {bucket} uses dates or several transitions, "
            "which the simulation cannot follow", bucket=bucket, rule_id=rule.get("ID"))
    tr = transitions[0] if transitions else {}
    return {"rule_id": rule.get("ID") or "", "prefix": _rule_prefix(bucket, rule),
            "transition_days": float(tr["Days"]) if tr else np.nan,
            "transition_class": tr.get("StorageClass") if tr else None,
            "expire_days": float(expiration["Days"]) if expiration else np.nan}


def _account_rules(account: SimulatedAccount, bucket: str) -> pd.DataFrame:
    """The simulation's current rules of one bucket, in `_rules_frame` form."""
    lifecycle = account.lifecycle
    return lifecycle.loc[lifecycle["bucket"] == bucket, LIFECYCLE_COLUMNS]


def _same_rules(left: pd.DataFrame, right: pd.DataFrame) -> bool:
    """Whether two rule frames hold the same rules, in any order."""
    def canonical(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.sort_values("rule_id").reset_index(drop=True)

    return len(left) == len(right) and canonical(left).equals(canonical(right))


def _rules_frame(bucket: str, rules: list[dict[str, Any]], dtypes: pd.Series) -> pd.DataFrame:
    """The rows `SimulatedAccount.set_lifecycle` takes for one bucket's S3 rules.

    `dtypes` are those of `account.lifecycle`, so the account's frame keeps its column types.
    """
    rows = [row for rule in rules if (row := _simulated_rule(bucket, rule)) is not None]
    frame = pd.DataFrame(rows, columns=LIFECYCLE_COLUMNS)
    return frame.astype({c: dtypes[c] for c in LIFECYCLE_COLUMNS if c in dtypes})


# --- the public face ----------------------------------------------------------------------------
class R2Sandbox:
    """A running R2 stand-in: endpoint, credentials, and the buckets of one simulated account.

    >>> with start_r2(account) as r2:                                  # doctest: +SKIP
    ...     r2.client().head_object(Bucket="lc-thumbnails", Key=key)["ContentLength"]
    """

    def __init__(self, account: SimulatedAccount, server: _SandboxServer, moto_account_id: str,
                 buckets: tuple[str, ...], credentials: tuple[str, str]) -> None:
        host, port = server.get_host_and_port()
        self.account = account
        self.endpoint_url = f"http://{host}:{port}"
        self.region_name = R2_REGION
        self.access_key_id, self.secret_access_key = credentials
        self.buckets = buckets
        self.moto_account_id = moto_account_id
        self._server: _SandboxServer | None = server
        self._clients: list[Any] = []
        self._own_client: Any = None

    def __repr__(self) -> str:
        return (f"R2Sandbox(endpoint_url={self.endpoint_url!r}, buckets={list(self.buckets)!r}, "
                f"access_key_id={self.access_key_id!r}, secret_access_key='***')")

    def __enter__(self) -> R2Sandbox:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def client(self) -> Any:
        """A boto3 S3 client set up as for real R2: region `auto`, SigV4, path-style, no proxy."""
        from botocore.config import Config

        config = Config(signature_version="s3v4", s3={"addressing_style": "path"},
                        proxies={}, retries={"max_attempts": 2, "mode": "standard"})
        with _session_lock:  # boto3 sessions are not thread-safe; the clients they make are
            client = _boto3_session().client(
                "s3", endpoint_url=self.endpoint_url, region_name=R2_REGION,
                aws_access_key_id=self.access_key_id,
                aws_secret_access_key=self.secret_access_key, config=config)
        self._clients.append(client)
        return client

    def read_lifecycle_into_account(self) -> None:
        """Read every bucket's lifecycle over the S3 API and hand it to the simulation.

        Rules that neither transition nor expire (R2's multipart-abort default) and disabled
        rules are not simulated and are left out.
        """
        if self._own_client is None:  # one client however often the clock moves
            self._own_client = self.client()
        s3 = self._own_client
        dtypes = self.account.lifecycle.dtypes
        frames = {b: _rules_frame(b, _get_lifecycle(s3, b), dtypes) for b in self.buckets}
        for bucket, frame in frames.items():  # all read and checked before any is applied
            if not _same_rules(_account_rules(self.account, bucket), frame):
                self.account.set_lifecycle(bucket, frame)

    def follow_clock(self) -> None:
        """Bring every bucket to the account's objects as of its clock.

        After `account.advance(...)`: objects created since appear, expired ones are gone and
        objects past their lifecycle transition list as STANDARD_IA. Objects written through the
        S3 API are kept; simulated objects deleted or overwritten through the API are not (the
        simulation does not follow object writes), nor are buckets deleted through the API.
        """
        backend = s3_backends[self.moto_account_id][PARTITION]
        _follow_clock(backend, self.buckets, self.account.visible_objects())

    def close(self) -> None:
        """Stop the server, close the clients it handed out and forget its moto account."""
        for client in self._clients:
            client.close()
        self._clients.clear()
        self._own_client = None
        if self._server is not None:
            self._server.stop()
            self._server = None
        _drop_account(self.moto_account_id)


_session_lock = threading.Lock()


@functools.cache
def _boto3_session() -> Any:
    """One boto3 session for every sandbox client: it caches the S3 model once."""
    import boto3

    return boto3.session.Session()


def _credentials(seed: int) -> tuple[str, str]:
    """R2-shaped keys (32-hex id, 64-hex secret) derived from the seed: the only ones served."""
    key_id = hashlib.sha256(f"lc-analytics-r2-key-{seed}".encode()).hexdigest()[:32]
    secret = hashlib.sha256(f"lc-analytics-r2-secret-{seed}".encode()).hexdigest()
    return key_id, secret


def _r2_call(s3: Any, operation: str, **params: Any) -> dict[str, Any]:
    """Call one S3 operation, translating botocore errors into R2Error."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return getattr(s3, operation)(**params)
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise R2Error(f"R2 {operation} failed: {err.get('Code')}: {err.get('Message')}",
                      operation=operation, bucket=params.get("Bucket"),
                      code=err.get("Code"),
                      status=exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode"),
                      ) from exc
    except BotoCoreError as exc:
        raise R2Error(f"R2 {operation} failed: {exc}", operation=operation,
                      bucket=params.get("Bucket")) from exc


def _get_lifecycle(s3: Any, bucket: str) -> list[dict[str, Any]]:
    """A bucket's lifecycle rules, or [] when it has none."""
    try:
        return _r2_call(s3, "get_bucket_lifecycle_configuration", Bucket=bucket)["Rules"]
    except R2Error as exc:
        if exc.context.get("code") == "NoSuchLifecycleConfiguration":
            return []
        raise


def _put_lifecycles(s3: Any, buckets: tuple[str, ...], lifecycle: pd.DataFrame) -> None:
    """Write each bucket's simulated rules plus R2's default multipart-abort rule."""
    for bucket in buckets:
        rules = _lifecycle_rules(lifecycle[lifecycle["bucket"] == bucket])
        _r2_call(s3, "put_bucket_lifecycle_configuration", Bucket=bucket,
                 LifecycleConfiguration={"Rules": rules})


def _bucket_names(account: SimulatedAccount, objects: pd.DataFrame) -> tuple[str, ...]:
    """The simulator's buckets plus any bucket an object or a rule names, sorted."""
    names = set(BUCKETS.values()) | set(objects["bucket"]) | set(account.lifecycle["bucket"])
    return tuple(sorted(names))


def start_r2(account: SimulatedAccount, *, host: str = "127.0.0.1", port: int = 0) -> R2Sandbox:
    """Serve `account`'s R2 buckets over the S3 protocol on loopback (port 0: a free port).

    >>> with start_r2(SimulatedAccount.build("small", seed=7)) as r2:  # doctest: +SKIP
    ...     r2.client().list_objects_v2(Bucket="lc-report-exports")["KeyCount"]
    """
    _check_environment()
    _check_moto_internals()
    objects = account.visible_objects()
    buckets = _bucket_names(account, objects)
    moto_account_id = _new_account_id(account)
    credentials = _credentials(account.seed)
    server: _SandboxServer | None = None
    try:
        _seed_buckets(s3_backends[moto_account_id][PARTITION], buckets, objects)
        server = _SandboxServer(host, port, moto_account_id, dict([credentials]))
        server.start()
        sandbox = R2Sandbox(account, server, moto_account_id, buckets, credentials)
    except BaseException:
        if server is not None:
            server.stop()
        _drop_account(moto_account_id)
        raise
    try:
        _put_lifecycles(sandbox.client(), buckets, account.lifecycle)
    except BaseException:
        sandbox.close()
        raise
    return sandbox
