"""What a staff password must be: long enough, not easily guessed, never the username."""

from __future__ import annotations

from zxcvbn import zxcvbn

MIN_LENGTH = 10
MAX_LENGTH = 200
# zxcvbn's 0-4 scale: 3 is "safely unguessable: moderate protection from offline attacks".
MIN_SCORE = 3
# zxcvbn's matching grows with the length; the first characters decide the score anyway.
_SCORED_PREFIX = 100


class WeakPassword(ValueError):
    """A password the policy refuses: str() is for the command line; `code` and `params` for
    the pages, which word it themselves (bot/accounts.py)."""

    def __init__(self, english: str, code: str, **params: int) -> None:
        super().__init__(english)
        self.code = code
        self.params = params


def check_strength(password: str, username: str, display_name: str = "") -> None:
    """Raise WeakPassword unless `password` may protect the account `username`."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"password must have at least {MIN_LENGTH} characters", "too_short", limit=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"password must have at most {MAX_LENGTH} characters", "too_long", limit=MAX_LENGTH)
    folded = password.casefold()
    for name in (username, display_name):
        name = name.strip().casefold()
        if len(name) >= 3 and (name in folded or folded in name):
            raise WeakPassword("password must not contain the username or name", "contains_name")
    result = zxcvbn(password[:_SCORED_PREFIX], user_inputs=[username, display_name])
    if result["score"] < MIN_SCORE:
        hint = result["feedback"].get("warning") or "add another word or two"
        raise WeakPassword(
            f"password too easy to guess ({hint.rstrip('.')}): use a longer, less common phrase",
            "guessable",
        )
