"""Her images and voice kept from WeChat's media API (the fake on 127.0.0.1) by the worker,
shown to those who may read the ticket, every view recorded, removed by retention."""

from __future__ import annotations

import io
import stat
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.intake import Intake
from bot.media import MediaKeeper
from models import Message, Ticket, TicketEvent, utcnow
from models.retention import anonymise
from tests.bot.her import GRIEVANCE, Her
from tests.handlers.staff.factories import login, make_staff

JPEG = b"\xff\xd8\xff\xe0" + b"her photo of the bruise" * 10
AMR = b"#!AMR\n" + b"\x00" * 64


@pytest.fixture
def her(db, settings, router):
    return Her(db, Intake(router, settings), now=utcnow())


@pytest.fixture
def keeper(db, settings):
    return MediaKeeper(db, settings, threading.Lock())


def line(db, kind: str) -> Message:
    with db.session() as session:
        return session.scalar(select(Message).where(Message.kind == kind))


def test_her_image_and_voice_are_fetched_and_kept_on_disk(her, keeper, fake_apis, settings, db):
    fake_apis.wechat_media.update({"img-1": ("image/jpeg", JPEG), "voice-1": ("audio/amr", AMR)})
    her.say(GRIEVANCE)
    her.send("image", media_id="img-1")
    her.send("voice", media_id="voice-1", text="他昨天又打我了")
    assert line(db, "image").media_state == "pending"
    assert keeper.keep_due(her.now) == 2
    image, voice = line(db, "image"), line(db, "voice")
    assert image.media_state == voice.media_state == "stored"
    assert (image.media_type, image.media_size) == ("image/jpeg", len(JPEG))
    path = settings.media_path / image.media_path
    assert path.read_bytes() == JPEG and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (settings.media_path / voice.media_path).read_bytes() == AMR
    assert keeper.keep_due(her.now) == 0 and fake_apis.media_requests == ["img-1", "voice-1"]


def test_a_file_over_the_cap_is_not_kept(her, keeper, fake_apis, settings, db):
    settings.media.max_bytes = 100
    fake_apis.wechat_media["big"] = ("image/jpeg", JPEG * 10)
    her.send("image", media_id="big")
    keeper.keep_due(her.now)
    assert line(db, "image").media_state == "too_large" and line(db, "image").media_path is None
    assert not settings.media_path.exists() or not any(settings.media_path.iterdir())


def test_a_media_id_wechat_does_not_know_is_given_up_at_once(her, keeper, fake_apis, db):
    her.send("image", media_id="gone")
    keeper.keep_due(her.now)
    keeper.keep_due(her.now)
    assert line(db, "image").media_state == "failed" and fake_apis.media_requests == ["gone"]


def test_past_wechats_three_days_it_is_not_asked_for(her, keeper, fake_apis, db):
    fake_apis.wechat_media["old"] = ("image/jpeg", JPEG)
    her.send("image", media_id="old")
    keeper.keep_due(her.now + timedelta(days=3, minutes=1))
    assert line(db, "image").media_state == "failed" and fake_apis.media_requests == []


def test_the_worker_keeps_media_in_its_round(her, fake_apis, worker, db):
    fake_apis.wechat_media["img-w"] = ("image/png", b"\x89PNG\r\n\x1a\n" + b"x" * 20)
    her.send("image", media_id="img-w")
    assert worker.run_once()["media_kept"] == 1
    assert line(db, "image").media_state == "stored"


def test_staff_who_may_read_see_it_and_every_view_is_recorded(app, her, keeper, fake_apis, db):
    make_staff(db, "li", "caseworker", "T01", "李姐")
    make_staff(db, "neighbour", "caseworker", "T02", "邻县王姐")
    fake_apis.wechat_media["img-s"] = ("image/jpeg", JPEG)
    her.say(GRIEVANCE)
    her.send("image", media_id="img-s")
    keeper.keep_due(her.now)
    ticket, image = her.ticket(), line(db, "image")
    url = f"/staff/tickets/{ticket.reference}/media/{image.id}"
    li = app.test_client()
    login(li, "li")
    page = li.get(f"/staff/tickets/{ticket.reference}").get_data(as_text=True)
    assert url in page
    shown = li.get(url)
    assert shown.status_code == 200 and shown.data == JPEG and shown.mimetype == "image/jpeg"
    assert "no-store" in shown.headers.get("Cache-Control", "")
    with db.session() as session:
        views = session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.action == "media_viewed")
        ).all()
        assert len(views) == 1 and views[0].detail["message"] == image.id
    neighbour = app.test_client()
    login(neighbour, "neighbour")
    assert neighbour.get(url).status_code == 404
    assert li.get(f"/staff/tickets/{ticket.reference}/media/{image.id + 999}").status_code == 404


def test_an_urgent_tickets_media_opens_only_to_those_with_the_need_to_know(app, her, keeper, fake_apis, db):
    make_staff(db, "li", "caseworker", "T01", "李姐")
    fake_apis.wechat_media["img-u"] = ("image/jpeg", JPEG)
    her.say("他喝多了拿着刀在门口，我和孩子躲在卧室里")
    her.send("image", media_id="img-u")
    keeper.keep_due(her.now)
    li = app.test_client()
    login(li, "li")
    assert li.get(f"/staff/tickets/{her.ticket().reference}/media/{line(db, 'image').id}").status_code == 404


def test_retention_removes_her_kept_files(her, keeper, fake_apis, settings, db):
    fake_apis.wechat_media["img-r"] = ("image/jpeg", JPEG)
    her.say(GRIEVANCE)
    her.send("image", media_id="img-r")
    keeper.keep_due(her.now)
    path = settings.media_path / line(db, "image").media_path
    with db.transaction() as session:
        ticket = session.get(Ticket, her.ticket().id)
        ticket.status, ticket.closed_at = "closed", her.now
    later = her.now + timedelta(days=400)
    with db.transaction() as session:
        report = anonymise(session, later - timedelta(days=365), later)
    assert report.media_files == [path.name]
    from bot.mediastore import media_store

    assert media_store(settings).remove(report.media_files) == 1 and not path.exists()
    image = line(db, "image")
    assert image.media_state == "removed" and image.media_path is None and image.media_id is None


OGG = b"OggS\x00\x02" + b"\x00" * 80  # Telegram's voice: OGG-Opus (".oga")


def test_her_telegram_photo_file_and_voice_are_fetched_through_the_bot_api(telegram, worker, fake_apis, settings, db):
    from tests.telegram import update

    fake_apis.telegram_files.update({
        "large": ("photos/file_0.jpg", JPEG), "scan": ("documents/file_2.png", b"\x89PNG\r\n\x1a\n" + b"p" * 30),
        "v1": ("voice/file_1.oga", OGG),
    })
    telegram.send_text(46, GRIEVANCE)
    photo = [{"file_id": "small", "width": 90, "height": 90}, {"file_id": "large", "width": 800, "height": 800}]
    telegram.post(update(46, None, photo=photo))
    telegram.post(update(46, None, document={"file_id": "scan", "mime_type": "image/png", "file_name": "验伤.png"}))
    telegram.post(update(46, None, voice={"file_id": "v1", "duration": 3, "mime_type": "audio/ogg"}))
    assert worker.run_once()["media_kept"] == 3
    with db.session() as session:
        lines = session.scalars(select(Message).where(Message.kind.in_(("image", "voice"))).order_by(Message.id)).all()
    assert [(m.kind, m.media_state, m.media_type) for m in lines] == [
        ("image", "stored", "image/jpeg"), ("image", "stored", "image/png"), ("voice", "stored", "audio/ogg"),
    ]
    assert (settings.media_path / lines[0].media_path).read_bytes() == JPEG
    assert (settings.media_path / lines[2].media_path).read_bytes() == OGG
    assert all(m.ticket_id == lines[0].ticket_id is not None for m in lines)
    assert fake_apis.telegram_file_requests == ["large", "scan", "v1"]
    assert worker.run_once()["media_kept"] == 0


def test_a_telegram_file_id_the_bot_api_does_not_know_is_given_up_at_once(telegram, worker, fake_apis, db, app):
    from tests.telegram import update

    telegram.send_text(49, GRIEVANCE)
    telegram.post(update(49, None, voice={"file_id": "gone", "duration": 1}))
    worker.run_once()
    worker.run_once()
    assert line(db, "voice").media_state == "failed" and fake_apis.telegram_file_requests == ["gone"]
    # The caseworker is told a voice came and could not be kept (not a blank line).
    make_staff(db, "boss", "supervisor", "T01")
    client = app.test_client()
    login(client, "boss")
    with db.session() as session:
        reference = session.scalar(select(Ticket.reference).where(Ticket.channel_user == "49"))
    assert "[语音，未能取回]" in client.get(f"/staff/tickets/{reference}").get_data(as_text=True)


def test_a_telegram_file_over_the_cap_is_not_downloaded(telegram, worker, fake_apis, settings, db):
    from tests.telegram import update

    settings.media.max_bytes = 100
    fake_apis.telegram_files["big"] = ("photos/file_9.jpg", JPEG * 10)
    telegram.post(update(50, None, photo=[{"file_id": "big", "width": 800, "height": 800}]))
    worker.run_once()
    assert line(db, "image").media_state == "too_large" and line(db, "image").media_path is None


VOICE_AMR = (Path(__file__).parent.parent / "data" / "voice.amr").read_bytes()  # real AMR-NB, 1.6 s


def _duration(content: bytes) -> float:
    import av

    with av.open(io.BytesIO(content)) as container:
        return sum(frame.samples / frame.sample_rate for frame in container.decode(audio=0))


def _ogg_opus(content: bytes) -> bytes:
    """Her voice as Telegram sends it (OGG-Opus at 48 kHz), made from the AMR fixture."""
    import av

    out = io.BytesIO()
    with av.open(io.BytesIO(content)) as source, av.open(out, mode="w", format="ogg") as target:
        stream = target.add_stream("libopus", rate=48000, layout="mono")
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
        for frame in [*source.decode(audio=0), None]:
            for resampled in resampler.resample(frame):
                target.mux(stream.encode(resampled))
        target.mux(stream.encode(None))
    return out.getvalue()


def test_her_wechat_amr_voice_is_kept_as_mp3_of_the_same_length(her, keeper, fake_apis, settings, db):
    fake_apis.wechat_media["voice-real"] = ("audio/amr", VOICE_AMR)
    her.say(GRIEVANCE)
    her.send("voice", media_id="voice-real", text="我打字慢")
    assert keeper.keep_due(her.now) == 1
    voice = line(db, "voice")
    kept = (settings.media_path / voice.media_path).read_bytes()
    assert (voice.media_type, voice.media_path, voice.media_size) == ("audio/mpeg", f"{voice.id}.mp3", len(kept))
    assert _duration(kept) == pytest.approx(_duration(VOICE_AMR), abs=0.1)


def test_her_telegram_voice_is_kept_as_mp3(telegram, worker, fake_apis, settings, db):
    from tests.telegram import update

    ogg = _ogg_opus(VOICE_AMR)
    fake_apis.telegram_files["v-real"] = ("voice/file_7.oga", ogg)
    telegram.send_text(51, GRIEVANCE)
    telegram.post(update(51, None, voice={"file_id": "v-real", "duration": 2, "mime_type": "audio/ogg"}))
    assert worker.run_once()["media_kept"] == 1
    voice = line(db, "voice")
    assert voice.media_type == "audio/mpeg"
    assert _duration((settings.media_path / voice.media_path).read_bytes()) == pytest.approx(1.6, abs=0.1)
