"""The lake's file system: one object for a folder on disk (`file://`) and for S3 (`s3://`).

`LakeFS.from_uri` turns the lake URI into a `pyarrow.fs` file system plus a root inside it. Every
other lake module addresses files by paths *relative to the lake root* (`raw/raw_sales/...`) and
lets this class join them, so the same code runs on a local folder, on moto's S3 and on AWS.

S3 goes through `pyarrow.fs.S3FileSystem`: the endpoint comes from `aws_endpoint` (the moto server
locally, none on AWS), the region and the credentials from the configuration given: the project's
`Settings` (credentials of the boto3 session of `gitgoods.aws`, fixed `local`/`local` locally) or
a plain `pipelines.aws_http.AwsTarget` (the ingest worker, which never imports boto3). Those
credentials are frozen when the file system is made: make a `LakeFS` per run (as the pipeline
does), not once per process, when they are temporary.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import pyarrow.fs as pafs

if TYPE_CHECKING:
    from gitgoods.settings import Settings
    from pipelines.aws_http import AwsTarget

    Config = Settings | AwsTarget

DEFAULT_GLUE_DATABASE = "gitgoods_lake"
_SEGMENT = re.compile(r"^[A-Za-z0-9_.=\-]+$")


def _settings() -> Settings:
    from gitgoods.settings import get_settings  # pydantic-settings: only where no configuration was given

    return get_settings()


def default_lake_uri(settings: Settings | None = None) -> str:
    """The settings' lake URI (`settings.lake` where the settings have it), else `file://<home>/lake`."""
    settings = settings or _settings()
    configured = getattr(settings, "lake", None)
    if isinstance(configured, str) and configured:
        return configured
    return f"file://{Path(settings.home).resolve()}/lake"


def default_glue_database(settings: Config | None = None) -> str:
    settings = settings or _settings()
    return getattr(settings, "glue_database", None) or DEFAULT_GLUE_DATABASE


def _s3_filesystem(settings: Config) -> pafs.S3FileSystem:
    from pipelines.aws_http import credentials_for

    # allow_delayed_open: a file smaller than a part is one PutObject, not a 3-request multipart upload
    kwargs: dict[str, Any] = {"region": settings.region, "allow_delayed_open": True}
    endpoint = settings.aws_endpoint
    if endpoint:
        parsed = urlparse(endpoint if "://" in endpoint else f"https://{endpoint}")
        kwargs["endpoint_override"] = parsed.netloc + parsed.path.rstrip("/")
        kwargs["scheme"] = parsed.scheme or "https"
    frozen = credentials_for(settings).get_frozen_credentials()  # Settings: the one session of gitgoods.aws
    kwargs.update(access_key=frozen.access_key, secret_key=frozen.secret_key)
    if frozen.token:
        kwargs["session_token"] = frozen.token
    return pafs.S3FileSystem(**kwargs)


@dataclass
class LakeFS:
    """A lake root on a `pyarrow.fs` file system.

    `root` is the root as the file system spells paths: an absolute directory locally,
    `bucket/prefix` on S3. Relative paths (`rel`) are POSIX paths under it.
    """

    uri: str
    fs: pafs.FileSystem
    root: str
    scheme: str  # "file" or "s3"
    settings: Config | None = field(default=None, repr=False)
    _objects: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def from_uri(cls, uri: str | os.PathLike[str] | None = None, settings: Config | None = None) -> LakeFS:
        if uri is None or (settings is None and str(uri).startswith("s3:")):
            settings = settings or _settings()
        uri = str(uri) if uri is not None else default_lake_uri(settings)
        parsed = urlparse(uri)
        if parsed.scheme == "s3":
            if not parsed.netloc:
                raise ValueError(f"lake URI {uri!r} names no bucket")
            root = (parsed.netloc + "/" + parsed.path.strip("/")).rstrip("/")
            return cls(f"s3://{root}", _s3_filesystem(settings), root, "s3", settings)
        if parsed.scheme in ("file", ""):
            path = parsed.path if parsed.scheme == "file" else uri
            if parsed.scheme == "file" and parsed.netloc not in ("", "localhost"):
                raise ValueError(f"lake URI {uri!r}: only local file:// URIs are supported")
            root_path = Path(path).expanduser().resolve()
            root_path.mkdir(parents=True, exist_ok=True)
            return cls(f"file://{root_path}", pafs.LocalFileSystem(), str(root_path), "file", settings)
        raise ValueError(f"lake URI {uri!r}: use file:///abs/path, a plain path, or s3://bucket/prefix")

    # -- paths ---------------------------------------------------------------------------------

    @property
    def is_local(self) -> bool:
        return self.scheme == "file"

    @staticmethod
    def join(*parts: str) -> str:
        """Join relative path segments (`raw`, `raw_sales`, `dt=2024-05-01`) with `/`."""
        cleaned = [p.strip("/") for p in parts if p and p.strip("/")]
        rel = posixpath.join(*cleaned) if cleaned else ""
        for segment in rel.split("/") if rel else []:
            if segment in (".", "..") or not _SEGMENT.match(segment):
                raise ValueError(f"bad lake path segment {segment!r} in {rel!r}")
        return rel

    def path(self, *parts: str) -> str:
        """The file system path of a relative lake path."""
        rel = self.join(*parts)
        return f"{self.root}/{rel}" if rel else self.root

    def uri_of(self, *parts: str) -> str:
        """The full URI (`file:///...` or `s3://...`) of a relative lake path."""
        rel = self.join(*parts)
        return f"{self.uri}/{rel}" if rel else self.uri

    def local_path(self, *parts: str) -> Path:
        if not self.is_local:
            raise ValueError("not a local lake")
        return Path(self.path(*parts))

    def rel_of(self, path_or_uri: str) -> str:
        """The relative lake path of a file system path or URI inside the lake."""
        for prefix in (self.uri + "/", self.root + "/"):
            if path_or_uri.startswith(prefix):
                return path_or_uri[len(prefix) :].strip("/")
        if path_or_uri in (self.uri, self.root):
            return ""
        raise ValueError(f"{path_or_uri!r} is not inside the lake {self.uri}")

    # -- operations ----------------------------------------------------------------------------

    def info(self, *parts: str) -> pafs.FileInfo:
        return self.fs.get_file_info(self.path(*parts))

    def exists(self, *parts: str) -> bool:
        return self.info(*parts).type != pafs.FileType.NotFound

    def is_file(self, *parts: str) -> bool:
        return self.info(*parts).type == pafs.FileType.File

    def list(self, *parts: str, recursive: bool = False) -> list[pafs.FileInfo]:
        """Entries under a relative directory (none if it does not exist), sorted by path."""
        selector = pafs.FileSelector(self.path(*parts), recursive=recursive, allow_not_found=True)
        return sorted(self.fs.get_file_info(selector), key=lambda i: i.path)

    def list_names(self, *parts: str, kind: pafs.FileType | None = None) -> list[str]:
        """Base names of the direct children of a relative directory (optionally of one type)."""
        return [i.base_name for i in self.list(*parts) if kind is None or i.type == kind]

    def delete_prefix(self, *parts: str) -> None:
        """Delete a directory (every object under a prefix on S3) if it exists."""
        path = self.path(*parts)
        if self.is_local:
            p = Path(path)
            if p.is_symlink() or p.is_file():
                p.unlink(missing_ok=True)
                return
        if self.fs.get_file_info(path).type == pafs.FileType.NotFound:
            return
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_dir(path)

    def delete_file(self, *parts: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_file(self.path(*parts))

    def read_bytes(self, *parts: str, immutable: bool = False) -> bytes:
        """A small object whole.

        On S3 an object that can be replaced (the partition pointer) is read with one GET without a
        range (`objects`): pyarrow's input streams ask for the size first and then for byte ranges,
        so an object replaced in between could come back as the old length of the new content. An
        `immutable` object (a run's manifest, a Parquet file: every run writes new names) is read
        by pyarrow.
        """
        if self.is_local or immutable:
            try:
                with self.fs.open_input_stream(self.path(*parts)) as fh:
                    return fh.read()
            except OSError as exc:
                if self.is_local or not _is_missing(exc):
                    raise
                raise FileNotFoundError(self.uri_of(*parts)) from exc
        bucket, key = self.bucket_key(*parts)
        found = self.objects.get(bucket, key)
        if found is None:
            raise FileNotFoundError(f"s3://{bucket}/{key}")
        return found[1]

    def write_bytes(self, data: bytes, *parts: str, content_type: str | None = None) -> None:
        """Write a small object whole: one PutObject on S3; a temp file, fsync and rename on disk.

        Either way a reader sees the old content or the new one, never a part. On S3 the object
        goes through pyarrow (`allow_delayed_open`: an object smaller than a part is one PutObject).
        """
        rel = self.join(*parts)
        if self.is_local:
            target = Path(self.path(rel))
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}-{os.urandom(4).hex()}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            fsync_dir(target.parent)
            return
        metadata = {"Content-Type": content_type or "application/octet-stream"}
        with self.fs.open_output_stream(self.path(rel), metadata=metadata) as fh:
            fh.write(data)

    def bucket_key(self, *parts: str) -> tuple[str, str]:
        bucket, _, key = self.path(*parts).partition("/")
        return bucket, key


    @property
    def objects(self) -> Any:
        """`pipelines.s3_http.S3Objects` for this lake's configuration: the ETag-aware GET and the
        conditional PUT a partition's pointer is switched with (no boto3: the ingest worker
        switches partitions too)."""
        if self._objects is None:
            from pipelines.s3_http import S3Objects

            self._objects = S3Objects(self.settings or _settings())
        return self._objects

    def makedirs(self, *parts: str) -> None:
        """Create a directory on disk (S3 has none to create)."""
        if self.is_local:
            Path(self.path(*parts)).mkdir(parents=True, exist_ok=True)


def _is_missing(exc: BaseException) -> bool:
    return isinstance(exc, FileNotFoundError) or "NO_SUCH_KEY" in str(exc) or "Path does not exist" in str(exc)


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make a directory's entries (new files, renames, symlinks) durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_lake(uri: str | None = None, settings: Settings | None = None) -> LakeFS:
    """The lake of these settings (`uri` overrides the default `file://<home>/lake`)."""
    return LakeFS.from_uri(uri, settings)
