"""The review page (样本标注): supervisors of the region label the sampled messages; every
showing and label is audited; another county's supervisor finds nothing; a label feeds
`niangjia model train` as a correction does."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.learning import correction_examples
from bot.training import EVALUATION_FILES, TrainSettings
from models import AuditEvent, ReviewSample
from tests.handlers.staff.factories import login, make_staff, post_form
from tests.handlers.test_cli import niangjia
from tests.models.test_review import sample

CORPUS = Path(__file__).resolve().parents[3] / "data" / "corpus"


@pytest.fixture
def samples(db) -> tuple[int, int]:
    """One sample in the county T01's village, one in the neighbouring county T02."""
    with db.transaction() as session:
        ours = sample(session, "T010101", text="你好，想问点事情，电话13812345678")
        theirs = sample(session, "T02", text="请问邻县那边的妇女之家在哪里")
        return ours.id, theirs.id


@pytest.fixture
def boss(db, client):
    make_staff(db, "boss", "supervisor", "T01", "王主任")
    login(client, "boss")
    return client


def audit(db, action: str) -> list[AuditEvent]:
    with db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def state(db, sample_id: int) -> ReviewSample:
    with db.session() as session:
        return session.get(ReviewSample, sample_id)


def test_the_page_lists_her_masked_words_in_the_subtree_and_the_showing_is_audited(db, boss, samples):
    page = boss.get("/staff/review")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "样本标注" in html
    assert "你好，想问点事情，电话［手机号］" in html and "13812345678" not in html
    assert "邻县那边" not in html  # another county's sample
    (shown,) = audit(db, "review.viewed")
    assert shown.detail["samples"] == [samples[0]] and shown.actor_label == "boss"
    assert "no-store" in page.headers["Cache-Control"]


def test_a_label_is_kept_audited_and_takes_the_sample_off_the_list(db, boss, samples):
    ours, _ = samples
    done = post_form(boss, f"/staff/review/{ours}", "/staff/review", decision="label",
                     route="consultation/anti_dv_law", urgent="true")
    assert done.status_code == 303
    kept = state(db, ours)
    assert (kept.category, kept.subcategory, kept.urgent) == ("consultation", "anti_dv_law", True)
    assert kept.labelled_by_id is not None and kept.labelled_at is not None
    (labelled,) = audit(db, "review.labelled")
    assert labelled.detail == {"sample": ours, "category": "consultation", "subcategory": "anti_dv_law", "urgent": True}
    html = boss.get("/staff/review").get_data(as_text=True)
    assert "已保存标注" in html and "没有待标注的样本" in html


def test_not_a_request_is_a_label_too(db, boss, samples):
    ours, _ = samples
    assert post_form(boss, f"/staff/review/{ours}", "/staff/review", decision="not_request",
                     route="mediation/in_law_conflict", urgent="true").status_code == 303
    kept = state(db, ours)
    assert (kept.category, kept.subcategory, kept.urgent) == ("other", None, False)


@pytest.mark.parametrize("form, status, says", [
    ({"decision": "label", "route": ""}, 422, "请选择咨询、调解或服务下的分类"),
    ({"decision": "label", "route": "other/whatever"}, 422, "请选择咨询、调解或服务下的分类"),
    ({"decision": "label", "route": "mediation/no_such_thing"}, 422, "请选择咨询、调解或服务下的分类"),
    ({"decision": "label", "route": "consultation/anti_dv_law", "urgent": "maybe"}, 422, "urgent"),
    ({"decision": "guess"}, 422, "保存标注"),
])
def test_bad_input_is_told_and_changes_nothing(db, boss, samples, form, status, says):
    ours, _ = samples
    answer = post_form(boss, f"/staff/review/{ours}", "/staff/review", **form)
    assert answer.status_code == status and says in answer.get_data(as_text=True)
    assert state(db, ours).labelled_at is None and audit(db, "review.labelled") == []


def test_a_second_label_is_refused_with_409(db, boss, samples):
    ours, _ = samples
    post_form(boss, f"/staff/review/{ours}", "/staff/review", decision="not_request")
    again = post_form(boss, f"/staff/review/{ours}", "/staff/review", decision="label", route="service/employment_training")
    assert again.status_code == 409 and "已经有人标注过" in again.get_data(as_text=True)
    assert state(db, ours).category == "other"


def test_a_supervisor_of_another_county_gets_404(db, client, samples):
    ours, theirs = samples
    make_staff(db, "neighbour", "supervisor", "T02")
    login(client, "neighbour")
    answer = post_form(client, f"/staff/review/{ours}", "/staff/review", decision="not_request")
    assert answer.status_code == 404 and state(db, ours).labelled_at is None
    html = client.get("/staff/review").get_data(as_text=True)
    assert "邻县那边" in html and "想问点事情" not in html
    assert post_form(client, f"/staff/review/{theirs}", "/staff/review", decision="not_request").status_code == 303


def test_a_caseworker_gets_404_and_no_nav_link(db, client, samples):
    make_staff(db, "li", "caseworker", "T01")
    login(client, "li")
    assert client.get("/staff/review").status_code == 404
    assert "样本标注" not in client.get("/staff/").get_data(as_text=True)
    ours, _ = samples
    assert client.post(f"/staff/review/{ours}", data={"decision": "not_request"}).status_code in (400, 404)


def test_a_label_without_the_csrf_token_is_refused(db, boss, samples):
    ours, _ = samples
    answer = boss.post(f"/staff/review/{ours}", data={"decision": "not_request"})
    assert answer.status_code == 400 and state(db, ours).labelled_at is None


def test_the_nav_links_the_page_for_supervisors(boss):
    assert 'href="/staff/review"' in boss.get("/staff/").get_data(as_text=True)


# -- labels feed training ------------------------------------------------------------------

def test_a_label_becomes_a_training_example_weighted_as_a_correction(db, boss, samples):
    ours, _ = samples
    weight = TrainSettings().correction_weight
    with db.session() as session:
        assert correction_examples(session, weight) == []  # unlabelled samples teach nothing
    post_form(boss, f"/staff/review/{ours}", "/staff/review", decision="label", route="service/employment_training")
    with db.session() as session:
        (example,) = correction_examples(session, weight)
    assert (example.text, example.category, example.subcategory, example.urgent) == (
        "你好，想问点事情，电话［手机号］", "service", "employment_training", False)
    assert example.author == "corrections" and example.weight == weight


@pytest.mark.timeout(600)
def test_model_train_counts_the_labelled_samples(db, boss, samples, database_url, tmp_path):
    pytest.importorskip("sklearn")
    ours, _ = samples
    post_form(boss, f"/staff/review/{ours}", "/staff/review", decision="not_request")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("dev", "tune2", *EVALUATION_FILES):
        shutil.copy(CORPUS / f"{name}.jsonl", corpus / f"{name}.jsonl")
    done = niangjia("model", "train", "--corpus", str(corpus), "--folds", "2", "--out", str(tmp_path / "m.json"),
                    database_url=database_url)
    assert done.returncode == 0, done.stderr
    assert "and 1 corrections" in done.stdout
