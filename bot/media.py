"""Her images and voice, kept before WeChat deletes them.

A WeChat message carries only a media id; the file behind it (temporary media) is
deleted by WeChat three days later. The worker fetches each from the media API
(`media/get`, at the configured base URL) well within that window and keeps it on disk
under `media.dir`, size-capped, one file per transcript line, readable by the service
only. Staff see it on the ticket page (need-to-know applies, every view recorded);
retention (models/retention.py) removes it with the rest of her case.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from threading import Lock
from typing import Protocol

from sqlalchemy import select, update
from wechatpy.exceptions import WeChatClientException

from bot.channels.wechat import _Client, _token_storage, api_base
from bot.settings import Settings
from models import Database, Message

log = logging.getLogger(__name__)

# WeChat keeps temporary media for three days.
WINDOW = timedelta(days=3)
# The types kept, and the name each file gets; anything else is refused.
EXTENSIONS = {
    "image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
    "audio/amr": ".amr", "audio/speex": ".speex", "audio/mpeg": ".mp3", "audio/mp3": ".mp3",
    "voice/speex": ".speex",
}
# WeChat's media ids that no longer (or never did) exist: no point asking again.
PERMANENT_ERRCODES = {40007, 40008}
KEPT_KINDS = ("image", "voice")


class MediaError(Exception):
    def __init__(self, reason: str, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


@dataclass(frozen=True)
class Fetched:
    content: bytes
    content_type: str


class Fetcher(Protocol):
    def fetch(self, media_id: str, max_bytes: int) -> Fetched: ...


class WeChatMediaFetcher:
    """Temporary media from WeChat's media API (wechatpy's `media.download`)."""

    def __init__(self, settings: Settings, timeout: float = 20) -> None:
        wechat = settings.wechat
        self.client = _Client(wechat.appid, wechat.secret, session=_token_storage(wechat.token_store), timeout=timeout)
        self.client.API_BASE_URL = api_base(wechat.api_base_url)

    def fetch(self, media_id: str, max_bytes: int) -> Fetched:
        try:
            response = self.client.media.download(media_id)
        except WeChatClientException as exc:
            raise MediaError(f"微信接口错误 errcode {exc.errcode}", permanent=exc.errcode in PERMANENT_ERRCODES) from None
        except Exception as exc:  # the network: try again next round
            raise MediaError(f"无法连接微信接口（{type(exc).__name__}）") from None
        declared = int(response.headers.get("Content-Length") or 0)
        if declared > max_bytes or len(response.content) > max_bytes:
            raise MediaError("too_large", permanent=True)
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        return Fetched(response.content, content_type)


class MediaKeeper:
    """Fetches what is pending and keeps it on disk: one round per `keep_due` call."""

    def __init__(self, db: Database, settings: Settings, write_lock: Lock, fetcher: Fetcher | None = None) -> None:
        self.db, self.settings, self.write_lock = db, settings, write_lock
        self.fetcher = fetcher or WeChatMediaFetcher(settings)

    @property
    def directory(self) -> Path:
        return self.settings.media_path

    def keep_due(self, now: datetime, limit: int = 20) -> int:
        """Fetch up to `limit` pending files; how many were kept."""
        with self.db.engine.connect() as connection:
            rows = connection.execute(
                select(Message.id, Message.media_id, Message.created_at, Message.media_attempts)
                .where(Message.media_state == "pending").order_by(Message.id).limit(limit)
            ).all()
        return sum(self._keep(row, now) for row in rows)

    def keep_media_id(self, media_id: str, now: datetime) -> int:
        """Keep the pending file of one media id at once (the simulator's upload)."""
        with self.db.engine.connect() as connection:
            rows = connection.execute(
                select(Message.id, Message.media_id, Message.created_at, Message.media_attempts)
                .where(Message.media_state == "pending", Message.media_id == media_id)
            ).all()
        return sum(self._keep(row, now) for row in rows)

    def _keep(self, row, now: datetime) -> int:
        """One pending line's file fetched and kept: 1 if it was."""
        if now - row.created_at > WINDOW:
            self._settle(row.id, media_state="failed")
            log.warning("media of message %s not fetched within WeChat's 3 days", row.id)
            return 0
        try:
            fetched = self.fetcher.fetch(row.media_id, self.settings.media.max_bytes)
            extension = EXTENSIONS.get(fetched.content_type)
            if extension is None:
                raise MediaError(f"unexpected type {fetched.content_type[:40]}", permanent=True)
        except MediaError as error:
            attempts = row.media_attempts + 1
            permanent = error.permanent or attempts >= self.settings.media.max_attempts
            state = "too_large" if str(error) == "too_large" else ("failed" if permanent else "pending")
            self._settle(row.id, media_state=state, media_attempts=attempts)
            log.warning("media of message %s: %s (%s)", row.id, error, state)
            return 0
        name = f"{row.id}{extension}"
        self._write(name, fetched.content)
        self._settle(
            row.id, media_state="stored", media_path=name, media_type=fetched.content_type,
            media_size=len(fetched.content), media_attempts=row.media_attempts + 1,
        )
        return 1

    def _write(self, name: str, content: bytes) -> None:
        """Written whole or not at all (temp file, fsync, rename), readable by the service only."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = self.directory / f".{name}.tmp"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temporary, self.directory / name)

    def _settle(self, message_id: int, **values) -> None:
        with self.write_lock, self.db.engine.begin() as connection:
            connection.execute(
                update(Message).where(Message.id == message_id, Message.media_state == "pending").values(**values)
            )


def media_file(settings: Settings, message: Message) -> Path | None:
    """Where a kept file is, if it is still there."""
    if message.media_state != "stored" or not message.media_path:
        return None
    path = settings.media_path / Path(message.media_path).name
    return path if path.is_file() else None


def remove_files(directory: Path, names: list[str]) -> int:
    """Delete kept files by name (retention); how many were there."""
    removed = 0
    for name in names:
        try:
            (directory / Path(name).name).unlink()
            removed += 1
        except FileNotFoundError:
            pass
    return removed
