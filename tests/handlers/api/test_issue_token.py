"""`niangjia issue-token NAME`: run as a person would, then used against the API."""

from __future__ import annotations

from tests.handlers.staff.factories import make_staff
from tests.handlers.test_cli import niangjia


def test_issue_token_prints_a_token_that_the_api_accepts(database_url, db, client):
    make_staff(db, "li", display_name="李姐")
    done = niangjia("issue-token", "li", "--label", "手机", database_url=database_url)
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert token.startswith("nj_") and "\n" not in token
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json["display_name"] == "李姐"


def test_issue_token_for_an_unknown_user_fails(database_url, db):
    done = niangjia("issue-token", "nobody", database_url=database_url)
    assert done.returncode != 0 and "nobody" in done.stderr
