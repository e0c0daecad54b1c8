"""Settings: defaults here, `config.yaml` over them, `NIANGJIA_*` environment variables over both.

Every leaf key has an environment name made of its path: `wechat.token` is
`NIANGJIA_WECHAT_TOKEN`, `database.url` is `NIANGJIA_DATABASE_URL`. `NIANGJIA_CONFIG`
names another YAML file. An empty secret means "not set": in development the service
fills in a local stand-in; in production start-up stops and names what is missing.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import yaml

from models.clocks import Durations, Policy, parse_duration
from models.db import DEFAULT_URL, anchored_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config.yaml"
PACKAGE_DATA = Path(__file__).resolve().parent / "data"
ENV_PREFIX = "NIANGJIA_"


class SettingsError(ValueError):
    """A configuration that cannot run: the message names the key."""


@dataclass
class DatabaseSettings:
    url: str = DEFAULT_URL
    echo: bool = False


@dataclass
class WebhookSettings:
    timestamp_window: int = 300
    max_body_bytes: int = 65536
    # Where messages are journaled while the database is away (bot/spool.py).
    spool_dir: str = "instance/spool"


@dataclass
class WechatSettings:
    enabled: bool = True
    token: str = ""
    encoding_aes_key: str = ""
    appid: str = ""
    secret: str = ""
    api_base_url: str = "https://api.weixin.qq.com/cgi-bin/"
    token_store: str = ""
    # plaintext | compatible | safe; empty: safe with an EncodingAESKey, else plaintext
    # (bot.channels.wechat.WeChatEndpoint).
    mode: str = ""


@dataclass
class TelegramSettings:
    bot_token: str = ""
    secret_token: str = ""
    api_base_url: str = "https://api.telegram.org"


@dataclass
class RoutingSettings:
    lexicon: str = ""
    userdict: str = ""


@dataclass
class IntakeSettings:
    reference_prefix: str = "NJ"
    default_region: str = ""


def _clocks(claim: str, first_reply: str, resolve: str) -> Callable[[], Durations]:
    return lambda: Durations(*(parse_duration(v, "sla") for v in (claim, first_reply, resolve)))


@dataclass
class SlaSettings:
    # Each route's three clocks (claim, first_reply, resolve); urgent tickets run on `urgent`.
    urgent: Durations = field(default_factory=_clocks("30m", "2h", "3d"))
    consultation: Durations = field(default_factory=_clocks("1d", "2d", "3d"))
    mediation: Durations = field(default_factory=_clocks("1d", "2d", "15d"))
    service: Durations = field(default_factory=_clocks("1d", "3d", "15d"))
    # Non-urgent clocks count China's working days only.
    working_time: bool = True
    # Share of a clock's time after which it shows yellow.
    yellow_at: float = 0.8


@dataclass
class EscalationSettings:
    # A missed deadline climbs one region up after each such period.
    every: timedelta = timedelta(days=1)
    max_level: int = 3


@dataclass
class NotifySettings:
    # Default 企业微信 group robot webhook URL and Telegram chat id for alerts (a region
    # may have its own: `niangjia regions notify`); empty: none.
    wecom: str = ""
    wecom_msgtype: str = "text"
    telegram_chat: str = ""
    # WeChat template message id for staff who linked their WeChat openid; empty: none.
    wechat_template_id: str = ""


@dataclass
class DialogueSettings:
    # A conversation quiet for longer starts afresh.
    session_timeout_minutes: int = 30
    # A resolved ticket whose follow-up question gets no answer is closed after this.
    followup_timeout_hours: int = 72
    # A new ticket of hers may be linked as a redo (重办) of one closed within this many days.
    redo_days: int = 30
    # What she is told when she cannot talk (he would hear); empty: the shipped text
    # (bot/replies.py SILENT_OPTIONS). Say whether her province takes SMS to 12110.
    silent_options: str = ""
    # Her safe time, when her words name no hour, pauses the clocks for this long at most.
    safe_time_hours: int = 24


@dataclass
class MediaSettings:
    # Where her images and voice are kept once fetched from WeChat (bot/media.py).
    dir: str = "instance/media"
    # A larger file is not kept (WeChat's own caps: images 10 MB, voice 2 MB).
    max_bytes: int = 10 * 1024 * 1024
    # Tries per file before it is given up (each worker round tries once).
    max_attempts: int = 5
    # Where the files go: "disk" (`dir`) or "s3", an S3-compatible store (bot/mediastore.py).
    store: str = "disk"
    s3_endpoint: str = ""  # e.g. https://oss-cn-hangzhou.aliyuncs.com, http://127.0.0.1:9000; empty: AWS
    s3_bucket: str = ""
    s3_region: str = "us-east-1"
    s3_prefix: str = "media/"
    s3_access_key: str = ""  # secrets: from NIANGJIA_MEDIA_S3_ACCESS_KEY / _SECRET_KEY
    s3_secret_key: str = ""


@dataclass
class StatsSettings:
    # A child region with fewer tickets behind a rate than this is shown but not ranked on it:
    # two cases in a village make a rate of 0% or 100% by chance.
    rank_min: int = 10
    # The dashboard, the exports and GET /api/v1/stats show a stored report at most this
    # many seconds old (models/stats_store.py; the page says when it was counted); the
    # worker counts again, past half of that, every report asked for within
    # `wanted_minutes`. 0 counts on every request.
    cache_seconds: int = 60
    wanted_minutes: int = 10


@dataclass
class WorkerSettings:
    # Run the outbox / follow-up worker inside `niangjia serve` (the embedded default).
    in_service: bool = True
    poll_seconds: int = 2
    max_attempts: int = 8
    # First retry delay; it doubles with every attempt.
    backoff_seconds: int = 5
    # A send waits this long for the platform's answer; this many run at once, so one
    # hanging API delays only its own messages.
    send_timeout_seconds: int = 10
    send_concurrency: int = 8


@dataclass
class LoginSettings:
    # A staff session unused for longer than this ends (the next page asks to log in).
    idle_minutes: int = 30
    # Wrong passwords (per account and per address) allowed before delays start; each
    # further failure doubles the wait from base_delay_seconds, up to the caps. The
    # account's cap is low: anyone can type her username, so it must never lock her out.
    free_failures: int = 3
    base_delay_seconds: int = 2
    account_max_delay_seconds: int = 60
    address_max_delay_seconds: int = 900
    # Failures older than this are forgotten.
    failure_expiry_minutes: int = 30
    # A browser that logged in to an account waits only for its own failures there (not
    # the account's or its address's) for this many days: a stranger never keeps her out.
    known_device_days: int = 30
    # Password checks (Argon2id) running at once on this machine (all worker processes
    # of the service together), and how many more logins a process lets wait (each up to
    # hash_wait_ms) for one; the rest get 429 at once, so a flood of logins cannot take
    # the cores and threads the webhook needs.
    max_concurrent_hashes: int = 1
    hash_queue: int = 1
    hash_wait_ms: int = 500


@dataclass
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    # Seconds a request may take to send its body before it is answered 408.
    read_timeout: int = 10
    # How many proxies of ours (nginx) stand in front: their X-Forwarded-For is trusted.
    trusted_proxies: int = 0


@dataclass
class MetricsSettings:
    # /metrics wants "Authorization: Bearer <token>" when set; empty: loopback only.
    token: str = ""
    # Where `niangjia serve` keeps gunicorn workers' counters; empty: instance/prometheus.
    multiproc_dir: str = ""


@dataclass
class LimitsSettings:
    enabled: bool = True
    # Messages one sender may push per window (more are answered "please slow down").
    webhook_per_sender: str = "20/minute;200/hour"
    api_per_token: str = "120/minute"
    api_per_address: str = "300/minute"
    # Counter file when redis.url is empty; relative to the config file.
    store: str = ""


@dataclass
class LearningSettings:
    # Share (0 to 1) of her messages that did not become a ticket (a greeting, noise, a
    # menu answer, "other") kept, numbers masked, for a supervisor to label on the review
    # page. Chosen by a hash of the channel's message id, so a message is in or out for good.
    review_sample_rate: float = 0.1


@dataclass
class RedisSettings:
    # Shared by every process and machine (webhook nonces); empty: the database.
    url: str = ""


@dataclass
class Settings:
    env: str = "development"
    secret_key: str = ""
    log_level: str = "INFO"
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    webhook: WebhookSettings = field(default_factory=WebhookSettings)
    wechat: WechatSettings = field(default_factory=WechatSettings)
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    intake: IntakeSettings = field(default_factory=IntakeSettings)
    sla: SlaSettings = field(default_factory=SlaSettings)
    escalation: EscalationSettings = field(default_factory=EscalationSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)
    dialogue: DialogueSettings = field(default_factory=DialogueSettings)
    stats: StatsSettings = field(default_factory=StatsSettings)
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    media: MediaSettings = field(default_factory=MediaSettings)
    login: LoginSettings = field(default_factory=LoginSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    learning: LearningSettings = field(default_factory=LearningSettings)
    limits: LimitsSettings = field(default_factory=LimitsSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    # Where relative paths in the file are anchored: the directory of the config file.
    base_dir: Path = field(default=PROJECT_ROOT, repr=False)

    @property
    def production(self) -> bool:
        return self.env == "production"

    def resolve_path(self, value: str, default: Path) -> Path:
        """A configured path, relative to the config file; empty means the shipped default."""
        if not value:
            return default
        path = Path(value)
        return path if path.is_absolute() else self.base_dir / path

    @property
    def policy(self) -> Policy:
        """The deadlines as arithmetic (models/clocks.py)."""
        return Policy(
            urgent=self.sla.urgent,
            routes={"consultation": self.sla.consultation, "mediation": self.sla.mediation, "service": self.sla.service},
            working_time=self.sla.working_time,
            yellow_at=self.sla.yellow_at,
            escalate_every=self.escalation.every,
            max_level=self.escalation.max_level,
        )

    @property
    def lexicon_path(self) -> Path:
        return self.resolve_path(self.routing.lexicon, PACKAGE_DATA / "lexicon.yaml")

    @property
    def userdict_path(self) -> Path:
        return self.resolve_path(self.routing.userdict, PACKAGE_DATA / "userdict.txt")

    @property
    def spool_path(self) -> Path:
        return self.resolve_path(self.webhook.spool_dir, self.base_dir / "instance" / "spool")

    @property
    def media_path(self) -> Path:
        return self.resolve_path(self.media.dir, self.base_dir / "instance" / "media")

    @property
    def database_url(self) -> str:
        """The database URL with a relative SQLite path anchored at the config directory."""
        return anchored_url(self.database.url, self.base_dir)


def leaf_keys(cls: type = Settings, prefix: str = "") -> dict[str, tuple[str, ...]]:
    """Map every environment-variable suffix (e.g. WECHAT_TOKEN) to its key path."""
    keys: dict[str, tuple[str, ...]] = {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name == "base_dir":
            continue
        path = (*prefix.split("."), f.name) if prefix else (f.name,)
        if dataclasses.is_dataclass(hints[f.name]):
            keys.update(leaf_keys(hints[f.name], ".".join(path)))
        else:
            keys["_".join(path).upper()] = path
    return keys


# The numbers a setting may be, and how an error names what was expected.
_NUMBERS = {int: "a whole number", float: "a number"}


def _coerce(value: Any, target: Any, key: str) -> Any:
    if isinstance(target, types.UnionType):  # e.g. str | None
        target = next(t for t in typing.get_args(target) if t is not type(None))
    if target is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off", ""}:
            return False
        raise SettingsError(f"{key}: expected true or false, got {value!r}")
    if target in _NUMBERS:
        expected = _NUMBERS[target]
        try:
            if isinstance(value, bool) and target is int:  # YAML's `yes` is no count
                raise ValueError(value)
            return target(value)
        except (TypeError, ValueError):
            raise SettingsError(f"{key}: expected {expected}, got {value!r}") from None
    if target is timedelta:
        try:
            return parse_duration(value, key)
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
    if target is str:
        if value is None:
            return ""
        if isinstance(value, (dict, list)):
            raise SettingsError(f"{key}: expected text, got {type(value).__name__}")
        return str(value)
    return value


def _build(cls: type, data: dict[str, Any], path: str, default: Any = None) -> Any:
    """`cls` from `data`; keys `data` leaves out keep `default`'s values (or the class's)."""
    if not isinstance(data, dict):
        raise SettingsError(f"{path or 'config'}: expected a mapping of settings")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)} - {"base_dir"}
    unknown = sorted(set(data) - names)
    if unknown:
        where = f"{path}." if path else ""
        raise SettingsError(f"unknown setting {where}{unknown[0]}")
    kwargs = {}
    base = default if default is not None else _defaults(cls)
    for name, value in data.items():
        key = f"{path}.{name}" if path else name
        target = hints[name]
        if dataclasses.is_dataclass(target):
            kwargs[name] = _build(target, value or {}, key, getattr(base, name) if base is not None else None)
        else:
            kwargs[name] = _coerce(value, target, key)
    return dataclasses.replace(base, **kwargs) if base is not None else cls(**kwargs)


def _defaults(cls: type) -> Any:
    """`cls` with its defaults, or None when some field has none (e.g. Durations)."""
    try:
        return cls()
    except TypeError:
        return None


def _set_path(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        node = data.get(part)
        if not isinstance(node, dict):
            node = data[part] = {}
        data = node
    data[path[-1]] = value


def load_settings(
    config_path: str | Path | None = None, environ: typing.Mapping[str, str] | None = None
) -> Settings:
    """Read the config file and the environment into a Settings object, or raise SettingsError."""
    environ = os.environ if environ is None else environ
    path = Path(config_path or environ.get(ENV_PREFIX + "CONFIG") or DEFAULT_CONFIG)
    data: dict[str, Any] = {}
    if path.exists():
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f" line {mark.line + 1}" if mark else ""
            raise SettingsError(f"{path}{line}: not valid YAML") from None
        data = loaded or {}
    elif config_path or environ.get(ENV_PREFIX + "CONFIG"):
        raise SettingsError(f"config file not found: {path}")

    for suffix, key_path in leaf_keys().items():
        value = environ.get(ENV_PREFIX + suffix)
        if value is not None:
            _set_path(data, key_path, value)

    settings = _build(Settings, data, "")
    settings.base_dir = path.resolve().parent
    _check(settings)
    return settings


# Secrets production cannot start without; the key path and the variable that sets it.
def missing_secrets(settings: Settings) -> list[str]:
    """Names of the environment variables for secrets that are required but empty."""
    required = [("secret_key",)]
    if settings.wechat.enabled:
        required += [("wechat", "token"), ("wechat", "appid"), ("wechat", "secret")]
    if settings.telegram.bot_token:
        required += [("telegram", "secret_token")]
    if settings.media.store == "s3":
        required += [("media", "s3_access_key"), ("media", "s3_secret_key")]
    missing = []
    for key_path in required:
        node: Any = settings
        for part in key_path:
            node = getattr(node, part)
        if not node:
            missing.append(ENV_PREFIX + "_".join(key_path).upper())
    return missing


# The session-signing key: at least this many bytes, and not one a person typed.
MIN_SECRET_KEY_BYTES = 32
MIN_SECRET_KEY_DISTINCT = 12


def weak_secret_key(key: str) -> str | None:
    """Why `key` cannot sign staff sessions, or None when it looks like 32+ random bytes."""
    if len(key.encode("utf-8")) < MIN_SECRET_KEY_BYTES:
        return f"shorter than {MIN_SECRET_KEY_BYTES} bytes"
    if len(set(key)) < MIN_SECRET_KEY_DISTINCT:
        return "not random (too few different characters)"
    return None


def _check(settings: Settings) -> None:
    if settings.env not in {"development", "production", "testing"}:
        raise SettingsError(f"env: expected development, production or testing, got {settings.env!r}")
    # A key someone set is checked in every environment; only the stand-in below is not.
    if settings.secret_key and (problem := weak_secret_key(settings.secret_key)):
        raise SettingsError(
            f"NIANGJIA_SECRET_KEY (secret_key) is {problem}: use 32 random bytes, e.g. "
            '`python3 -c "import secrets; print(secrets.token_urlsafe(32))"`'
        )
    if settings.production:
        missing = missing_secrets(settings)
        if missing:
            raise SettingsError("production needs these secrets set: " + ", ".join(missing))
    else:
        # Local stand-ins so the embedded default runs with no accounts at all.
        settings.secret_key = settings.secret_key or "niangjia-dev-secret-key"
        settings.wechat.token = settings.wechat.token or "niangjia-dev-token"
        settings.wechat.appid = settings.wechat.appid or "wx-niangjia-dev"
        settings.wechat.secret = settings.wechat.secret or "niangjia-dev-secret"
        settings.telegram.secret_token = settings.telegram.secret_token or "niangjia-dev-telegram-secret"
        settings.telegram.bot_token = settings.telegram.bot_token or "0:niangjia-dev"
    key = settings.wechat.encoding_aes_key
    if key and len(key) != 43:
        raise SettingsError("wechat.encoding_aes_key: must be the 43 characters WeChat shows")
    mode = settings.wechat.mode
    if mode not in {"", "plaintext", "compatible", "safe"}:
        raise SettingsError(f"wechat.mode: expected plaintext, compatible or safe, got {mode!r}")
    if mode in {"compatible", "safe"} and not key:
        raise SettingsError(f"wechat.mode: {mode} needs wechat.encoding_aes_key")
    if settings.media.store not in {"disk", "s3"}:
        raise SettingsError(f"media.store: expected disk or s3, got {settings.media.store!r}")
    if settings.media.store == "s3" and not settings.media.s3_bucket:
        raise SettingsError("media.store: s3 needs media.s3_bucket")
    if settings.server.trusted_proxies < 0:
        raise SettingsError("server.trusted_proxies: must be 0 or more")
    if settings.server.read_timeout <= 0:
        raise SettingsError("server.read_timeout: must be a positive number of seconds")
    if settings.webhook.timestamp_window <= 0:
        raise SettingsError("webhook.timestamp_window: must be a positive number of seconds")
    if settings.webhook.max_body_bytes <= 0:
        raise SettingsError("webhook.max_body_bytes: must be a positive number of bytes")
    if not 0 < settings.sla.yellow_at < 1:
        raise SettingsError(f"sla.yellow_at: must lie between 0 and 1, got {settings.sla.yellow_at}")
    if settings.escalation.max_level < 1:
        raise SettingsError("escalation.max_level: must be at least 1")
    if not 0 <= settings.learning.review_sample_rate <= 1:
        raise SettingsError(f"learning.review_sample_rate: must lie between 0 and 1, got {settings.learning.review_sample_rate}")
    if settings.notify.wecom_msgtype not in ("text", "markdown"):
        raise SettingsError(f"notify.wecom_msgtype: expected text or markdown, got {settings.notify.wecom_msgtype!r}")
    for name in ("idle_minutes", "max_concurrent_hashes", "failure_expiry_minutes", "known_device_days"):
        if getattr(settings.login, name) <= 0:
            raise SettingsError(f"login.{name}: must be a positive number")
