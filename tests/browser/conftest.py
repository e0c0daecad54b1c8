"""Browser tests: the app on a real port, and Debian's chromium."""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from tests.browser.chromium import launch_chromium


@pytest.fixture
def live_server(app):
    """The app on a real port, in a thread of this process, with the test's database."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def browser():
    with launch_chromium() as browser:
        yield browser
