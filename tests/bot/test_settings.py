"""Settings: config.yaml, NIANGJIA_* overrides, and production's refusal to start without secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.settings import DEFAULT_CONFIG, SettingsError, leaf_keys, load_settings


def test_shipped_config_names_every_setting_and_nothing_else():
    data = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))

    def leaves(node, prefix=()):
        for key, value in node.items():
            if isinstance(value, dict):
                yield from leaves(value, (*prefix, key))
            else:
                yield (*prefix, key)

    assert set(leaves(data)) == set(leaf_keys().values())


def test_environment_overrides_the_file():
    settings = load_settings(
        DEFAULT_CONFIG,
        {
            "NIANGJIA_DATABASE_URL": "postgresql+psycopg://u@h/db",
            "NIANGJIA_WECHAT_TOKEN": "tok",
            "NIANGJIA_WECHAT_ENCODING_AES_KEY": "k" * 43,
            "NIANGJIA_WEBHOOK_TIMESTAMP_WINDOW": "60",
            "NIANGJIA_WECHAT_ENABLED": "no",
        },
    )
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    assert settings.wechat.token == "tok"
    assert settings.wechat.encoding_aes_key == "k" * 43
    assert settings.webhook.timestamp_window == 60
    assert settings.wechat.enabled is False


def test_niangjia_config_names_another_file(tmp_path: Path):
    other = tmp_path / "other.yaml"
    other.write_text("database:\n  url: sqlite:///data/x.db\nsla:\n  claim_hours: 8\n", encoding="utf-8")
    settings = load_settings(environ={"NIANGJIA_CONFIG": str(other)})
    assert settings.sla.claim_hours == 8
    # A relative SQLite path is anchored at the config file's directory.
    assert settings.database_url == f"sqlite:///{tmp_path}/data/x.db"


def test_production_without_secrets_stops_and_names_them():
    with pytest.raises(SettingsError) as error:
        load_settings(DEFAULT_CONFIG, {"NIANGJIA_ENV": "production", "NIANGJIA_WECHAT_TOKEN": "t"})
    message = str(error.value)
    assert "NIANGJIA_SECRET_KEY" in message and "NIANGJIA_WECHAT_APPID" in message
    assert "NIANGJIA_WECHAT_SECRET" in message and "NIANGJIA_WECHAT_TOKEN" not in message


def test_production_with_secrets_starts():
    settings = load_settings(
        DEFAULT_CONFIG,
        {
            "NIANGJIA_ENV": "production",
            "NIANGJIA_SECRET_KEY": "s" * 32,
            "NIANGJIA_WECHAT_TOKEN": "t",
            "NIANGJIA_WECHAT_APPID": "wx1",
            "NIANGJIA_WECHAT_SECRET": "sec",
        },
    )
    assert settings.production and settings.wechat.appid == "wx1"


@pytest.mark.parametrize(
    "environ, fragment",
    [
        ({"NIANGJIA_WEBHOOK_TIMESTAMP_WINDOW": "soon"}, "webhook.timestamp_window"),
        ({"NIANGJIA_WECHAT_ENCODING_AES_KEY": "short"}, "wechat.encoding_aes_key"),
        ({"NIANGJIA_ENV": "staging"}, "env"),
        ({"NIANGJIA_WECHAT_MODE": "secure"}, "wechat.mode"),
        ({"NIANGJIA_WECHAT_MODE": "safe"}, "wechat.mode"),  # safe mode without a key
        ({"NIANGJIA_SERVER_READ_TIMEOUT": "0"}, "server.read_timeout"),
    ],
)
def test_bad_values_are_refused_naming_the_key(environ, fragment):
    with pytest.raises(SettingsError, match=fragment.replace(".", r"\.")):
        load_settings(DEFAULT_CONFIG, environ)


def test_unknown_key_in_the_file_is_refused(tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_text("wechat:\n  tokn: x\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"wechat\.tokn"):
        load_settings(path, {})


def test_broken_yaml_names_the_line(tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_text("wechat:\n  token: [unclosed\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="line"):
        load_settings(path, {})
