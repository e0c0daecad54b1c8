"""Who is hurt: violence against a child more than against her goes where
children are helped; his threat to kill them all is his violence, her own
intent to die is hers."""

from __future__ import annotations

import re
from functools import lru_cache

from .lexicon import VictimRule
from .stages import Analysis

# Pronouns that point back at whoever the message last named.
_THIRD_PERSON = frozenset(("她",))
_ADULT_AGE = 18
_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_AGE = r"(\d{1,2}|[一二两三四五六七八九]?十[一二三四五六七八九]?|[一二两三四五六七八九])"
# An age said of the child she names: "女儿今年二十六", "儿子都三十了".
_CHILD_AGE_RE = re.compile(r"(?:女儿|儿子|闺女|孩子)(?:今年|都|已经|快|才|刚|[,，])*" + _AGE + r"(?![个块元万斤天年月次分号楼层口])")
# An age she gives of herself: "我14岁", "我才十四", "我今年十三岁"; the young
# leave 岁 out ("我14 继父…", "我今年十五 我爸…"): 10 to 17 (十一 to 十七) that no
# unit follows ("我12点下班", "我15号去" are no age).
_SELF_AGE_RE = re.compile(r"(?:^|[^的])我(?:今年|才|只有|刚|刚满|已经|[,，])*(?:" + _AGE + r"(?:岁|周岁)"
                          r"|(1[0-7]|十[一二三四五六七])(?![\d个块元万斤天年月次分号楼层口点多岁周:：.]))")
# ... or her school year: "我初二", "我才高一", "我读五年级" (not "我是初二学生的家长").
_SELF_SCHOOL_RE = re.compile(r"(?:^|[^的])我(?:今年|才|只有|刚|还|在|是|上|读|正在读|刚上)*"
                             r"(?:初[一二三]|高[一二三]|[一二三四五六]年级|小学生|初中生|高中生|中学生|初中|小学)"
                             r"(?![^。！？!?\n]{0,6}?(?:家长|的妈妈|的爸爸|的孩子|老师))")
# An age said of someone else she tells of: "她才13岁", "堂妹才十四".
# A lone digit needs 岁: "孩子一直在哭" is no age.
_OTHER_AGE_RE = re.compile(r"(?:她|他|堂妹|表妹|妹妹|侄女|外甥女|孙女|同学|学生|孩子|男孩|女孩|小孩|娃|妹|弟弟|弟|大的|小的)"
                           r"(?:今年|才|只有|刚|刚满|都|[,，])*"
                           r"(?:(\d{1,2}|[一二两三四五六七八九]?十[一二三四五六七八九]?)(?:岁|周岁)?"
                           r"|([一二两三四五六七八九])[一二两三四五六七八九]?(?:岁|周岁))(?![个块元万斤天年月次分号楼层口点多])")
# ... or before the child named, with 岁: "一名三岁男孩", "一个六岁的小女孩".
_AGE_OF_CHILD_RE = re.compile(r"(\d{1,2}|[一二两三四五六七八九]?十[一二三四五六七八九]?|[一二两三四五六七八九])(?:岁|周岁)(?:半)?的?"
                              r"(?:小男孩|小女孩|男孩|女孩|孩子|小孩|娃|宝宝|男童|女童|儿童|小姑娘|女儿|儿子|闺女)")
# A daughter or son told of at work, at university or with a partner of her
# own is a grown-up too (unless an age under 18 is said): "女儿在深圳上班，
# 男朋友在打她"; so is a girl who works nights in a factory ("女工宿舍",
# "下夜班的路上").
_GROWN_CHILD_RE = re.compile(r"(?:女儿|闺女|儿子)[^。！？!?\n]{0,12}?(?:上班|工作|打工|上大学|读大学|读研|男朋友|男友|女朋友|对象)"
                             r"|女工|下夜班|上夜班|夜班|车间|工友")
# A daughter or son told of as married is a grown-up: "闺女嫁到外地",
# "女儿被她婆家锁在屋里", "女婿拿皮带抽她".
_MARRIED_CHILD_RE = re.compile(r"(?:女儿|闺女|儿子)[^。！？!?\n]{0,30}?(?:嫁到|嫁给|嫁了|嫁过去|出嫁|婆家|女婿|她老公|她丈夫|她男人|儿媳|媳妇)"
                               r"|(?:女婿|亲家|孙媳妇|孙女婿)")
# Verbs right after a self word that make her the one who sees or helps, not
# the one hurt: "我帮她卷袖子", "我看他腿上全是血道子", "我问她怎么弄的"; or
# who introduces herself: "我是村调解员".
_OBSERVER_VERBS = ("帮", "问", "看", "发现", "听到", "听见", "注意到", "给她", "给他", "去敲", "陪", "是")
# Her fear right after a self word is how she feels, not who is hurt: "我吓坏了"
# beside "老板摸小女孩" leaves the child the victim.
_FEAR_WORDS = ("吓坏", "吓得", "吓死", "好怕", "害怕", "很害怕", "好害怕", "担心", "很担心", "好担心")
# Seeing a little further on makes her a witness too: "我在小区楼下看到一个小男孩…".
_WITNESS_VERBS = ("看到", "看见", "发现", "听到", "听见", "注意到", "陪床", "陪护")
_WITNESS_REACH = 8
# What a grown-up does when she is the one doing the harm.
_AGENT_ACTS = ("拿", "用", "把", "将", "对", "打", "抽", "掐", "踢", "烫", "弄", "逼", "不让", "又", "总", "老是", "天天",
               "经常", "就")
# The kind of danger that is her own suicidal intent.
SELF_HARM = "self_harm"
# He threatens to kill her, or all of them and himself: "他把煤气打开了，说大家
# 一起死", "前夫…留话说我敢再找人就一起死", "他说要拉着我和娃一起喝农药",
# "他说下次就彻底了结我". That is his violence, not her suicidal intent.
_THREAT_BY_HIM_RE = re.compile(
    r"(?:(?<!抱着)(?<!带着)他|前夫|老公|丈夫|男人|对象|男朋友|孩子他爸|那个男的)[^。！？!?\n]{0,40}?"
    r"(?:一起死|一块死|一起走|一起喝|一起跳|一起下去|同归于尽|全家一起|煤气|烧炭|了结我|了结了我|陪葬|谁也别想活)"
    # ... or said with him left out: "拿着农药瓶子在我跟前晃，说要死一起死".
    r"|(?:说|扬言|威胁)要?死一起死"
)
# Her own intent, said by her: then it stays with counselling.
OWN_INTENT_RE = re.compile(
    r"我(?:真的|也|就|都|只|是|一直)?(?:想|要|打算|准备)(?:带着?(?:孩子|娃)|跟他)?(?:一起)?"
    r"(?:死|自杀|走了|跳|割|喝农药|吃药|了结|一了百了)|我不想活|我活不下去|我就不打算活"
    r"|想往自己(?:身上|手上|胳膊上)?(?:割|划|扎|砍)"
)


def threat_by_him(text: str) -> bool:
    """True if the self-harm words are his threat against her, not her intent."""
    return _THREAT_BY_HIM_RE.search(text) is not None and OWN_INTENT_RE.search(text) is None


# A father or a step-parent hitting "him" or "her" is told of a child: "孩子
# 偷偷打电话说爸爸用衣架打她", "爸爸用衣架打的", "他爸把他关在阳台上".
_PARENT_HITS_RE = re.compile(r"(?:爸爸|他爸|她爸|继父|后爸|后妈|继母)[^，。！？,.!?]{0,6}?"
                             r"(?:(?:打|抽|踢|掐|烫)(?:他|她|的)|把(?:他|她)(?:打|抽|踢|掐|烫|关|锁|吊))")
# An old parent: "八十多了", "七十岁", "老太太"; her sons and daughters are grown.
_OLD_PARENT_RE = re.compile(r"(?:[六七八九]十|[6-9]\d)多?(?:岁|了)|老太太|老母亲|老娘|老父亲|老爷子")
_GRANDCHILDREN = ("孙子", "孙女", "外孙", "重孙")
# A child's party or feast, a place and a time rather than a person hurt.
_OCCASION_RE = re.compile(r"(?:外甥女?|外孙女?|孙子|孙女|儿子|女儿|孩子|娃|宝宝)的?(?:满月酒|满月宴|满月|百天宴|周岁宴|"
                          r"生日宴|婚礼|婚宴|喜酒|升学宴)")
# Words that name a young child whoever else is named.
_ALWAYS_YOUNG = ("小女孩", "小男孩", "小孩", "小姑娘", "婴儿", "宝宝", "幼儿", "小学生", "小娃", "女娃", "男娃",
                 "小弟弟", "小妹妹", "幼儿园")
# A child named as the one who does the harm: "儿子把她锁在", "儿子对我动手";
# or brought along by the one who does it: "带着他俩儿子来砸门".
_CHILD_AGENT_RE = re.compile(r"(?:儿子|女儿|闺女|孩子)(?:又|总|老|天天|经常|已经)?[把对将](?:她|我|他|老人|老娘|妈)"
                             r"|带着(?:他|她)?(?:俩|两个|几个|三个)?(?:儿子|女儿|闺女|孩子)来")


def _stated_age(text: str, pattern: re.Pattern) -> int:
    """The first age ``pattern`` finds in ``text`` (Arabic or Chinese numerals), 0 if none."""
    m = pattern.search(text)
    if m is None:
        return 0
    raw = next(g for g in m.groups() if g)
    if raw.isdigit():
        return int(raw)
    if "十" in raw:
        tens, _, ones = raw.partition("十")
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
            if not rest.startswith(_AGENT_ACTS) and not rest.startswith("的男朋友"):
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
        named = _OCCASION_RE.sub("", text) if "酒" in text or "宴" in text or "满月" in text else text
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
