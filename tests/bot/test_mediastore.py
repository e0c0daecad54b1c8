"""Her media in an S3-compatible store (media.store: s3), against a real S3-speaking server
on 127.0.0.1 (moto's server mode): kept by the worker, shown on the ticket page with the
view recorded, deleted by retention; nothing written to disk."""

from __future__ import annotations

import socket
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.intake import Intake
from bot.media import MediaKeeper
from bot.mediastore import media_store
from models import Message, Ticket, TicketEvent, utcnow
from models.retention import anonymise
from tests.bot.test_dialogue import GRIEVANCE, Her
from tests.bot.test_media import JPEG, VOICE_AMR
from tests.handlers.staff.factories import login, make_staff

BUCKET = "niangjia-media"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def s3(settings):
    """A moto S3 server on 127.0.0.1 with an empty bucket; the settings pointed at it."""
    boto3 = pytest.importorskip("boto3")
    server_module = pytest.importorskip("moto.server")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    media = settings.media
    media.store, media.s3_endpoint, media.s3_bucket = "s3", endpoint, BUCKET
    media.s3_access_key, media.s3_secret_key = "test-access-key", "test-secret-key"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="test-access-key", aws_secret_access_key="test-secret-key")
    client.create_bucket(Bucket=BUCKET)
    yield client
    server.stop()


def objects(client) -> dict[str, bytes]:
    listed = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {o["Key"]: client.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listed}


def test_her_media_go_to_the_s3_store_are_shown_and_removed_by_retention(s3, db, settings, router, fake_apis, app):
    fake_apis.wechat_media.update({"img-s3": ("image/jpeg", JPEG), "voice-s3": ("audio/amr", VOICE_AMR)})
    her = Her(db, Intake(router, settings), now=utcnow())
    her.say(GRIEVANCE)
    her.send("image", media_id="img-s3")
    her.send("voice", media_id="voice-s3", text="我打字慢")
    assert MediaKeeper(db, settings, threading.Lock()).keep_due(her.now) == 2
    with db.session() as session:
        image, voice = session.scalars(select(Message).where(Message.media_state == "stored").order_by(Message.id))
    stored = objects(s3)
    assert set(stored) == {f"media/{image.id}.jpg", f"media/{voice.id}.mp3"}
    assert stored[f"media/{image.id}.jpg"] == JPEG and stored[f"media/{voice.id}.mp3"].startswith(b"ID3")
    assert not settings.media_path.exists()

    make_staff(db, "boss", "supervisor", "T01")
    client = app.test_client()
    login(client, "boss")
    reference = her.ticket().reference
    shown = client.get(f"/staff/tickets/{reference}/media/{image.id}")
    assert shown.status_code == 200 and shown.data == JPEG and shown.mimetype == "image/jpeg"
    with db.session() as session:
        viewed = session.scalars(select(TicketEvent).where(TicketEvent.action == "media_viewed")).all()
    assert [e.detail["message"] for e in viewed] == [image.id]

    with db.transaction() as session:
        ticket = session.get(Ticket, her.ticket().id)
        ticket.status, ticket.closed_at = "closed", her.now
    later = her.now + timedelta(days=400)
    with db.transaction() as session:
        report = anonymise(session, later - timedelta(days=365), later)
    assert media_store(settings).remove(report.media_files) == 2
    assert objects(s3) == {}
    assert client.get(f"/staff/tickets/{reference}/media/{image.id}").status_code == 404


def test_a_store_that_does_not_answer_leaves_the_file_pending_for_the_next_round(s3, db, settings, router, fake_apis):
    fake_apis.wechat_media["img-later"] = ("image/jpeg", JPEG)
    her = Her(db, Intake(router, settings), now=utcnow())
    her.send("image", media_id="img-later")
    settings.media.s3_bucket = "no-such-bucket"
    assert MediaKeeper(db, settings, threading.Lock()).keep_due(her.now) == 0
    with db.session() as session:
        assert session.scalar(select(Message.media_state).where(Message.kind == "image")) == "pending"
    settings.media.s3_bucket = BUCKET
    assert MediaKeeper(db, settings, threading.Lock()).keep_due(her.now) == 1
    assert list(objects(s3).values()) == [JPEG]
