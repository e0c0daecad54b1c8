"""Where her kept images and voice live: a directory on disk, or an S3-compatible store.

Both take a file whole or not at all, give it back by name, and delete by name (retention).
Names are the transcript line's id and extension (`123.mp3`); S3 keys carry `s3_prefix`.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import Protocol

from bot.settings import Settings

log = logging.getLogger(__name__)


class MediaStore(Protocol):
    def put(self, name: str, content: bytes, content_type: str) -> None: ...

    def get(self, name: str) -> bytes | None: ...

    def remove(self, names: list[str]) -> int: ...


class DiskStore:
    """Files under one directory, readable by the service only."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def put(self, name: str, content: bytes, content_type: str) -> None:
        """Written whole or not at all (temp file, fsync, rename)."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = self.directory / f".{name}.tmp"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temporary, self.directory / Path(name).name)

    def get(self, name: str) -> bytes | None:
        path = self.directory / Path(name).name
        return path.read_bytes() if path.is_file() else None

    def remove(self, names: list[str]) -> int:
        removed = 0
        for name in names:
            try:
                (self.directory / Path(name).name).unlink()
                removed += 1
            except FileNotFoundError:
                pass
        return removed


class S3Store:
    """Objects in one bucket of an S3-compatible store (boto3, path-style addressing, which
    MinIO and most others expect)."""

    def __init__(self, endpoint: str, bucket: str, region: str, prefix: str, access_key: str, secret_key: str) -> None:
        import boto3
        from botocore.config import Config

        self.bucket, self.prefix = bucket, prefix
        self.client = boto3.client(
            "s3", endpoint_url=endpoint or None, region_name=region, aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}, connect_timeout=5,
                          read_timeout=20),
        )

    def _key(self, name: str) -> str:
        return self.prefix + Path(name).name

    def put(self, name: str, content: bytes, content_type: str) -> None:
        # One PUT: the object appears whole or not at all.
        self.client.put_object(Bucket=self.bucket, Key=self._key(name), Body=content, ContentType=content_type)

    def get(self, name: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(name))["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise

    def remove(self, names: list[str]) -> int:
        """Deleted in batches of 1,000 (the API's limit); how many existed is not told by S3,
        so every name asked for is counted."""
        removed = 0
        for start in range(0, len(names), 1000):
            batch = names[start:start + 1000]
            answer = self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": self._key(n)} for n in batch], "Quiet": True}
            )
            failed = answer.get("Errors", [])
            for error in failed:
                log.warning("media object not deleted: %s", error.get("Code"))
            removed += len(batch) - len(failed)
        return removed


def media_store(settings: Settings) -> MediaStore:
    """The store `media.store` names (one client per process and configuration)."""
    media = settings.media
    if media.store == "s3":
        return _s3(media.s3_endpoint, media.s3_bucket, media.s3_region, media.s3_prefix, media.s3_access_key,
                   media.s3_secret_key)
    return DiskStore(settings.media_path)


@functools.cache
def _s3(*config: str) -> S3Store:
    return S3Store(*config)
