"""Channel adapters: each module turns its platform's requests into `Inbound` messages
and delivers the engine's later messages back.

A channel module defines `CHANNEL`, a `Channel` instance; modules in this package are
found by name, so adding a channel is adding one module here.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from bot.channels.base import Channel, DeliveryError, HttpRequest, HttpResponse, Opened, Refused

__all__ = ["Channel", "DeliveryError", "HttpRequest", "HttpResponse", "Opened", "Refused", "channels", "channel"]


@cache
def channels() -> dict[str, Channel]:
    """Every channel module's `CHANNEL`, by name."""
    found: dict[str, Channel] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        channel = getattr(module, "CHANNEL", None)
        if isinstance(channel, Channel):
            found[channel.name] = channel
    return found


def channel(name: str) -> Channel:
    return channels()[name]
