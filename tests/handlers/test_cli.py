"""The `niangjia` command, run as a person would run it: a real process, a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest



def niangjia(*args: str, database_url: str, stdin: str = "", cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "NIANGJIA_DATABASE_URL": database_url, "NIANGJIA_LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, "-m", "handlers", *args],
        input=stdin, capture_output=True, text=True, env=env, cwd=cwd, timeout=120,
    )


@pytest.fixture
def url(database_url):
    return database_url


def test_init_db_then_tickets_json_lists_routed_tickets(url, tmp_path):
    done = niangjia("init-db", database_url=url)
    assert done.returncode == 0, done.stderr
    assert "head" in done.stdout
    loaded = niangjia("demo-data", database_url=url)
    assert loaded.returncode == 0, loaded.stderr
    listed = niangjia("tickets", "--json", database_url=url)
    assert listed.returncode == 0, listed.stderr
    tickets = json.loads(listed.stdout)
    assert len(tickets) == 4
    assert set(tickets[0]) >= {"reference", "category", "urgent", "status", "region", "created"}
    assert {t["category"] for t in tickets} == {"consultation", "mediation", "service"}
    assert sum(t["urgent"] for t in tickets) == 1
    assert all(t["reference"].startswith("NJ-") for t in tickets)
    # Running init-db again is harmless.
    assert niangjia("init-db", database_url=url).returncode == 0


def test_init_db_then_demo_data_leaves_one_root_and_the_demo_staff_see_the_demo_tickets(url):
    from sqlalchemy import select

    from models import Database, Region, StaffUser, Ticket
    from models.ticket import QueueFilter

    assert niangjia("init-db", database_url=url).returncode == 0
    loaded = niangjia("demo-data", database_url=url)
    assert loaded.returncode == 0, loaded.stderr
    db = Database(url)
    try:
        with db.session() as session:
            assert [r.code for r in Region.roots(session)] == ["DEMO"]
            seen = {}
            for name in ("admin", "supervisor", "caseworker"):
                user = session.scalar(select(StaffUser).where(StaffUser.username == name))
                seen[name] = Ticket.tab_counts(session, user, QueueFilter(tab="all"))["all"]
            urgent = session.scalar(select(Ticket).where(Ticket.urgent.is_(True)))
            assert urgent.region.code == "DEMO010101"
    finally:
        db.dispose()
    assert seen["admin"] == 4 and seen["supervisor"] == 4 and seen["caseworker"] == 3
    # A default region that does not exist stops the worker (and serve) at start-up.
    done = subprocess.run(
        [sys.executable, "-m", "handlers", "worker", "--once"], capture_output=True, text=True, timeout=120,
        env={**os.environ, "NIANGJIA_DATABASE_URL": url, "NIANGJIA_INTAKE_DEFAULT_REGION": "NOPE"},
    )
    assert done.returncode != 0 and "intake.default_region is NOPE" in done.stderr and "Traceback" not in done.stderr


def test_create_user_reads_the_password_from_stdin(url):
    niangjia("init-db", database_url=url)
    done = niangjia("create-user", "lijie", "--role", "caseworker", "--region", "ROOT", database_url=url, stdin="a-long-password\n")
    assert done.returncode == 0, done.stderr
    again = niangjia("create-user", "lijie", "--role", "caseworker", "--region", "ROOT", database_url=url, stdin="a-long-password\n")
    assert again.returncode != 0 and "exists" in again.stderr


def test_create_user_refuses_an_unknown_region_and_a_short_password(url):
    niangjia("init-db", database_url=url)
    unknown = niangjia("create-user", "a", "--role", "admin", "--region", "NOPE", database_url=url, stdin="a-long-password\n")
    assert unknown.returncode != 0 and "NOPE" in unknown.stderr
    short = niangjia("create-user", "b", "--role", "admin", "--region", "ROOT", database_url=url, stdin="short\n")
    assert short.returncode != 0 and "10" in short.stderr
    assert "Traceback" not in unknown.stderr + short.stderr


def test_regions_import_names_the_bad_line(url, tmp_path):
    niangjia("init-db", database_url=url)
    bad = tmp_path / "regions.csv"
    bad.write_text("code,name,level,parent_code\nC1,一市,city,\nC101,一县,county,C1\nC10101,一街道,hamlet,C101\n", encoding="utf-8")
    done = niangjia("regions", "import", str(bad), database_url=url)
    assert done.returncode != 0
    assert "line 4" in done.stderr and "Traceback" not in done.stderr
    listed = niangjia("tickets", database_url=url)
    assert listed.returncode == 0
    # Nothing of the bad file was written: importing the fixed file adds all three.
    bad.write_text("code,name,level,parent_code\nC1,一市,city,\nC101,一县,county,C1\nC10101,一街道,town,C101\n", encoding="utf-8")
    fixed = niangjia("regions", "import", str(bad), database_url=url)
    assert fixed.returncode == 0 and "3 regions" in fixed.stdout


def test_classify_writes_one_json_object_per_line(url):
    lines = "请问离婚以后孩子抚养费一般给多少\n你好\n他拿着刀说要杀了我\n"
    done = niangjia("classify", database_url=url, stdin=lines)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["text"] for r in rows] == lines.splitlines()
    for row in rows:
        assert list(row)[:6] == ["text", "category", "subcategory", "urgent", "confidence", "keywords"]
        assert row["category"] in {"consultation", "mediation", "service", "other"}
    assert rows[0]["category"] == "consultation" and not rows[0]["urgent"]
    assert rows[1]["category"] == "other"
    assert rows[2]["urgent"] is True


def test_production_without_secrets_names_them(url):
    env = {**os.environ, "NIANGJIA_DATABASE_URL": url, "NIANGJIA_ENV": "production"}
    env.pop("NIANGJIA_SECRET_KEY", None)
    done = subprocess.run([sys.executable, "-m", "handlers", "tickets"], capture_output=True, text=True, env=env)
    assert done.returncode != 0
    assert "NIANGJIA_SECRET_KEY" in done.stderr and "Traceback" not in done.stderr


def test_lexicon_apply_validates_names_the_line_and_records_the_change(url, tmp_path):
    niangjia("init-db", database_url=url)
    niangjia("create-user", "wang", "--role", "supervisor", "--region", "ROOT", database_url=url, stdin="a-long-password\n")
    exported = tmp_path / "lexicon.yaml"
    assert niangjia("lexicon", "export", str(exported), database_url=url).returncode == 0
    text = exported.read_text(encoding="utf-8")

    broken = tmp_path / "broken.yaml"
    broken.write_text(text.replace("相亲: 3.0,", "相亲: lots,", 1), encoding="utf-8")
    refused = niangjia("lexicon", "apply", str(broken), "--by", "wang", database_url=url)
    assert refused.returncode != 0 and "line" in refused.stderr and "Traceback" not in refused.stderr

    exported.write_text(text.replace("相亲: 3.0,", "相亲: 3.0, 鹊桥会: 4.0,", 1), encoding="utf-8")
    nobody = niangjia("lexicon", "apply", str(exported), "--by", "zhang", database_url=url)
    assert nobody.returncode == 1 and "no staff user zhang" in nobody.stderr and "Traceback" not in nobody.stderr
    applied = niangjia("lexicon", "apply", str(exported), "--by", "wang", "--note", "七夕", database_url=url)
    assert applied.returncode == 0, applied.stderr
    assert "added: 鹊桥会" in applied.stdout
    history = niangjia("lexicon", "history", database_url=url)
    assert "wang" in history.stdout and "七夕" in history.stdout
    tried = niangjia("lexicon", "try", "下个月的鹊桥会在哪里报名", database_url=url)
    assert '"subcategory": "matchmaking"' in tried.stdout


def test_a_database_behind_the_code_gets_an_instruction_not_a_traceback(url):
    # A database left at an older schema (here: before the lexicon's revision
    # history existed), as after updating the code without `niangjia init-db`.
    from sqlalchemy import create_engine, inspect

    import migrations

    engine = create_engine(url)
    try:
        migrations.upgrade(engine, "0004")
    finally:
        engine.dispose()
    for args in (("lexicon", "words"), ("lexicon", "history"), ("tickets",)):
        done = niangjia(*args, database_url=url)
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert "niangjia init-db" in done.stderr and "0004" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    # Routing needs no database, so it still answers.
    assert niangjia("classify", database_url=url, stdin="他打我\n").returncode == 0
    # And after init-db the same command works.
    assert niangjia("init-db", database_url=url).returncode == 0
    assert niangjia("lexicon", "history", database_url=url).returncode == 0
    engine = create_engine(url)
    try:
        assert "lexicon_revision" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_regions_notify_sets_a_regions_robot_and_chat_and_sweep_runs_once(url):
    assert niangjia("init-db", database_url=url).returncode == 0
    bad = niangjia("regions", "notify", "NO-SUCH", "--wecom", "qyapi.weixin.qq.com", database_url=url)
    assert bad.returncode != 0 and "--wecom" in bad.stderr
    unknown = niangjia("regions", "notify", "NO-SUCH", "--telegram", "-100", database_url=url)
    assert unknown.returncode != 0 and "NO-SUCH" in unknown.stderr
    from models import Database, Region

    db = Database(url)
    with db.session() as session:
        code = Region.root(session).code
    db.dispose()
    done = niangjia("regions", "notify", code, "--wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k",
                    "--telegram", "-1001234567890", database_url=url)
    assert done.returncode == 0, done.stderr
    assert "wecom set" in done.stdout and "-1001234567890" in done.stdout
    swept = niangjia("sweep", database_url=url)
    assert swept.returncode == 0, swept.stderr
    assert set(json.loads(swept.stdout)) >= {"looked", "reminded", "escalated", "alerted"}


def test_retention_counts_on_a_dry_run_then_anonymises(url):
    from datetime import timedelta

    from sqlalchemy import select

    from models import Database, Message, ReviewSample, Ticket, utcnow

    assert niangjia("init-db", database_url=url).returncode == 0
    assert niangjia("demo-data", database_url=url).returncode == 0
    db = Database(url)
    try:
        with db.transaction() as session:
            ticket = session.scalars(select(Ticket).order_by(Ticket.id)).first()
            ticket.status, ticket.closed_at, ticket.contact_phone = "closed", utcnow() - timedelta(days=400), "13812345678"
            reference = ticket.reference
            # Her words sampled for review a year and more ago go too (models/review.py).
            ReviewSample.take(session.connection(), None, ticket.region_id, "你好", "other", None, False, 0.4,
                              utcnow() - timedelta(days=400))
        refused = niangjia("retention", "--older-than", "0", database_url=url)
        assert refused.returncode == 2 and "older-than" in refused.stderr
        dry = niangjia("retention", "--older-than", "365", "--dry-run", database_url=url)
        assert dry.returncode == 0, dry.stderr
        assert "would anonymise 1 tickets" in dry.stdout
        with db.session() as session:
            assert Ticket.by_reference(session, reference).contact_phone == "13812345678"
        done = niangjia("retention", "--older-than", "365", database_url=url)
        assert done.returncode == 0 and "anonymised 1 tickets" in done.stdout
        assert "1 samples for review removed" in done.stdout
        with db.session() as session:
            ticket = Ticket.by_reference(session, reference)
            assert ticket.contact_phone is None and ticket.anonymised_at is not None
            assert all(m.text == "" for m in session.scalars(select(Message).where(Message.ticket_id == ticket.id)))
    finally:
        db.dispose()


def test_tickets_prints_china_time_as_the_pages_do(db, database_url):
    from datetime import datetime, timezone

    from tests.handlers.staff.factories import make_ticket

    reference = make_ticket(db, now=datetime(2026, 12, 6, 20, 30, tzinfo=timezone.utc))
    listed = niangjia("tickets", database_url=database_url)
    assert listed.returncode == 0, listed.stderr
    line = next(line for line in listed.stdout.splitlines() if line.startswith(reference))
    assert "2026-12-07T04:30:00+08:00" in line
    as_json = json.loads(niangjia("tickets", "--json", database_url=database_url).stdout)
    assert as_json[0]["created"] == "2026-12-07T04:30:00+08:00"
