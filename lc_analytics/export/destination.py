"""Where an export goes: a local folder or `s3://bucket/prefix` on R2, through pyarrow's
filesystems (S3 with the R2 settings: endpoint, access key id, secret key).

>>> Destination.open("/tmp/lake").root                              # doctest: +SKIP
'/tmp/lake'
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pyarrow.fs as pafs

from ..errors import ConfigError, R2Error, UsageError
from ..settings import Settings

MANIFEST = "_manifest.json"


@dataclass
class Destination:
    """An export target: a pyarrow filesystem and the root path inside it."""

    url: str  # normalized: an absolute folder, or s3://bucket/prefix
    fs: pafs.FileSystem
    root: str
    local: bool

    @classmethod
    def open(cls, url: str, settings: Settings | None = None) -> Destination:
        """The destination `url` names: `s3://bucket/prefix` (R2, with `settings`'s R2
        endpoint and keys) or a local folder (created by the first write)."""
        if url.startswith("s3://"):
            return cls._s3(url, settings)
        if "://" in url:
            raise UsageError(f"--to must be a folder or s3://bucket/prefix, not {url!r}")
        root = Path(url).expanduser().absolute()
        if root.exists() and not root.is_dir():
            raise UsageError(f"--to {url}: exists and is not a folder")
        return cls(root.as_posix(), pafs.LocalFileSystem(), root.as_posix(), True)

    @classmethod
    def _s3(cls, url: str, settings: Settings | None) -> Destination:
        parsed = urlparse(url)
        if not parsed.netloc:
            raise UsageError(f"--to {url}: no bucket (s3://bucket/prefix)")
        s = settings or Settings.from_env(require=["r2"])
        missing = [name for name, v in (("R2_ACCESS_KEY_ID", s.r2_access_key_id),
                                        ("R2_SECRET_ACCESS_KEY", s.r2_secret_access_key),
                                        ("R2_ENDPOINT_URL", s.r2_endpoint_url)) if not v]
        if missing:
            raise ConfigError([f"{name} is not set (needed by --to {url})" for name in missing])
        endpoint = urlparse(str(s.r2_endpoint_url))
        assert s.r2_secret_access_key is not None
        fs = pafs.S3FileSystem(
            access_key=s.r2_access_key_id, secret_key=s.r2_secret_access_key.reveal(),
            endpoint_override=endpoint.netloc, scheme=endpoint.scheme or "https",
            region="us-east-1",  # R2 takes it as an alias of `auto`
            connect_timeout=s.request_timeout, request_timeout=s.request_timeout)
        root = (parsed.netloc + "/" + parsed.path.strip("/")).rstrip("/")
        return cls(f"s3://{root}", fs, root, False)

    def path(self, relative: str) -> str:
        """The full filesystem path of `relative` (a '/'-separated path under the root)."""
        return f"{self.root}/{relative}"

    def write(self, relative: str, data: bytes) -> None:
        """Write one file whole (on R2 one PUT: it appears complete or not at all)."""
        full = self.path(relative)
        self._guard(lambda: self._write(full, data), f"writing {full}")

    def _write(self, full: str, data: bytes) -> None:
        if self.local:
            Path(full).parent.mkdir(parents=True, exist_ok=True)
        with self.fs.open_output_stream(full) as out:
            out.write(data)

    def read_json(self, relative: str) -> Any | None:
        """The JSON file `relative`, or None if there is none."""
        full = self.path(relative)
        info = self._guard(lambda: self.fs.get_file_info(full), f"reading {full}")
        if info.type != pafs.FileType.File:
            return None
        with self.fs.open_input_stream(full) as f:
            return json.loads(f.read().decode("utf-8"))

    def replace_json(self, relative: str, payload: Any) -> None:
        """Replace `relative` with `payload` atomically: readers see the old file or the new
        one, never part of one (a rename locally, one PUT on R2)."""
        data = json.dumps(payload, indent=1, sort_keys=True).encode("utf-8")
        if not self.local:
            self.write(relative, data)
            return
        final = Path(self.path(relative))
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.name}.{os.getpid()}.{uuid.uuid4().hex[:6]}.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)

    def files(self, relative: str) -> list[str]:
        """Every file under `relative` (recursively), as paths relative to the root."""
        selector = pafs.FileSelector(self.path(relative), allow_not_found=True, recursive=True)
        infos = self._guard(lambda: self.fs.get_file_info(selector), f"listing {relative}")
        prefix = self.root + "/"
        return sorted(i.path[len(prefix):] for i in infos if i.type == pafs.FileType.File)

    def delete(self, relative: str) -> None:
        """Delete one file (gone already is fine)."""
        full = self.path(relative)
        try:
            self.fs.delete_file(full)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise R2Error(f"deleting {full}: {exc}") from exc

    def _guard(self, fn: Any, action: str) -> Any:
        try:
            return fn()
        except OSError as exc:
            if self.local:
                raise UsageError(f"export to {self.url}: {action}: {exc}") from exc
            raise R2Error(f"export to {self.url}: {action}: {exc}") from exc
