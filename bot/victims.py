"""Who is hurt: violence against a child more than against her goes where
children are helped; his threat to kill them all is his violence, her own
intent to die is hers."""

from __future__ import annotations

import re
from functools import lru_cache

from .lexicon import VictimRule
from .reading import READING
from .stages import Analysis

# The words and patterns (bot/data/reading.yaml) under the names this module reads.
_R = READING
_P = READING.patterns
_THIRD_PERSON = _R.third_person
_ADULT_AGE = _R.adult_age
_CN_DIGITS = _R.numerals
_TEN = _R.ten
_CHILD_AGE_RE = _P.child_age
_SELF_AGE_RE = _P.self_age
_SELF_SCHOOL_RE = _P.self_school
_OTHER_AGE_RE = _P.other_age
_AGE_OF_CHILD_RE = _P.age_of_child
_GROWN_CHILD_RE = _P.grown_child
_MARRIED_CHILD_RE = _P.married_child
_OBSERVER_VERBS = _R.observer_verbs
_FEAR_WORDS = _R.fear_words
_WITNESS_VERBS = _R.witness_verbs
_WITNESS_REACH = _R.witness_reach
_AGENT_ACTS = _R.agent_acts
_THREAT_BY_HIM_RE = _P.threat_by_him
# Her own intent, said by her: then it stays with counselling.
OWN_INTENT_RE = _P.own_intent
_PARENT_HITS_RE = _P.parent_hits
_OLD_PARENT_RE = _P.old_parent
_GRANDCHILDREN = _R.grandchildren
_OCCASION_RE = _P.occasion
_OCCASION_HINTS = _R.occasion_hints
_ALWAYS_YOUNG = _R.always_young
_CHILD_AGENT_RE = _P.child_agent


def threat_by_him(text: str) -> bool:
    """True if the self-harm words are his threat against her, not her intent."""
    return _THREAT_BY_HIM_RE.search(text) is not None and OWN_INTENT_RE.search(text) is None


def _stated_age(text: str, pattern: re.Pattern) -> int:
    """The first age ``pattern`` finds in ``text`` (Arabic or Chinese numerals), 0 if none."""
    m = pattern.search(text)
    if m is None:
        return 0
    raw = next(g for g in m.groups() if g)
    if raw.isdigit():
        return int(raw)
    if _TEN in raw:
        tens, _, ones = raw.partition(_TEN)
        return _CN_DIGITS.get(tens, 1) * 10 + _CN_DIGITS.get(ones, 0)
    return _CN_DIGITS.get(raw, 0)


def in_clause(a: Analysis, clause: int, words: frozenset[str]) -> bool:
    """True if the clause, the two before it or the one after hold one of
    ``words`` (inside a token too: 狗 in 小狗): "我家狗丢了，白色泰迪，在小区附近
    走丢的", "救命啊，明天就要交材料了"."""
    if len(a.clause_of) != len(a.tokens):
        return any(w in "".join(a.tokens) for w in words)
    text = "".join(t for t, c in zip(a.tokens, a.clause_of, strict=True) if clause - 2 <= c <= clause + 1)
    return any(w in text for w in words)


def _adult_agent(text: str, adults: frozenset[str]) -> bool:
    """True if every grown-up named in the clause is the one acting
    ("妈妈拿烧红的铁勺烫的", "他妈天天打她"), so none of them is its victim."""
    found = False
    for w in adults:
        i = text.find(w)
        while i >= 0:
            rest = text[i + len(w): i + len(w) + 4]
            if not rest.startswith(_AGENT_ACTS) and not rest.startswith(_R.agent_partner):
                return False
            found = True
            i = text.find(w, i + 1)
    return found


def _mentions_self(text: str, selves: tuple[str, ...], possessed: frozenset[str],
                   observers: tuple[str, ...] = _OBSERVER_VERBS + _FEAR_WORDS) -> bool:
    """True if she is in the clause as a person ("打我", "我和孩子"), not only
    as an owner ("我老公", "我女儿"), as the one who sees or helps
    ("我帮她卷袖子", "我看他腿上…", "我在楼下看到…") or who is frightened
    ("我吓坏了"). ``selves`` longest first."""
    pattern, owned, longest = _self_scan(selves, possessed)
    for m in pattern.finditer(text):
        end = m.end()
        rest = text[end: end + longest]
        if (not rest.startswith(owned) and not rest.startswith(observers)
                and not any(v in text[end: end + _WITNESS_REACH] for v in _WITNESS_VERBS)):
            return True
    return False


@lru_cache(maxsize=16)
def _any_of(words: frozenset[str]) -> re.Pattern:
    """One pattern that finds any of ``words`` (a frozenset hashes once)."""
    return re.compile("|".join(map(re.escape, sorted(words, key=len, reverse=True))) or "(?!)")


@lru_cache(maxsize=8)
def _self_scan(selves: tuple[str, ...], possessed: frozenset[str]) -> tuple[re.Pattern, tuple[str, ...], int]:
    """The self words as one pattern (longest first), the owned words as a
    tuple for str.startswith, and the longest owned word's length."""
    pattern = re.compile("|".join(map(re.escape, selves)) or "(?!)")
    return pattern, tuple(possessed), max((len(w) for w in possessed), default=0)



def victim_kind(rule: VictimRule | None, kind: str, by_kind: dict[str, float],
                 clause_eff: dict[tuple[str, int], float], a: Analysis,
                 passive: frozenset[str]) -> str:
    """Violence against a child and not against her goes where children are helped.

    Each clause with danger in it counts for her if she is in it as a
    person ("打我", "俺和娃") and for a child if it names one; a bare
    passive ("被他扇得…") or pronoun ("她很害怕") is about whoever the
    message last named, her if nobody. The larger side wins, a tie goes to
    her. With no one named in those clauses, she decides if she tells it
    as one who is there ("我带着娃在卧室里"), else a child named anywhere
    in the message does. A married daughter or son is a grown-up.
    """
    if rule is None or kind not in (rule.from_kind, rule.to_kind):
        return kind
    if rule.from_kind not in by_kind and rule.to_kind not in by_kind:
        return kind
    ends = (rule.from_kind, rule.to_kind)
    per_clause: dict[int, float] = {}
    for (k, c), eff in clause_eff.items():
        if k in ends:
            per_clause[c] = per_clause.get(c, 0.0) + eff
    texts: dict[int, list[str]] = {}
    for tok, c in zip(a.tokens, a.clause_of, strict=True):
        texts.setdefault(c, []).append(tok)
    selves = tuple(sorted(rule.self_words, key=len, reverse=True))
    whole = "".join(a.tokens)
    # "我女儿今年二十六": the child she names is grown up. "我14岁": she
    # who writes is a child, so what happens to her happens to a child.
    said = a.text or whole
    child_age = _stated_age(said, _CHILD_AGE_RE)
    minor = 0 < _stated_age(said, _SELF_AGE_RE) < _ADULT_AGE or _SELF_SCHOOL_RE.search(said) is not None
    # "她才13岁", "堂妹才十四", "一名三岁男孩": the one she tells of is a child.
    other_age = _stated_age(said, _OTHER_AGE_RE) or _stated_age(said, _AGE_OF_CHILD_RE)
    other_minor = 0 < other_age < _ADULT_AGE
    # (A grown son named beside a little girl leaves her a child: "房东的儿子
    # 二十多岁，老叫…小女孩去他屋".)
    grown_by_age = child_age >= _ADULT_AGE and not any(w in said for w in _ALWAYS_YOUNG)
    # "我婆婆八十多了，小儿子…": an old mother's sons and daughters are grown.
    old_parent = _OLD_PARENT_RE.search(said) is not None and not any(
        w in said for w in (*_ALWAYS_YOUNG, *_GRANDCHILDREN))
    grown = grown_by_age or old_parent or _MARRIED_CHILD_RE.search(said) is not None or (
        not 0 < child_age < _ADULT_AGE and not minor and not other_minor and _GROWN_CHILD_RE.search(said) is not None)
    her = child = adult = unnamed = nobody = 0.0
    present = False  # she is in the story as a person somewhere ("我带着娃躲在卧室")
    last = None  # who the story was last about: a bare passive is about them
    for c in sorted(texts):
        toks = texts[c]
        text = "".join(toks)
        # A child who does the harm ("她儿子把她锁在…") is not its victim.
        # (A child's party is where it happened, not who was hurt: "在外甥满月酒上".)
        named = _OCCASION_RE.sub("", text) if any(h in text for h in _OCCASION_HINTS) else text
        is_child = (not grown and _any_of(rule.child_words).search(named) is not None
                    and not _CHILD_AGENT_RE.search(text)
                    ) or _PARENT_HITS_RE.search(text) is not None
        is_her = _mentions_self(text, selves, rule.possessed_words)
        # (she is there even when frightened: "我带着娃躲着，好害怕")
        present = present or is_her or _mentions_self(text, selves, rule.possessed_words, _OBSERVER_VERBS)
        # Nor is a grown-up who does it ("妈妈拿烧红的铁勺烫的").
        is_adult = (not is_her and not is_child and _any_of(rule.adult_words).search(text) is not None
                    and not _adult_agent(text, rule.adult_words))
        eff = per_clause.get(c, 0.0)
        if eff:
            if is_her:
                her += eff
            if is_child:
                child += eff
            if is_adult:
                adult += eff
            elif not is_her and not is_child and any(t in passive or t in _THIRD_PERSON for t in toks):
                if last == "child":
                    child += eff
                elif last == "adult":
                    adult += eff
                else:
                    unnamed += eff
            elif not is_her and not is_child:
                nobody += eff  # "屋里没吃的，门从外面锁着": nobody named
        if is_child and not is_her:
            last = "child"
        elif is_her:
            last = "her"
        elif is_adult:
            last = "adult"
    if minor and not adult:
        child, her = child + her + unnamed, 0.0  # she is the child (unless she tells of a grown-up hurt)
    elif other_minor:
        # A child she tells of by age: danger in a clause that names nobody
        # is the child's too ("两个孩子，大的六岁…门从外面锁着").
        child, adult = child + adult + unnamed + nobody, 0.0
    else:
        her += unnamed
    her += adult
    if child > her:
        return rule.to_kind
    if her > 0.0 or grown:
        # (Even when only a child's word was used of her: "拿烟头烫我胳膊".)
        return rule.from_kind
    if present and not minor and not other_minor and child == 0.0:
        # Nobody named where the danger is, and she tells it as one who is
        # there ("他拿着菜刀在客厅转，我带着娃在卧室里"): violence in her
        # home, with the children beside her, is hers to report.
        return rule.from_kind if rule.from_kind in by_kind else kind
    # (A child who does the harm, or is brought along by the one who does,
    # is no victim named elsewhere: "带着他俩儿子来砸门".)
    if minor or other_minor or _any_of(rule.child_words).search(_CHILD_AGENT_RE.sub("", whole)) is not None:
        return rule.to_kind
    return kind
