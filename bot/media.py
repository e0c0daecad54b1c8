"""Her images and voice, kept before WeChat deletes them (and Telegram's, alike).

A WeChat message carries only a media id; the file behind it (temporary media) is
deleted by WeChat three days later. The worker fetches each from the media API
(`media/get`, at the configured base URL) well within that window and keeps it on disk
under `media.dir`, size-capped, one file per transcript line, readable by the service
only. Staff see it on the ticket page (need-to-know applies, every view recorded);
retention (models/retention.py) removes it with the rest of her case.

Voice no browser plays (WeChat's AMR and Speex; Telegram's OGG-Opus, which Safari does
not) is kept as MP3, decoded and encoded with the FFmpeg PyAV's wheels carry; a file that
cannot be decoded is kept as it came.

Telegram sends a file id: the Bot API's `getFile` names the file's path, fetched from
`/file/bot<token>/<path>` (files up to 20 MB; the link lasts an hour, the id longer).
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePosixPath
from threading import Lock
from typing import Protocol

import requests
from sqlalchemy import select, update
from wechatpy.exceptions import WeChatClientException

from bot.channels.wechat import _Client, _token_storage, api_base
from bot.mediastore import media_store
from bot.settings import Settings
from models import Database, Message

log = logging.getLogger(__name__)

# WeChat keeps temporary media for three days.
WINDOW = timedelta(days=3)
# The types kept, and the name each file gets; anything else is refused.
EXTENSIONS = {
    "image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
    "audio/amr": ".amr", "audio/speex": ".speex", "audio/mpeg": ".mp3", "audio/mp3": ".mp3",
    "voice/speex": ".speex", "audio/ogg": ".ogg",
}
# WeChat's media ids that no longer (or never did) exist: no point asking again.
PERMANENT_ERRCODES = {40007, 40008}
KEPT_KINDS = ("image", "voice")


# Voice kept as MP3 for the ticket page's <audio>: 16 kHz mono at 32 kbit/s is plenty for speech.
TRANSCODED = ("audio/amr", "audio/speex", "voice/speex", "audio/ogg")
MP3_RATE, MP3_BIT_RATE = 16000, 32000


def playable(fetched: Fetched) -> Fetched:
    """Her voice as MP3 if browsers cannot play it as it came (else, or if it cannot be
    decoded, unchanged)."""
    if fetched.content_type not in TRANSCODED:
        return fetched
    import av  # FFmpeg's libraries: loaded by the worker, not by every web process

    encoded = io.BytesIO()
    try:
        with av.open(io.BytesIO(fetched.content)) as source, av.open(encoded, mode="w", format="mp3") as target:
            stream = target.add_stream("libmp3lame", rate=MP3_RATE, layout="mono")
            stream.bit_rate = MP3_BIT_RATE
            resampler = av.AudioResampler(format="s16p", layout="mono", rate=MP3_RATE)
            for frame in [*source.decode(audio=0), None]:
                for resampled in resampler.resample(frame):
                    target.mux(stream.encode(resampled))
            target.mux(stream.encode(None))
    except (av.FFmpegError, ValueError, IndexError) as exc:
        log.warning("voice of type %s kept as it came: %s", fetched.content_type, type(exc).__name__)
        return fetched
    return Fetched(encoded.getvalue(), "audio/mpeg")


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


class TelegramMediaFetcher:
    """Her photo or voice from the Telegram Bot API: getFile, then the file itself."""

    # Telegram's file server answers application/octet-stream: the path's suffix says the type.
    TYPES = {
        ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif",
        ".webp": "image/webp", ".oga": "audio/ogg", ".ogg": "audio/ogg", ".mp3": "audio/mpeg",
    }

    def __init__(self, settings: Settings, timeout: float = 20) -> None:
        telegram = settings.telegram
        self.api = f"{telegram.api_base_url.rstrip('/')}/bot{telegram.bot_token}"
        self.files = f"{telegram.api_base_url.rstrip('/')}/file/bot{telegram.bot_token}"
        self.timeout = timeout
        self.http = requests.Session()

    def fetch(self, media_id: str, max_bytes: int) -> Fetched:
        # Errors name the exception's type only: the URL holds the bot token.
        try:
            body = self.http.get(f"{self.api}/getFile", params={"file_id": media_id}, timeout=self.timeout).json()
        except (requests.RequestException, ValueError) as exc:
            raise MediaError(f"无法连接 Telegram 接口（{type(exc).__name__}）") from None
        if not isinstance(body, dict) or not body.get("ok") or not isinstance(body.get("result"), dict):
            code = body.get("error_code") if isinstance(body, dict) else None
            # 400: the file id is wrong or gone; anything else may pass.
            raise MediaError(f"Telegram 接口错误 {code}", permanent=code == 400)
        result = body["result"]
        size, path = result.get("file_size") or 0, result.get("file_path")
        if isinstance(size, int) and size > max_bytes:
            raise MediaError("too_large", permanent=True)
        if not isinstance(path, str) or not path or ".." in path:
            raise MediaError("Telegram 未给出文件路径", permanent=True)  # files over 20 MB have none
        try:
            with self.http.get(f"{self.files}/{path}", timeout=self.timeout, stream=True) as response:
                if response.status_code != 200:
                    raise MediaError(f"Telegram 文件下载失败 HTTP {response.status_code}",
                                     permanent=response.status_code in (400, 404))
                content = bytearray()
                for chunk in response.iter_content(64 * 1024):
                    content += chunk
                    if len(content) > max_bytes:
                        raise MediaError("too_large", permanent=True)
                declared = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        except requests.RequestException as exc:
            raise MediaError(f"无法连接 Telegram 接口（{type(exc).__name__}）") from None
        content_type = self.TYPES.get(PurePosixPath(path).suffix.lower(), declared)
        return Fetched(bytes(content), content_type)


def fetchers_for(settings: Settings) -> dict[str, Fetcher]:
    """A fetcher for each channel that is set up to be asked for her files."""
    fetchers: dict[str, Fetcher] = {}
    if settings.wechat.enabled and settings.wechat.appid:
        fetchers["wechat"] = WeChatMediaFetcher(settings)
    if settings.telegram.bot_token:
        fetchers["telegram"] = TelegramMediaFetcher(settings)
    return fetchers


class MediaKeeper:
    """Fetches what is pending and keeps it on disk: one round per `keep_due` call."""

    def __init__(self, db: Database, settings: Settings, write_lock: Lock, fetcher: Fetcher | None = None,
                 fetchers: dict[str, Fetcher] | None = None) -> None:
        """`fetcher` serves every channel (the simulator's upload); else `fetchers` by channel,
        by default each channel that is set up (`fetchers_for`)."""
        self.db, self.settings, self.write_lock = db, settings, write_lock
        self.fetcher = fetcher
        self.fetchers = fetchers if fetchers is not None else ({} if fetcher else fetchers_for(settings))

    def keep_due(self, now: datetime, limit: int = 20) -> int:
        """Fetch up to `limit` pending files; how many were kept."""
        with self.db.engine.connect() as connection:
            pending = Message.media_state == "pending"
            if self.fetcher is None:
                pending &= Message.channel.in_(list(self.fetchers))
            rows = connection.execute(
                select(Message.id, Message.media_id, Message.created_at, Message.media_attempts, Message.channel)
                .where(pending).order_by(Message.id).limit(limit)
            ).all()
        return sum(self._keep(row, now) for row in rows)

    def keep_media_id(self, media_id: str, now: datetime) -> int:
        """Keep the pending file of one media id at once (the simulator's upload)."""
        with self.db.engine.connect() as connection:
            rows = connection.execute(
                select(Message.id, Message.media_id, Message.created_at, Message.media_attempts, Message.channel)
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
            fetcher = self.fetcher or self.fetchers.get(row.channel)
            if fetcher is None:
                return 0  # its channel is not set up here: left for a process where it is
            fetched = fetcher.fetch(row.media_id, self.settings.media.max_bytes)
            if fetched.content_type not in EXTENSIONS:
                raise MediaError(f"unexpected type {fetched.content_type[:40]}", permanent=True)
            fetched = playable(fetched)
            extension = EXTENSIONS[fetched.content_type]
        except MediaError as error:
            attempts = row.media_attempts + 1
            permanent = error.permanent or attempts >= self.settings.media.max_attempts
            state = "too_large" if str(error) == "too_large" else ("failed" if permanent else "pending")
            self._settle(row.id, media_state=state, media_attempts=attempts)
            log.warning("media of message %s: %s (%s)", row.id, error, state)
            return 0
        name = f"{row.id}{extension}"
        try:
            media_store(self.settings).put(name, fetched.content, fetched.content_type)
        except Exception as exc:  # the store (disk full, S3 down): try again next round
            log.warning("media of message %s not stored: %s", row.id, type(exc).__name__)
            return 0
        self._settle(
            row.id, media_state="stored", media_path=name, media_type=fetched.content_type,
            media_size=len(fetched.content), media_attempts=row.media_attempts + 1,
        )
        return 1

    def _settle(self, message_id: int, **values) -> None:
        with self.db.writing(self.write_lock) as connection:
            connection.execute(
                update(Message).where(Message.id == message_id, Message.media_state == "pending").values(**values)
            )


def media_content(settings: Settings, message: Message) -> bytes | None:
    """A kept file's bytes, if it is still there (on disk or in the S3 store)."""
    if message.media_state != "stored" or not message.media_path:
        return None
    return media_store(settings).get(message.media_path)
