"""Ten caseworkers press "claim" on the same ticket at the same moment, each on its own
process through the API: one 200, nine 409 "已被 X 认领" (SQLite, or PostgreSQL in CI)."""

from __future__ import annotations

import multiprocessing

from tests.forked import collect, in_child
from tests.handlers.staff.factories import make_staff, make_ticket, ticket_state, token_for

CLAIMERS = 10


@in_child
def _claim(app, reference, token, barrier, results):
    client = app.test_client()
    barrier.wait(timeout=60)
    response = client.post(f"/api/v1/tickets/{reference}/claim", headers={"Authorization": f"Bearer {token}"})
    results.put((response.status_code, response.get_json()))


def test_ten_simultaneous_claims_one_200_nine_409_naming_the_winner(db, app):
    tokens = {}
    for n in range(CLAIMERS):
        make_staff(db, f"w{n}", display_name=f"网格员{n}")
        tokens[f"w{n}"] = token_for(db, f"w{n}")
    reference = make_ticket(db)
    db.dispose()
    app.extensions["niangjia"].db.dispose()

    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(CLAIMERS), context.Queue()
    workers = [
        context.Process(target=_claim, args=(app, reference, token, barrier, results))
        for token in tokens.values()
    ]
    outcomes = collect(workers, results)

    statuses = sorted(status for status, _ in outcomes)
    assert statuses == [200] + [409] * (CLAIMERS - 1), outcomes
    winner = next(body for status, body in outcomes if status == 200)["ticket"]["assignee"]["display_name"]
    assert {body["message"] for status, body in outcomes if status == 409} == {f"已被 {winner} 认领"}
    assert ticket_state(db, reference).assignee.display_name == winner
