"""Every refusal the models, the engine and the handlers raise has its words on the staff side
(handlers/messages.py; a weak password's in bot/accounts.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.accounts import AccountError, _password
from handlers.messages import ACTION_VERBS, MESSAGES, error_message
from models.ticket import Conflict, InvalidInput

ROOT = Path(__file__).resolve().parents[2]
RAISED = re.compile(r'\b(?:InvalidInput|Conflict)\(\s*"(\w+)"(?:\s+if\s+[^\n]*?\s+else\s+"(\w+)")?')


def _sources(*packages: str) -> list[Path]:
    return [path for package in packages for path in (ROOT / package).rglob("*.py")]


def test_every_raised_code_has_words():
    raised = {code for path in _sources("models", "bot", "handlers")
              for match in RAISED.finditer(path.read_text(encoding="utf-8")) for code in match.groups() if code}
    assert len(raised) > 60  # the pattern still finds the raises
    assert raised - set(MESSAGES) == set()


def test_every_refused_transition_is_named():
    ticket = (ROOT / "models" / "ticket.py").read_text(encoding="utf-8")
    assert set(re.findall(r'self\._changed\("(\w+)"\)', ticket)) <= set(ACTION_VERBS)


@pytest.mark.parametrize("password, words", [
    ("short", "密码至少需要 10 个字符"),
    ("x" * 201, "密码最多 200 个字符"),
    ("lixiaohong and more words", "密码不能包含用户名或姓名"),
    ("1234567890", "密码太容易被猜到（如常见密码、键盘序列、日期或重复字符），请用更长、更少见的词组合"),
])
def test_a_weak_password_is_refused_in_the_pages_words(password, words):
    with pytest.raises(AccountError) as refused:
        _password(password, "lixiaohong", "李晓红")
    assert refused.value.chinese == words


def test_keys_among_the_parameters_are_worded():
    assert error_message(Conflict("changed", status="resolved", action="reopen")) == \
        "工单当前已办结，待回访，不能重新打开（可能刚被他人处理，请刷新）"
    assert error_message(InvalidInput("choose_outcome", "outcome", outcomes=("agreement", "referred"))) == \
        "请选择办结结果：达成调解协议、已转介"
    assert error_message(InvalidInput("choose_pause_reason", "reason")) == \
        "请选择暂停原因：等待她补充、她要求在安全时间联系"
    assert error_message(InvalidInput("too_long", "note", limit=4000)) == "最多 4000 个字"
