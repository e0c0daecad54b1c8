"""Who the danger is done to, word by word: a harm verb with a person as its
object (打我, 把我捆起来, 被他打了) and her at a place to fall from."""

from __future__ import annotations

from .lexicon import EdgeRule, HarmRule
from .reading import READING
from .stages import Match

def object_after(harm: HarmRule, m: Match, tokens: list[str], clause_of: list[int]) -> bool:
    """Does a person follow the verb at ``m`` as its object (打我, 泼了我一身)?"""
    c = m.clause
    n = len(tokens)
    k = m.end
    while k < n and clause_of[k] == c and tokens[k] in harm.particles:
        k += 1
    return k < n and clause_of[k] == c and tokens[k].startswith(harm.objects)


def has_victim(harm: HarmRule, m: Match, tokens: list[str], clause_of: list[int]) -> bool:
    """Does the harm verb at ``m`` have a person as its object?

    打我 / 泼了我一身 (the object follows), 我被他打了 / 挨打 (passive before
    the verb), 把我捆起来 (disposal: 把 + person before the verb). A "now"
    word just before it counts too: 他又开始打了, 正在打.
    """
    c = m.clause
    if object_after(harm, m, tokens, clause_of):
        return True
    k = m.start - 1
    lowest = m.start - harm.reach
    while k >= 0 and k >= lowest and clause_of[k] == c:
        tok = tokens[k]
        if tok in harm.passive:
            return True
        if tok in harm.now and (m.start - k == 1 or (m.start - k == 2 and tok != _AT)):
            return True  # 又打, 正在打, 又开始打: happening again, now (not 在学校打)
        if tok in harm.disposal and k + 1 < m.start and tokens[k + 1].startswith(harm.objects):
            return True
        k -= 1
    # 把 + person further back in the clause: "把我的头往墙上撞".
    k = lowest
    while k >= 0 and clause_of[k] == c:
        if tokens[k] in harm.disposal and k + 1 < m.start and tokens[k + 1].startswith(harm.objects):
            return True
        k -= 1
    return False


# 在 is "now" right before a verb (在打) and "at" before a place (在学校打); the
# words that may open her clause before it (bot/data/reading.yaml).
_AT = READING.at
_NO_SUBJECT = READING.no_subject


def she_is_there(edge: EdgeRule, selves: frozenset[str], present: frozenset[str], m: Match,
                  tokens: list[str], clause_of: list[int]) -> bool:
    """Does she say she is at the place at ``m``?

    "我现在在高架桥上", "我站在19楼窗边", "一个人坐在江边" (no subject: her):
    a "be at" word at most ``reach`` words before the place, and before it in
    the clause a self word or nothing but time words. "他站在楼顶" is not her,
    and "我在天台晒被子" is an ordinary day.
    """
    c = m.clause
    start = m.start
    while start > 0 and clause_of[start - 1] == c:
        start -= 1
    end = m.end
    while end < len(tokens) and clause_of[end] == c:
        end += 1
    clause = "".join(tokens[start:end])
    if any(w in clause for w in edge.everyday):
        return False
    k = m.start - 1
    while k >= start and k >= m.start - edge.reach:
        if tokens[k] in edge.at:
            before = tokens[start:k]
            if any(t in selves for t in before):
                return True
            return all(t in present or t in _NO_SUBJECT or t in edge.at for t in before)
        k -= 1
    return False
