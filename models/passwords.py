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
    """A password the policy refuses; str() is for the command line, `chinese` for pages."""

    def __init__(self, english: str, chinese: str) -> None:
        super().__init__(english)
        self.chinese = chinese


def check_strength(password: str, username: str, display_name: str = "") -> None:
    """Raise WeakPassword unless `password` may protect the account `username`."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"password must have at least {MIN_LENGTH} characters", f"密码至少需要 {MIN_LENGTH} 个字符")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"password must have at most {MAX_LENGTH} characters", f"密码最多 {MAX_LENGTH} 个字符")
    folded = password.casefold()
    for name in (username, display_name):
        name = name.strip().casefold()
        if len(name) >= 3 and (name in folded or folded in name):
            raise WeakPassword("password must not contain the username or name", "密码不能包含用户名或姓名")
    result = zxcvbn(password[:_SCORED_PREFIX], user_inputs=[username, display_name])
    if result["score"] < MIN_SCORE:
        hint = result["feedback"].get("warning") or "add another word or two"
        raise WeakPassword(
            f"password too easy to guess ({hint.rstrip('.')}): use a longer, less common phrase",
            "密码太容易被猜到（如常见密码、键盘序列、日期或重复字符），请用更长、更少见的词组合",
        )
