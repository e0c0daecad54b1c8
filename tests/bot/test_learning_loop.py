"""The learning loop end to end: caseworkers correct thirty tickets that use a phrasing the
running model misroutes; `niangjia model train` and `niangjia model apply` install a model
trained on their corrections; a running process picks it up and routes fresh messages with
that phrasing as they were corrected. Then `model rollback` puts the old model back."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.model import RouteModel
from bot.routing import DEFAULT_LEXICON, DEFAULT_MODEL, DEFAULT_USERDICT, Router
from bot.runtime import Runtime
from bot.training import EVALUATION_FILES, TrainSettings, corpus_examples, train
from models import RouteModelRevision, utcnow
from tests.handlers.staff.factories import make_staff, make_ticket, token_for
from tests.handlers.test_cli import niangjia

pytest.importorskip("sklearn")

CORPUS = Path(__file__).resolve().parents[2] / "data" / "corpus"
# A small corpus keeps the test quick: four authors, and the fixed evaluation files.
AUTHORS = ("dev", "tune2", "fresh5", "fresh6")

# 红丝带: the county's (made-up) name for its matchmaking evenings, unknown to the corpus.
CORRECTED = [
    f"{a}红丝带{b}"
    for a in ("想问问", "请问", "我想报名", "你好，", "听说有个")
    for b in ("什么时候办", "还收人吗", "在哪里报名", "要交钱吗", "能带朋友去吗", "这个月有没有")
]
FRESH = ["红丝带下个月还办吗，我想去看看", "周末的红丝带要提前说一声吗"]


@pytest.fixture
def small_corpus(tmp_path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name in (*AUTHORS, *EVALUATION_FILES):
        shutil.copy(CORPUS / f"{name}.jsonl", folder / f"{name}.jsonl")
    return folder


@pytest.mark.timeout(900)  # two trainings and five processes: a minute on a quiet machine
def test_thirty_corrections_teach_the_router_a_phrasing(client, db, settings, database_url, small_corpus, tmp_path):
    assert len(CORRECTED) == 30
    router = Router.from_files(DEFAULT_LEXICON, DEFAULT_USERDICT, model=None)
    # The model that ships, and the one running here (trained on the small corpus), misroute it.
    shipped = router.with_model(RouteModel.load(DEFAULT_MODEL))
    running, _ = train(corpus_examples(small_corpus), router.lexical, TrainSettings(), menu_threshold=0.5)
    for text in FRESH:
        assert shipped.route(text).subcategory != "matchmaking"
        assert router.with_model(running).route(text).subcategory != "matchmaking"
    make_staff(db, "li", "caseworker", "T01")
    boss = make_staff(db, "boss", "supervisor", "T01")
    with db.transaction() as session:
        session.add(RouteModelRevision(body=running.dumps(), author_id=boss, created_at=utcnow(), figures={}))
    runtime = Runtime(settings, router=router, db=db)
    assert runtime.refresh_lexicon() and runtime.router.model is not None

    headers = {"Authorization": f"Bearer {token_for(db, 'li')}"}
    for n, text in enumerate(CORRECTED):
        reference = make_ticket(db, category="consultation", user=f"o-{n}", text=text)
        client.post(f"/api/v1/tickets/{reference}/claim", headers=headers)
        done = client.post(f"/api/v1/tickets/{reference}/route", headers=headers,
                           json={"category": "service", "subcategory": "matchmaking"})
        assert done.status_code == 200, done.json

    out = tmp_path / "taught.json"
    trained = niangjia("model", "train", "--corpus", str(small_corpus), "--out", str(out), database_url=database_url)
    assert trained.returncode == 0, trained.stderr
    assert "30 corrections" in trained.stdout and out.is_file()
    applied = niangjia("model", "apply", str(out), "--by", "boss", "--corpus", str(small_corpus),
                       database_url=database_url)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "installed" in applied.stdout

    assert runtime.refresh_lexicon()  # what the worker does every few seconds
    for text in FRESH:
        route = runtime.router.route(text)
        assert (route.category, route.subcategory) == ("service", "matchmaking"), route.explanation

    history = niangjia("model", "history", database_url=database_url)
    assert history.returncode == 0 and "in force" in history.stdout
    rolled = niangjia("model", "rollback", "--by", "boss", database_url=database_url)
    assert rolled.returncode == 0, rolled.stderr
    assert runtime.refresh_lexicon()
    assert runtime.router.route(FRESH[0]).subcategory != "matchmaking"


@pytest.mark.timeout(600)
def test_apply_refuses_a_model_that_misses_more_danger_and_says_why(db, database_url, small_corpus, tmp_path):
    make_staff(db, "boss", "supervisor", "T01")
    router = Router.from_files(DEFAULT_LEXICON, DEFAULT_USERDICT, model=None)
    model, _ = train(corpus_examples(small_corpus), router.lexical, TrainSettings(), menu_threshold=0.5)
    # Its danger never reaches its bar: only the lexicon's rule raises the alarm.
    model.settings["danger_threshold"] = 1.01
    path = tmp_path / "blind.json"
    model.save(path)
    refused = niangjia("model", "apply", str(path), "--by", "boss", "--corpus", str(small_corpus),
                       database_url=database_url)
    assert refused.returncode != 0
    assert "urgent recall would fall" in refused.stderr and "Traceback" not in refused.stderr
    with db.session() as session:
        assert RouteModelRevision.in_force_id(session) is None
