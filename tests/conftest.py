"""Shared fixtures: a fresh real database per test (SQLite, or PostgreSQL when
NIANGJIA_TEST_DATABASE_URL is set), the app, and a WeChat that signs like WeChat."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

import migrations
from bot.routing import Router
from bot.settings import PACKAGE_DATA, Settings
from handlers.app import create_app
from models import Base, Database, Region
from tests import fakes
from tests.wechat import FakeWeChat



def _database_of_this_worker(url: str) -> str:
    """The PostgreSQL database this test process uses: the one given, or under pytest-xdist
    a database of the worker's own beside it (`test_gw1` for worker gw1), made when missing,
    since every test empties or rebuilds the schema it runs on."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    if not url or worker == "gw0":
        return url
    given = make_url(url)
    own = f"{given.database}_{worker}"
    engine = create_engine(given, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        if connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": own}) is None:
            connection.execute(text(f'CREATE DATABASE "{own}"'))
    engine.dispose()
    return given.set(database=own).render_as_string(hide_password=False)


PG_URL = _database_of_this_worker(os.environ.get("NIANGJIA_TEST_DATABASE_URL", ""))
PG_SKIP_REASON = (
    "needs PostgreSQL: set NIANGJIA_TEST_DATABASE_URL, e.g. "
    "NIANGJIA_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test python3 dev.py test"
)
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
TELEGRAM_BOT_TOKEN = "123456:TEST-bot-token"
TELEGRAM_SECRET = "tg-secret-token"


@pytest.fixture(autouse=True)
def _metrics_kept_in_memory():
    """`niangjia serve` run in this process (CliRunner) sets PROMETHEUS_MULTIPROC_DIR for
    the workers it would fork, before it looks at its port: left set, every later /metrics
    in the process read the multiprocess files, not the counters in memory, and the
    metrics tests that happened to follow it failed."""
    saved = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    yield
    if saved is None:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    else:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = saved


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if PG_URL:
        return
    skip = pytest.mark.skip(reason=PG_SKIP_REASON)
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def pytest_report_header(config: pytest.Config) -> str:
    return f"niangjia database: {'PostgreSQL ' + PG_URL if PG_URL else 'SQLite (set NIANGJIA_TEST_DATABASE_URL for PostgreSQL)'}"


@pytest.fixture(scope="session")
def router() -> Router:
    """One router for the whole run: jieba's dictionary loads once."""
    return Router.from_files(PACKAGE_DATA / "lexicon.yaml", PACKAGE_DATA / "userdict.txt")


def _reset_postgres(url: str) -> None:
    db = Database(url)
    with db.engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    db.dispose()


# What the schema looked like right after the `db` fixture built it, while no test has
# changed it since: then the next test empties the tables (tens of milliseconds) instead of
# dropping and building the schema again (hundreds). Any change to columns, indexes,
# constraints, triggers or the recorded revision makes the next test build afresh.
_SCHEMA_FINGERPRINT = text(
    "SELECT md5(coalesce(string_agg(concat_ws(':', table_name, column_name, data_type, is_nullable, column_default),"
    " ',' ORDER BY table_name, column_name), '')) FROM information_schema.columns WHERE table_schema = 'public'"
    " UNION ALL SELECT md5(coalesce(string_agg(indexdef, ',' ORDER BY indexdef), '')) FROM pg_indexes WHERE schemaname = 'public'"
    " UNION ALL SELECT md5(coalesce(string_agg(conname || pg_get_constraintdef(c.oid), ',' ORDER BY conname), ''))"
    " FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public'"
    " UNION ALL SELECT count(*)::text FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
    " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND NOT t.tgisinternal"
    " UNION ALL SELECT coalesce(string_agg(version_num, ','), '') FROM alembic_version"
)
_built_schema: list[str] | None = None


def _fingerprint(connection) -> list[str] | None:
    try:
        return list(connection.execute(_SCHEMA_FINGERPRINT).scalars())
    except Exception:  # e.g. no alembic_version table: not a schema we built
        return None


def _empty_postgres_tables(database: Database) -> bool:
    """Empty every table of the schema the last `db` fixture built, if it is unchanged."""
    if _built_schema is None:
        return False
    with database.engine.connect() as connection:
        if _fingerprint(connection) != _built_schema:
            connection.rollback()
            return False
        sequences = connection.execute(
            text("SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = 'public'")
        ).scalars()
        # Replica mode skips the foreign-key triggers, so the order of the deletes is free.
        statements = ["SET LOCAL session_replication_role = replica"]
        statements += [f'DELETE FROM "{table.name}"' for table in Base.metadata.sorted_tables]
        statements += [f'ALTER SEQUENCE "{name}" RESTART' for name in sequences]
        connection.exec_driver_sql("; ".join(statements))
        connection.commit()
    return True


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of its own for each test."""
    global _built_schema
    if PG_URL:
        if "db" not in request.fixturenames:  # the test builds its schema itself (migrations, CLI)
            _built_schema = None
            _reset_postgres(PG_URL)
        return PG_URL
    return f"sqlite:///{tmp_path / 'niangjia.db'}"


@pytest.fixture
def fake_apis():
    """WeChat's and Telegram's HTTP APIs, faked on 127.0.0.1."""
    apis = fakes.start(TELEGRAM_BOT_TOKEN)
    yield apis
    apis.server.shutdown()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, fake_apis) -> Settings:
    settings = Settings(env="testing", secret_key="test-secret", base_dir=tmp_path)
    settings.database.url = database_url
    settings.wechat.token = "test-token"
    settings.wechat.appid = "wx0123456789abcdef"
    settings.wechat.secret = "test-app-secret"
    settings.wechat.encoding_aes_key = AES_KEY
    # Most tests push in every mode; safe mode's refusal of plaintext has its own tests.
    settings.wechat.mode = "compatible"
    settings.wechat.api_base_url = f"{fake_apis.base}/cgi-bin/"
    settings.telegram.bot_token = TELEGRAM_BOT_TOKEN
    settings.telegram.secret_token = TELEGRAM_SECRET
    settings.telegram.api_base_url = fake_apis.base
    settings.worker.backoff_seconds = 0
    settings.intake.default_region = "T01"
    return settings


@pytest.fixture
def db(settings: Settings):
    """The test's database with every table and a small grid (city T, county T01 ...)."""
    global _built_schema
    database = Database(settings.database_url)
    if not (PG_URL and _empty_postgres_tables(database)):
        if PG_URL:
            _reset_postgres(PG_URL)
        Base.metadata.create_all(database.engine)
        # The models' tables are the migrations' head (tests/models checks they agree),
        # so record it: the CLI refuses a database behind the code.
        migrations.stamp(database.engine)
        if PG_URL:
            with database.engine.connect() as connection:
                _built_schema = _fingerprint(connection)
    with database.transaction() as session:
        city = Region.create(session, "T", "测试市", "city")
        county = Region.create(session, "T01", "测试县", "county", city)
        town = Region.create(session, "T0101", "测试街道", "town", county)
        Region.create(session, "T010101", "测试社区", "village", town)
        Region.create(session, "T02", "邻县", "county", city)
    yield database
    database.dispose()


@pytest.fixture
def app(settings: Settings, router: Router, db: Database):
    app = create_app(settings, router=router)
    app.config["TESTING"] = True
    yield app
    app.extensions["niangjia"].db.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def wechat(client, settings: Settings) -> FakeWeChat:
    """Sends pushes to /wechat exactly as WeChat's servers build them."""
    return FakeWeChat(client, settings.wechat.token, settings.wechat.encoding_aes_key, settings.wechat.appid)


@pytest.fixture
def telegram(client):
    """Sends updates to /telegram as Telegram's servers do."""
    from tests.telegram import FakeTelegram

    return FakeTelegram(client)


@pytest.fixture
def worker(app):
    """The outbox / follow-up worker of the test app, run by hand with run_once()."""
    from bot.worker import Worker

    return Worker(app.extensions["niangjia"])
