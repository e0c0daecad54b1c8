"""Settings: config.yaml, NIANGJIA_* overrides, and production's refusal to start without secrets."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from bot.settings import DEFAULT_CONFIG, SettingsError, leaf_keys, load_settings

# What `secrets.token_urlsafe(32)` prints: 32 random bytes.
STRONG_KEY = "q3Vx9Lr0TzN-8cWm4Ka_7bJdYe2Uh5GsPo1Fi6RnXvE"


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
    other.write_text("database:\n  url: sqlite:///data/x.db\nsla:\n  mediation: {claim: 8h}\n", encoding="utf-8")
    settings = load_settings(environ={"NIANGJIA_CONFIG": str(other)})
    assert settings.sla.mediation.claim == timedelta(hours=8)
    # The keys the file leaves out keep their defaults, the route's own ones.
    assert settings.sla.mediation.resolve == timedelta(days=15)
    # A relative SQLite path is anchored at the config file's directory.
    assert settings.database_url == f"sqlite:///{tmp_path}/data/x.db"


def test_production_without_secrets_stops_and_names_them():
    with pytest.raises(SettingsError) as error:
        load_settings(DEFAULT_CONFIG, {"NIANGJIA_ENV": "production", "NIANGJIA_WECHAT_TOKEN": "t"})
    message = str(error.value)
    assert "NIANGJIA_SECRET_KEY" in message and "NIANGJIA_WECHAT_APPID" in message
    assert "NIANGJIA_WECHAT_SECRET" in message and "NIANGJIA_WECHAT_TOKEN" not in message


def test_production_with_an_s3_media_store_needs_its_keys():
    with pytest.raises(SettingsError) as error:
        load_settings(DEFAULT_CONFIG, {"NIANGJIA_ENV": "production", "NIANGJIA_MEDIA_STORE": "s3",
                                       "NIANGJIA_MEDIA_S3_BUCKET": "niangjia-media"})
    assert "NIANGJIA_MEDIA_S3_ACCESS_KEY" in str(error.value) and "NIANGJIA_MEDIA_S3_SECRET_KEY" in str(error.value)


def test_production_with_secrets_starts():
    settings = load_settings(
        DEFAULT_CONFIG,
        {
            "NIANGJIA_ENV": "production",
            "NIANGJIA_SECRET_KEY": STRONG_KEY,
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
        ({"NIANGJIA_MEDIA_STORE": "ftp"}, "media.store"),
        ({"NIANGJIA_MEDIA_STORE": "s3"}, "media.s3_bucket"),
        ({"NIANGJIA_LEARNING_REVIEW_SAMPLE_RATE": "1.5"}, "learning.review_sample_rate"),
        ({"NIANGJIA_LEARNING_REVIEW_SAMPLE_RATE": "lots"}, "learning.review_sample_rate"),
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


def test_the_shipped_config_gives_the_deadlines_of_the_policy():
    settings = load_settings(DEFAULT_CONFIG, {})
    assert settings.sla.urgent.claim == timedelta(minutes=30)
    assert settings.sla.urgent.first_reply == timedelta(hours=2)
    assert settings.sla.service.first_reply == timedelta(days=3)
    assert settings.sla.working_time is True and settings.sla.yellow_at == 0.8
    assert settings.escalation.every == timedelta(days=1) and settings.escalation.max_level == 3
    policy = settings.policy
    assert policy.durations("mediation", urgent=False).resolve == timedelta(days=15)
    assert policy.durations("mediation", urgent=True).resolve == timedelta(days=3)


@pytest.mark.parametrize("text, span", [("45s", timedelta(seconds=45)), ("30m", timedelta(minutes=30)),
                                        ("24h", timedelta(hours=24)), ("3d", timedelta(days=3))])
def test_durations_are_written_in_seconds_minutes_hours_or_days(text, span):
    settings = load_settings(DEFAULT_CONFIG, {"NIANGJIA_SLA_CONSULTATION_RESOLVE": text})
    assert settings.sla.consultation.resolve == span


@pytest.mark.parametrize("key, value, named", [
    ("NIANGJIA_SLA_URGENT_CLAIM", "30", "sla.urgent.claim"),
    ("NIANGJIA_SLA_URGENT_CLAIM", "half an hour", "sla.urgent.claim"),
    ("NIANGJIA_SLA_SERVICE_RESOLVE", "0d", "sla.service.resolve"),
    ("NIANGJIA_ESCALATION_EVERY", "1w", "escalation.every"),
    ("NIANGJIA_SLA_YELLOW_AT", "1.5", "sla.yellow_at"),
    ("NIANGJIA_SLA_YELLOW_AT", "soon", "sla.yellow_at"),
    ("NIANGJIA_ESCALATION_MAX_LEVEL", "0", "escalation.max_level"),
    ("NIANGJIA_NOTIFY_WECOM_MSGTYPE", "news", "notify.wecom_msgtype"),
])
def test_a_bad_deadline_setting_is_refused_naming_its_key(key, value, named):
    with pytest.raises(SettingsError, match=named.replace(".", r"\.")):
        load_settings(DEFAULT_CONFIG, {key: value})


def test_an_unknown_clock_is_refused_naming_it(tmp_path: Path):
    other = tmp_path / "other.yaml"
    other.write_text("sla:\n  urgent: {claim: 30m, answer: 1h}\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"sla\.urgent\.answer"):
        load_settings(other, {})


@pytest.mark.parametrize("key", ["x", "s" * 32, "short-but-not-random", "aaaabbbbccccddddeeeeffffgggghhhh"])
@pytest.mark.parametrize("env", ["production", "development"])
def test_a_weak_secret_key_is_refused_naming_the_key(key, env):
    environ = {
        "NIANGJIA_ENV": env, "NIANGJIA_SECRET_KEY": key, "NIANGJIA_WECHAT_TOKEN": "t",
        "NIANGJIA_WECHAT_APPID": "wx1", "NIANGJIA_WECHAT_SECRET": "sec",
    }
    with pytest.raises(SettingsError, match="NIANGJIA_SECRET_KEY"):
        load_settings(DEFAULT_CONFIG, environ)


def test_development_without_a_key_still_starts_on_its_stand_in():
    assert load_settings(DEFAULT_CONFIG, {}).secret_key
