"""The engine tests' woman: `her` chats straight into `Intake.receive` (tests/bot/her.py)."""

from __future__ import annotations

import pytest

from bot.intake import Intake
from tests.bot.her import Her


@pytest.fixture
def her(db, settings, router) -> Her:
    return Her(db, Intake(router, settings))
