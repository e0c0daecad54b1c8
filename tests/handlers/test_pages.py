"""The public pages: the front page says only what exists in this environment."""

from __future__ import annotations


def test_the_home_page_links_to_the_simulator_outside_production(client):
    html = client.get("/").get_data(as_text=True)
    assert 'href="/simulator"' in html and 'href="/staff/"' in html


def test_the_home_page_has_no_simulator_link_in_production(app, client):
    app.extensions["niangjia"].settings.env = "production"
    html = client.get("/").get_data(as_text=True)
    assert "/simulator" not in html and "模拟器" not in html and 'href="/staff/"' in html
