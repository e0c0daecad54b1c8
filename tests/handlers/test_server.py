"""What `niangjia serve` does in gunicorn's master before it forks the workers."""

from __future__ import annotations

import gc

from handlers.server import preload


def test_preload_puts_the_loaded_app_beyond_the_garbage_collectors_reach(app):
    # A full collection in a worker would walk everything loaded here again, with the
    # GIL held: the webhook's worst pauses. Frozen objects are in no generation.
    try:
        preload(app)
        runtime = app.extensions["niangjia"]
        tracked = gc.get_objects()
        assert not any(o is runtime.router or o is runtime for o in tracked)
    finally:
        gc.unfreeze()
