"""Prepared statements: the same rows, values and errors as through Connection.execute."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from models.message import InboundReceipt, Message
from models.prepared import Prepared

RECEIPTS = InboundReceipt.__table__
MESSAGES = Message.__table__
AT = datetime(2026, 12, 7, 4, 0, 0, 120_000, tzinfo=timezone.utc)


def _receipt(**values):
    return {"channel": "wechat", "dedup_key": "m-1", "reply": "", "created_at": AT, **values}


def test_rows_written_prepared_read_back_as_the_ones_written_through_core(db):
    with db.engine.begin() as connection:
        Prepared(insert(RECEIPTS)).rows(connection, _receipt(dedup_key="prepared"))
        connection.execute(insert(RECEIPTS), _receipt(dedup_key="core"))
    with db.engine.begin() as connection:
        # The stored values themselves (SQLite keeps timestamps as text) are the same.
        through_core = connection.execute(
            select(RECEIPTS.c.dedup_key, RECEIPTS.c.created_at.cast(RECEIPTS.c.reply.type))
            .order_by(RECEIPTS.c.dedup_key)
        ).all()
        read = Prepared(
            select(RECEIPTS.c.dedup_key, RECEIPTS.c.created_at).where(RECEIPTS.c.dedup_key == bindparam("key"))
        )
        prepared_row = read.first(connection, {"key": "prepared"})
    assert through_core[0][1] == through_core[1][1]
    assert prepared_row == ("prepared", AT)
    assert prepared_row[1].tzinfo is not None


def test_a_duplicate_key_raises_sqlalchemys_integrity_error_and_the_transaction_still_rolls_back(db):
    claim = Prepared(insert(RECEIPTS).returning(RECEIPTS.c.id))
    with db.engine.begin() as connection:
        assert claim.scalar(connection, _receipt()) is not None
    with pytest.raises(IntegrityError):
        with db.engine.begin() as connection:
            claim.scalar(connection, _receipt(dedup_key="m-2"))
            claim.scalar(connection, _receipt())
    with db.engine.begin() as connection:
        keys = connection.execute(select(RECEIPTS.c.dedup_key)).scalars().all()
    assert keys == ["m-1"]


def test_the_columns_python_defaults_are_applied_per_row(db):
    with db.engine.begin() as connection:
        Prepared(insert(MESSAGES)).many(connection, [
            {"ticket_id": None, "channel": "wechat", "channel_user": "o-1", "direction": "in", "text": text}
            for text in ("一", "二")
        ])
    with db.engine.begin() as connection:
        rows = connection.execute(
            select(MESSAGES.c.text, MESSAGES.c.kind, MESSAGES.c.media_attempts, MESSAGES.c.created_at)
            .order_by(MESSAGES.c.id)
        ).all()
    assert [(row.text, row.kind, row.media_attempts) for row in rows] == [("一", "text", 0), ("二", "text", 0)]
    assert all(row.created_at is not None for row in rows)


def test_an_update_sets_only_the_named_columns(db):
    with db.engine.begin() as connection:
        receipt_id = Prepared(insert(RECEIPTS).returning(RECEIPTS.c.id)).scalar(connection, _receipt())
        answer = Prepared(update(RECEIPTS).where(RECEIPTS.c.id == bindparam("row_id")))
        answer.rows(connection, {"row_id": receipt_id, "reply": "收到"})
    with db.engine.begin() as connection:
        row = connection.execute(select(RECEIPTS.c.reply, RECEIPTS.c.created_at)).one()
    assert row == ("收到", AT)


def test_outside_a_transaction_it_takes_the_ordinary_path_which_begins_one(db):
    with db.engine.connect() as connection:
        Prepared(insert(RECEIPTS)).rows(connection, _receipt())
        connection.commit()
    with db.engine.begin() as connection:
        assert connection.execute(select(RECEIPTS.c.dedup_key)).scalars().all() == ["m-1"]
