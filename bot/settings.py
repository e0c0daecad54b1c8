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
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config.yaml"
PACKAGE_DATA = Path(__file__).resolve().parent / "data"
ENV_PREFIX = "NIANGJIA_"


class SettingsError(ValueError):
    """A configuration that cannot run: the message names the key."""


@dataclass
class DatabaseSettings:
    url: str = "sqlite:///instance/niangjia.db"
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


@dataclass
class SlaSettings:
    claim_hours: int = 24
    urgent_claim_minutes: int = 30
    first_response_hours: int = 48
    resolve_days: int = 15


@dataclass
class DialogueSettings:
    # A conversation quiet for longer starts afresh.
    session_timeout_minutes: int = 30
    # A resolved ticket whose follow-up question gets no answer is closed after this.
    followup_timeout_hours: int = 72


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
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8000


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
    dialogue: DialogueSettings = field(default_factory=DialogueSettings)
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
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
    def lexicon_path(self) -> Path:
        return self.resolve_path(self.routing.lexicon, PACKAGE_DATA / "lexicon.yaml")

    @property
    def userdict_path(self) -> Path:
        return self.resolve_path(self.routing.userdict, PACKAGE_DATA / "userdict.txt")

    @property
    def spool_path(self) -> Path:
        return self.resolve_path(self.webhook.spool_dir, self.base_dir / "instance" / "spool")

    @property
    def database_url(self) -> str:
        """The database URL with a relative SQLite path anchored at the config directory."""
        url = self.database.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(self.base_dir / url[len(prefix):])
        return url


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
    if target is int:
        if isinstance(value, bool):
            raise SettingsError(f"{key}: expected a whole number, got {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SettingsError(f"{key}: expected a whole number, got {value!r}") from None
    if target is str:
        if value is None:
            return ""
        if isinstance(value, (dict, list)):
            raise SettingsError(f"{key}: expected text, got {type(value).__name__}")
        return str(value)
    return value


def _build(cls: type, data: dict[str, Any], path: str) -> Any:
    if not isinstance(data, dict):
        raise SettingsError(f"{path or 'config'}: expected a mapping of settings")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)} - {"base_dir"}
    unknown = sorted(set(data) - names)
    if unknown:
        where = f"{path}." if path else ""
        raise SettingsError(f"unknown setting {where}{unknown[0]}")
    kwargs = {}
    for name, value in data.items():
        key = f"{path}.{name}" if path else name
        target = hints[name]
        if dataclasses.is_dataclass(target):
            kwargs[name] = _build(target, value or {}, key)
        else:
            kwargs[name] = _coerce(value, target, key)
    return cls(**kwargs)


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
    missing = []
    for key_path in required:
        node: Any = settings
        for part in key_path:
            node = getattr(node, part)
        if not node:
            missing.append(ENV_PREFIX + "_".join(key_path).upper())
    return missing


def _check(settings: Settings) -> None:
    if settings.env not in {"development", "production", "testing"}:
        raise SettingsError(f"env: expected development, production or testing, got {settings.env!r}")
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
    if settings.webhook.timestamp_window <= 0:
        raise SettingsError("webhook.timestamp_window: must be a positive number of seconds")
    if settings.webhook.max_body_bytes <= 0:
        raise SettingsError("webhook.max_body_bytes: must be a positive number of bytes")
